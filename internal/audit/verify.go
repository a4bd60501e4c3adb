package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// What Verify can and cannot detect.
//
// Within the records it reads, Verify detects any change, insertion,
// removal or reordering: every record's hash covers its content and the
// previous record's hash, and seqs must run 1, 2, 3... without a gap.
//
// It cannot, on its own, detect the removal of the newest records of a
// chain (truncating the tail), nor a rewrite of a chain from some record to
// its end with all hashes recomputed: what is left is a valid, shorter or
// different chain. Both are detected only against a head recorded earlier
// outside the store (an anchor): print the heads of a Report regularly to
// somewhere the database's administrators cannot rewrite (a ticket, a
// transparency log, a signed commit) and pass them back to Verify.

// Reason says what is wrong with a record.
type Reason string

const (
	// ReasonMissing: the seq is absent (a record was removed).
	ReasonMissing Reason = "missing"
	// ReasonLink: prev_hash is not the previous record's hash (records
	// were reordered, or the previous one was rewritten with a new hash).
	ReasonLink Reason = "link"
	// ReasonHash: the content does not hash to the stored hash (changed).
	ReasonHash Reason = "hash"
	// ReasonBody: the body does not decode.
	ReasonBody Reason = "body"
	// ReasonIndex: an index column (connection, subject, trace_id, action)
	// disagrees with the body; those columns are not hashed, so they are
	// checked against it.
	ReasonIndex Reason = "index"
	// ReasonAnchor: the record's hash differs from an anchored head.
	ReasonAnchor Reason = "anchor"
	// ReasonTruncated: the chain ends before an anchored head.
	ReasonTruncated Reason = "truncated"
)

// Problem is the first bad record of a chain.
type Problem struct {
	Chain  string
	Seq    int64
	Reason Reason
	Detail string
}

func (p *Problem) String() string {
	return fmt.Sprintf("chain %q seq %d: %s: %s", p.Chain, p.Seq, p.Reason, p.Detail)
}

// Head is a chain's newest record, as printed for external anchoring:
//
//	chain=node-1 seq=42 sha256=9f86d081884c7d65...
type Head struct {
	Chain string
	Seq   int64
	Hash  []byte
}

func (h Head) String() string {
	return "chain=" + strconv.Quote(h.Chain) + " seq=" + strconv.FormatInt(h.Seq, 10) + " sha256=" + hex.EncodeToString(h.Hash)
}

// ParseHead parses Head.String's output.
func ParseHead(s string) (Head, error) {
	var h Head
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "chain=")
	if !ok {
		return h, fmt.Errorf("audit: head %q: want chain=\"NAME\" seq=N sha256=HEX", s)
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return h, fmt.Errorf("audit: head %q: chain name must be quoted", s)
	}
	h.Chain, _ = strconv.Unquote(q)
	var hashHex string
	if _, err := fmt.Sscanf(rest[len(q):], " seq=%d sha256=%s", &h.Seq, &hashHex); err != nil {
		return h, fmt.Errorf("audit: head %q: want chain=\"NAME\" seq=N sha256=HEX", s)
	}
	if h.Hash, err = hex.DecodeString(hashHex); err != nil || len(h.Hash) != len(genesis) || h.Seq < 1 {
		return h, fmt.Errorf("audit: head %q: want seq >= 1 and a 64-digit sha256", s)
	}
	return h, nil
}

// ChainReport is the result for one chain.
type ChainReport struct {
	Chain   string
	Records int64
	// Head is the newest record read (zero Seq for an empty chain). After a
	// problem the walk goes on, so Head is the real end of the chain.
	Head Head
	// Problem is the chain's first bad record, nil if none.
	Problem *Problem
}

// Report is the result of Verify.
type Report struct {
	Chains []ChainReport // sorted by name
}

// OK reports whether no chain has a problem.
func (r Report) OK() bool { return r.First() == nil }

// First returns the first problem, in chain-name order, or nil.
func (r Report) First() *Problem {
	for _, c := range r.Chains {
		if c.Problem != nil {
			return c.Problem
		}
	}
	return nil
}

