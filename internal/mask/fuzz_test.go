package mask

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// fuzzMaskers are the maskers FuzzMaskText checks: every detector and a
// custom pattern, under each strategy but null.
func fuzzMaskers(t testing.TB) (redact, partial, hash *Masker) {
	mk := func(s string) *Masker {
		m, err := New(Config{Detectors: []string{"all"}, Strategy: s, Key: testKey,
			Custom: []CustomPattern{{"employee_id", `EMP-[0-9]{6}`}}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	return mk("redact"), mk("partial"), mk("hash")
}

func addCorpusSeeds(f *testing.F) {
	for _, c := range readCorpus(f) {
		f.Add(c.text)
	}
	for _, s := range samples {
		f.Add(s.text)
	}
}

// FuzzMaskText checks, for any text:
//   - MaskText never panics and appends to dst without touching its prefix;
//   - Clean means the text was copied unchanged;
//   - redact and hash are complete: their output re-scanned finds nothing;
//   - partial never reveals more when applied again: the letters and digits
//     of the second output are a subsequence of the first's (it may mask
//     more: a card's last four digits can read as the start of an IPv6
//     address with the text after them);
//   - the output grows by at most 80 bytes per masked span.
func FuzzMaskText(f *testing.F) {
	addCorpusSeeds(f)
	redact, partial, hash := fuzzMaskers(f)
	f.Fuzz(func(t *testing.T, text string) {
		in := []byte(text)
		for _, m := range []*Masker{redact, partial, hash} {
			var c Counts
			out, res := m.MaskText([]byte("dst:"), in, &c)
			if !bytes.HasPrefix(out, []byte("dst:")) {
				t.Fatalf("dst prefix lost")
			}
			out = out[4:]
			switch res {
			case Clean:
				if !bytes.Equal(out, in) || c.Total() != 0 {
					t.Fatalf("Clean but changed: %q -> %q", in, out)
				}
				continue
			case Nulled:
				t.Fatalf("Nulled without a null strategy")
			}
			if c.Total() == 0 {
				t.Fatalf("Masked without a count")
			}
			if len(out) > len(in)+80*int(c.Total()) {
				t.Fatalf("output grew from %d to %d bytes for %d spans", len(in), len(out), c.Total())
			}
			again, res2 := m.MaskText(nil, out, nil)
			if m == partial {
				if !alnumSubsequence(again, out) {
					t.Fatalf("partial revealed more when applied again:\n in %q\nout %q\nagain %q", in, out, again)
				}
			} else if res2 != Clean {
				t.Fatalf("re-scan found something:\n in %q\nout %q\nagain %q", in, out, again)
			}
		}
	})
}

// FuzzScanners checks each built-in scanner's contract on any text: spans
// lie within the text, start at or after from, are not empty, come in
// order, and the card and SSN spans hold numbers that pass their checks.
func FuzzScanners(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, text string) {
		s := []byte(text)
		for id, sc := range builtinScanners {
			for from, n := 0, 0; from <= len(s) && n < 10000; n++ {
				st, end := sc.next(s, from)
				if st < 0 {
					break
				}
				if st < from || end <= st || end > len(s) {
					t.Fatalf("%s: span [%d,%d) from %d in %d bytes", builtinNames[id], st, end, from, len(s))
				}
				switch Detector(id) {
				case CreditCard:
					var d [32]byte
					k := 0
					for i := st; i < end; {
						v, w := digitAt(s, i)
						if w == 0 {
							i++
							continue
						}
						if k == len(d) {
							t.Fatalf("card with over 32 digits: %q", s[st:end])
						}
						d[k] = v
						k++
						i += w
					}
					if k < 13 || k > 19 || !luhn(d[:k]) {
						t.Fatalf("card span %q: %d digits", s[st:end], k)
					}
				case SSN:
					var d [9]byte
					k := 0
					for i := st; i < end; {
						v, w := digitAt(s, i)
						if w == 0 {
							i++
							continue
						}
						if k < 9 {
							d[k] = v
						}
						k++
						i += w
					}
					if k != 9 || !ssnValid(&d) {
						t.Fatalf("ssn span %q", s[st:end])
					}
				}
				from = end
			}
		}
	})
}

// FuzzColumnMask checks whole-value masking: JSON columns always get valid
// JSON, text columns valid UTF-8 when the value was, other types NULL.
func FuzzColumnMask(f *testing.F) {
	addCorpusSeeds(f)
	f.Add(`"a\"b"`)
	f.Add(`{"email":"a@example.com"}`)
	m, err := New(Config{Key: testKey, Strategies: map[string]string{"t.p": "partial", "t.h": "hash", "t.r": "redact"}})
	if err != nil {
		f.Fatal(err)
	}
	cols := []Column{m.Column("t.p"), m.Column("t.h"), m.Column("t.r")}
	f.Fuzz(func(t *testing.T, v string) {
		for _, c := range cols {
			for _, oid := range []uint32{oidText, oidBPChar, oidJSON, oidJSONB, 23} {
				out, res := c.Mask(nil, oid, []byte(v))
				if !HoldsText(oid) {
					if res != Nulled || len(out) != 0 {
						t.Fatalf("oid %d not nulled", oid)
					}
					continue
				}
				if res != Masked {
					t.Fatalf("%v on oid %d: %v", c.Strategy(), oid, res)
				}
				if (oid == oidJSON || oid == oidJSONB) && !json.Valid(out) {
					t.Fatalf("%v: invalid JSON %q from %q", c.Strategy(), out, v)
				}
				if utf8.ValidString(v) && !utf8.Valid(out) {
					t.Fatalf("%v: invalid UTF-8 %q from %q", c.Strategy(), out, v)
				}
			}
		}
	})
}

// alnumSubsequence reports whether the ASCII letters and digits of a appear
// in b in the same order.
func alnumSubsequence(a, b []byte) bool {
	j := 0
	for _, c := range a {
		if !isAlnum(c) {
			continue
		}
		for j < len(b) && b[j] != c {
			j++
		}
		if j == len(b) {
			return false
		}
		j++
	}
	return true
}
