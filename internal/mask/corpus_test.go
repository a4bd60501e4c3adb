package mask

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusCase is one line of testdata/corpus.tsv.
type corpusCase struct {
	line  int
	label string // a detector name or "none"
	text  string
}

func readCorpus(t testing.TB) []corpusCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "corpus.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []corpusCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		label, text, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("corpus.tsv:%d: no tab", n)
		}
		if _, known := builtinID(label); !known && label != "none" {
			t.Fatalf("corpus.tsv:%d: unknown label %q", n, label)
		}
		cases = append(cases, corpusCase{n, label, text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestCorpusPrecisionRecall runs each detector alone over the labelled
// corpus and measures, per detector, recall (labelled lines it fires on)
// and precision (lines it fires on that carry its label). It fails when the
// checksummed detectors (credit_card, iban) fall below recall 0.99 or
// precision 0.98, and logs the figures of all of them.
func TestCorpusPrecisionRecall(t *testing.T) {
	cases := readCorpus(t)
	if len(cases) < 300 {
		t.Fatalf("corpus has %d cases, want at least 300", len(cases))
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-12s %5s %5s %5s %9s %7s\n", "detector", "tp", "fp", "fn", "precision", "recall")
	for id := Detector(0); id < FirstCustom; id++ {
		name := builtinNames[id]
		m, err := New(Config{Detectors: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		var tp, fp, fn int
		for _, c := range cases {
			_, res := m.MaskText(nil, []byte(c.text), nil)
			fired := res != Clean
			switch {
			case fired && c.label == name:
				tp++
			case fired:
				fp++
				t.Logf("%s false positive, corpus.tsv:%d (%s): %q", name, c.line, c.label, c.text)
			case c.label == name:
				fn++
				t.Logf("%s miss, corpus.tsv:%d: %q", name, c.line, c.text)
			}
		}
		prec, rec := ratio(tp, tp+fp), ratio(tp, tp+fn)
		fmt.Fprintf(&table, "%-12s %5d %5d %5d %9.3f %7.3f\n", name, tp, fp, fn, prec, rec)
		if id == CreditCard || id == IBAN {
			if rec < 0.99 || prec < 0.98 {
				t.Errorf("%s: precision %.3f recall %.3f, want >= 0.98 and >= 0.99", name, prec, rec)
			}
		}
	}
	t.Log("\n" + table.String())
}

// TestCorpusAllDetectors masks every line with all detectors on: a labelled
// line must be masked and counted under its label (the winner when spans
// overlap), a "none" line must come out unchanged.
func TestCorpusAllDetectors(t *testing.T) {
	m, err := New(Config{Detectors: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	wrong := 0
	for _, c := range readCorpus(t) {
		var counts Counts
		out, res := m.MaskText(nil, []byte(c.text), &counts)
		if c.label == "none" {
			if res != Clean {
				wrong++
				t.Logf("corpus.tsv:%d: none masked: %q -> %q", c.line, c.text, out)
			}
			continue
		}
		id, _ := builtinID(c.label)
		if counts[id] == 0 {
			wrong++
			t.Logf("corpus.tsv:%d: %s not counted: %q -> %q", c.line, c.label, c.text, out)
		}
	}
	t.Logf("%d lines disagree with their label (precision and recall are in TestCorpusPrecisionRecall)", wrong)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}
