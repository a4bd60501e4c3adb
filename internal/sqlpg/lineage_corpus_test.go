package sqlpg

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lineageCorpusPath is the bypass corpus; its header explains the format.
var lineageCorpusPath = filepath.Join("testdata", "lineage_bypass.txt")

// corpusCase is one line of the corpus.
type corpusCase struct {
	line int
	sql  string
	want []string // columns, predicates, writes
}

// lineageCorpus reads the corpus: its patterns, its cases, and all its
// lines (for -update).
func lineageCorpus(t testing.TB) (patterns []string, cases []corpusCase, lines []string) {
	t.Helper()
	data, err := os.ReadFile(lineageCorpusPath)
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, line := range lines {
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "% protect\t"):
			patterns = strings.Split(strings.TrimPrefix(line, "% protect\t"), ",")
		default:
			fields := strings.Split(line, "\t")
			sql, err := decodeSQL(fields[0])
			if err != nil {
				t.Fatalf("%s:%d: %v", lineageCorpusPath, i+1, err)
			}
			cases = append(cases, corpusCase{line: i + 1, sql: sql, want: fields[1:]})
		}
	}
	if patterns == nil {
		t.Fatalf("%s: no %% protect line", lineageCorpusPath)
	}
	return patterns, cases, lines
}

// renderLineage renders a result as corpus columns.
func renderLineage(lin *Lineage, err error) []string {
	if err != nil {
		return []string{"error: " + err.Error(), "-", "-"}
	}
	var stmts []string
	for _, s := range lin.Statements {
		var cols string
		switch {
		case s.Opaque != "":
			cols = "opaque"
		case s.Columns == nil:
			cols = "none"
		default:
			parts := make([]string, len(s.Columns))
			for i, c := range s.Columns {
				parts[i] = renderColumn(c)
			}
			cols = strings.Join(parts, " | ")
		}
		stmts = append(stmts, s.Tag+": "+cols)
	}
	list := func(s []string) string {
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, ",")
	}
	return []string{strings.Join(stmts, " ; "), list(lin.MaskedPredicates), list(lin.MaskedWrites)}
}

func renderColumn(c OutputColumn) string {
	var srcs []string
	for _, s := range c.Sources {
		srcs = append(srcs, s.String())
	}
	out := strings.Join(srcs, ",")
	if c.Unresolved {
		out = "?" + out
	}
	if out == "" {
		out = "-"
	}
	return out
}

// TestLineageCorpus analyzes every case of the bypass corpus against the
// fixture schema and compares the lineage with the file. With -update it
// rewrites the expectations.
func TestLineageCorpus(t *testing.T) {
	patterns, cases, lines := lineageCorpus(t)
	_, cat, _ := lineageFixture(t)
	prot, err := cat.Protect(patterns)
	if err != nil {
		t.Fatal(err)
	}
	if len(prot.Warnings) > 0 {
		t.Errorf("corpus patterns: %q", prot.Warnings)
	}
	if len(cases) < 90 {
		t.Errorf("corpus has %d cases, want at least 90", len(cases))
	}
	if *update {
		for _, c := range cases {
			lin, err := Analyze(c.sql, cat, prot, nil)
			lines[c.line-1] = encodeSQL(c.sql) + "\t" + strings.Join(renderLineage(lin, err), "\t")
		}
		if err := os.WriteFile(lineageCorpusPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("line%03d", c.line), func(t *testing.T) {
			lin, err := Analyze(c.sql, cat, prot, nil)
			got := renderLineage(lin, err)
			if strings.Join(got, "\t") != strings.Join(c.want, "\t") {
				t.Errorf("%s:%d: %s\n got: %q\nwant: %q", lineageCorpusPath, c.line, c.sql, got, c.want)
			}
		})
	}
}
