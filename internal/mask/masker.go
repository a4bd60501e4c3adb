package mask

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// Masker masks sensitive values for one policy. It is immutable after New
// and safe for concurrent use.
type Masker struct {
	dets     []detector // enabled, built-ins in id order then custom patterns
	def      Strategy
	strategy [32]Strategy // per Detector
	names    [32]string
	labels   [32]string
	prio     [32]int
	columns  []columnRule
	key      []byte // nil unless some strategy is hash
	macs     sync.Pool
	maxLine  int
	// noPrefilter runs every scanner on every value (tests compare).
	noPrefilter bool
}

type detector struct {
	id Detector
	sc scanner
}

var builtinScanners = [FirstCustom]scanner{
	Email:      emailScanner{},
	Phone:      phoneScanner{},
	CreditCard: cardScanner{},
	SSN:        ssnScanner{},
	IBAN:       ibanScanner{},
	IP:         ipScanner{},
	Secret:     secretScanner{},
}

// New compiles cfg. Validation errors name the bad detector, strategy,
// column or pattern.
func New(cfg Config) (*Masker, error) {
	m := &Masker{}
	if err := m.compile(cfg); err != nil {
		return nil, err
	}
	if m.key != nil {
		key := m.key
		m.macs.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	}
	return m, nil
}

// Name returns the configuration name of detector d ("email",
// "employee_id"), or "" when d is not one of m's.
func (m *Masker) Name(d Detector) string {
	if int(d) < len(m.names) {
		return m.names[d]
	}
	return ""
}

// Detectors returns the ids of the enabled detectors, built-ins first.
func (m *Masker) Detectors() []Detector {
	ids := make([]Detector, len(m.dets))
	for i, d := range m.dets {
		ids[i] = d.id
	}
	return ids
}

// Tally adds c's non-zero counts to dst under "detector:NAME", the keys of
// gate.Outcome.Masked.
func (m *Masker) Tally(dst map[string]int64, c *Counts) {
	for id, n := range c {
		if n != 0 && m.names[id] != "" {
			dst["detector:"+m.names[id]] += n
		}
	}
}

// Result says what MaskText or Column.Mask did to a value.
type Result uint8

const (
	// Clean: nothing was detected; the value was appended unchanged.
	Clean Result = iota
	// Masked: the masked value was appended.
	Masked
	// Nulled: the value must be sent as SQL NULL; nothing was appended.
	Nulled
)

// MaskText runs the enabled detectors over the free-text value src and
// appends it to dst with every match masked by its detector's strategy; the
// text around the matches is kept byte for byte. When a match's strategy is
// null the whole value is NULL: MaskText returns dst unchanged and Nulled.
// Matches of different detectors that overlap are masked as one span with
// the strategy of the highest-priority detector among them (secret, iban,
// credit_card, ssn, email, phone, ip, then custom patterns), or null if any
// of them is null. c, when not nil, counts one per masked span (or the one
// span that nulled the value) under the winning detector.
//
// MaskText does not allocate when nothing matches and dst has room for src;
// masking allocates only to grow dst (and a custom pattern's match). src is
// only read and may alias nothing in dst's spare capacity.
//
// Masking changes the context of the text after a match (a label ends in
// '>', where the original had, say, a digit), and that can turn what
// follows into a match ("51238+10000000000000": after "<PHONE>" the '+'
// starts a phone number). MaskText therefore re-scans what it wrote and
// masks again, up to three more passes, until nothing more is found or the
// text no longer changes; so an output of redact or hash holds nothing a
// detector flags. The re-scan costs a second pass over masked values only;
// a further pass, needed rarely, allocates.
func (m *Masker) MaskText(dst, src []byte, c *Counts) ([]byte, Result) {
	base := len(dst)
	out, res := m.maskOnce(dst, src, c)
	for pass := 0; pass < 3 && res == Masked && m.detects(out[base:]); pass++ {
		var more Counts
		again, r := m.maskOnce(nil, out[base:], &more)
		if r != Nulled && bytes.Equal(again, out[base:]) {
			break // a partial form that masks to itself
		}
		if c != nil {
			c.Add(&more)
		}
		if r == Nulled {
			return out[:base], Nulled
		}
		out = append(out[:base], again...)
	}
	return out, res
}

// detects reports whether any enabled detector finds a match in s.
func (m *Masker) detects(s []byte) bool {
	for _, d := range m.dets {
		if st, _ := d.sc.next(s, 0); st >= 0 {
			return true
		}
	}
	return false
}

// maskOnce is one masking pass of MaskText.
func (m *Masker) maskOnce(dst, src []byte, c *Counts) ([]byte, Result) {
	n := len(m.dets)
	if n == 0 {
		return append(dst, src...), Clean
	}
	var next [32]span
	f := features(src)
	for k, d := range m.dets {
		if !m.noPrefilter && !possible(d.id, f, len(src)) {
			next[k].start, next[k].end = -1, -1 // cannot match: never scanned
			continue
		}
		next[k].start, next[k].end = d.sc.next(src, 0)
	}
	base, pos, res := len(dst), 0, Clean
	for {
		// The earliest pending match.
		first := -1
		for k := 0; k < n; k++ {
			if next[k].start >= 0 && (first < 0 || next[k].start < next[first].start) {
				first = k
			}
		}
		if first < 0 {
			break
		}
		start, end, win := next[first].start, next[first].end, first
		null := m.strategy[m.dets[first].id] == Null
		// Merge every pending match that overlaps the span, advancing the
		// detectors whose match was merged, until none overlaps.
		for merged := true; merged; {
			merged = false
			for k := 0; k < n; k++ {
				if next[k].start < 0 || next[k].start >= end {
					continue
				}
				if next[k].end > end {
					end = next[k].end
				}
				id := m.dets[k].id
				if m.prio[id] > m.prio[m.dets[win].id] {
					win = k
				}
				null = null || m.strategy[id] == Null
				from := next[k].end
				if from <= next[k].start {
					from = next[k].start + 1 // an empty match must not stall
				}
				next[k].start, next[k].end = m.dets[k].sc.next(src, from)
				merged = true
			}
		}
		id := m.dets[win].id
		if c != nil {
			c[id]++
		}
		if null {
			return dst[:base], Nulled
		}
		dst = append(dst, src[pos:start]...)
		st := m.strategy[id]
		if st == Partial && (id == CreditCard || id == SSN || id == Phone || id == IBAN) {
			if _, _, joined := joinAt(src, end); joined {
				// The hint's last digits would join the digits that follow
				// into a new number: mask them too.
				dst = m.partialNoHint(dst, id, src[start:end])
				pos, res = end, Masked
				continue
			}
		}
		dst = m.apply(dst, id, st, src[start:end])
		pos, res = end, Masked
	}
	return append(dst, src[pos:]...), res
}

// macState is a pooled HMAC with buffers that keep hashing off the heap.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
	buf [64]byte
}