// Verify walks chain ("" = every chain in the store, and every chain
// named by an anchor) in seq order and checks seq continuity, prev_hash
// links, each record's hash and its index columns, and that each anchor's
// record is present with the anchored hash. Problems are reported in the
// Report; the error is for failing to read the store. Verify reads while
// recorders append; records committed meanwhile may or may not be checked.
func Verify(ctx context.Context, st store.Store, chain string, anchors ...Head) (Report, error) {
	var chains []string
	if chain != "" {
		chains = []string{chain}
	} else {
		var err error
		if chains, err = st.Chains(ctx); err != nil {
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		for _, a := range anchors {
			if !slices.Contains(chains, a.Chain) {
				chains = append(chains, a.Chain)
			}
		}
		slices.Sort(chains)
	}
	var rep Report
	for _, c := range chains {
		var mine []Head
		for _, a := range anchors {
			if a.Chain == c {
				mine = append(mine, a)
			}
		}
		cr, err := verifyChain(ctx, st, c, mine)
		if err != nil {
			return rep, err
		}
		rep.Chains = append(rep.Chains, cr)
	}
	return rep, nil
}

func verifyChain(ctx context.Context, st store.Store, chain string, anchors []Head) (ChainReport, error) {
	cr := ChainReport{Chain: chain, Head: Head{Chain: chain}}
	flag := func(seq int64, reason Reason, format string, args ...any) {
		if cr.Problem == nil {
			cr.Problem = &Problem{Chain: chain, Seq: seq, Reason: reason, Detail: fmt.Sprintf(format, args...)}
		}
	}
	want, prev := int64(1), genesis
	for rec, err := range st.Scan(ctx, chain, 0) {
		if err != nil {
			return cr, fmt.Errorf("audit: verify chain %q: %w", chain, err)
		}
		switch {
		case rec.Seq != want && want == 1:
			flag(want, ReasonMissing, "the chain starts at seq %d: %d record(s) removed", rec.Seq, rec.Seq-want)
		case rec.Seq != want:
			flag(want, ReasonMissing, "seq %d is followed by seq %d: %d record(s) removed", want-1, rec.Seq, rec.Seq-want)
		}
		if !bytes.Equal(rec.PrevHash, prev) {
			flag(rec.Seq, ReasonLink, "prev_hash %x is not the hash of the record before it (%x): records reordered, removed or rewritten", rec.PrevHash, prev)
		}
		if h := hashRecord(&rec); !bytes.Equal(h, rec.Hash) {
			flag(rec.Seq, ReasonHash, "content hashes to %x, stored hash is %x: the record was changed", h, rec.Hash)
		}
		checkBody(&rec, func(reason Reason, format string, args ...any) { flag(rec.Seq, reason, format, args...) })
		for _, a := range anchors {
			if a.Seq == rec.Seq && !bytes.Equal(a.Hash, rec.Hash) {
				flag(rec.Seq, ReasonAnchor, "hash %x differs from the anchored %x: the chain was rewritten from here or earlier", rec.Hash, a.Hash)
			}
		}
		cr.Records++
		cr.Head = Head{Chain: chain, Seq: rec.Seq, Hash: rec.Hash}
		want, prev = rec.Seq+1, rec.Hash
	}
	for _, a := range anchors {
		if a.Seq > cr.Head.Seq {
			flag(a.Seq, ReasonTruncated, "the chain ends at seq %d but seq %d was anchored: the newest records were removed", cr.Head.Seq, a.Seq)
		}
	}
	return cr, nil
}

// checkBody decodes a record's body and compares the index columns with
// what the recorder would have derived from it.
func checkBody(rec *store.Record, flag func(Reason, string, ...any)) {
	k := gate.ParseEventKind(rec.Kind)
	if k == 0 {
		flag(ReasonBody, "unknown kind %q", rec.Kind)
		return
	}
	b, err := decodeBody(rec.Body)
	if err != nil {
		flag(ReasonBody, "body does not decode: %v", err)
		return
	}
	conn, sub, trace, action := indexColumns(k, &b)
	got := [4]string{rec.Connection, rec.Subject, rec.TraceID, rec.Action}
	want := [4]string{conn, sub, trace, action}
	names := [4]string{"connection", "subject", "trace_id", "action"}
	for i := range got {
		if got[i] != want[i] {
			flag(ReasonIndex, "column %s is %q, the body says %q", names[i], got[i], want[i])
			return
		}
	}
}
