package mask

import (
	"bytes"
	"testing"
)

// FuzzPrefilter: the prefilter never changes a result.
func FuzzPrefilter(f *testing.F) {
	for _, s := range []string{
		"bob@example.org", "call +1 555 0100", "4111 1111 1111 1111", "１２３-４５-６７８９",
		"DE89370400440532013000", "10.0.0.1", "fe80::1", "postgres://u:pw@h/db", "AKIAIOSFODNN7EXAMPLE",
		"ghp_abcdefghijklmnopqrstuvwxyz0123456789", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
		"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----", "Oslo", "regular order, no issues",
	} {
		f.Add([]byte(s))
	}
	with, err := New(Config{Detectors: []string{"all"}, Strategy: "redact", Custom: []CustomPattern{{Name: "emp", Pattern: `EMP-[0-9]{6}`}}})
	if err != nil {
		f.Fatal(err)
	}
	without, _ := New(Config{Detectors: []string{"all"}, Strategy: "redact", Custom: []CustomPattern{{Name: "emp", Pattern: `EMP-[0-9]{6}`}}})
	without.noPrefilter = true
	f.Fuzz(func(t *testing.T, s []byte) {
		var c1, c2 Counts
		a, r1 := with.MaskText(nil, s, &c1)
		b, r2 := without.MaskText(nil, s, &c2)
		if r1 != r2 || !bytes.Equal(a, b) || c1 != c2 {
			t.Fatalf("prefilter changed the result of %q: %q/%v vs %q/%v", s, a, r1, b, r2)
		}
	})
}

// The labelled corpus gives the same results with and without the
// prefilter.
func TestPrefilterOnCorpus(t *testing.T) {
	with, _ := New(Config{Detectors: []string{"all"}, Strategy: "redact"})
	without, _ := New(Config{Detectors: []string{"all"}, Strategy: "redact"})
	without.noPrefilter = true
	cases := readCorpus(t)
	if len(cases) < 300 {
		t.Fatalf("corpus has %d cases", len(cases))
	}
	for _, c := range cases {
		a, r1 := with.MaskText(nil, []byte(c.text), nil)
		b, r2 := without.MaskText(nil, []byte(c.text), nil)
		if r1 != r2 || !bytes.Equal(a, b) {
			t.Errorf("%q: %q vs %q", c.text, a, b)
		}
	}
}
