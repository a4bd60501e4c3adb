package sqlpg

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

var update = flag.Bool("update", false, "rewrite testdata/classify.tsv with the current classifications")

// goldenPath is the golden corpus; its header explains the format.
var goldenPath = filepath.Join("testdata", "classify.tsv")

// TestClassifyGolden classifies every statement of the golden corpus and
// compares kind, tags, tables and has_where (or the parse error) with the
// file. With -update it rewrites the expectations, keeping SQL and comments.
func TestClassifyGolden(t *testing.T) {
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	c := New(Config{})
	out := make([]string, 0, len(lines))
	cases := 0
	for i, line := range lines {
		if line == "" || strings.HasPrefix(line, "#") {
			out = append(out, line)
			continue
		}
		cases++
		fields := strings.Split(line, "\t")
		sql, err := decodeSQL(fields[0])
		if err != nil {
			t.Fatalf("%s:%d: %v", goldenPath, i+1, err)
		}
		cl, err := c.Classify(sql, nil)
		got := renderClass(cl, err)
		if *update {
			out = append(out, encodeSQL(sql)+"\t"+strings.Join(got, "\t"))
			continue
		}
		t.Run(fmt.Sprintf("line%03d", i+1), func(t *testing.T) {
			want := fields[1:]
			if len(want) < 2 {
				t.Fatalf("%s:%d: want at least kind and tags (run with -update)", goldenPath, i+1)
			}
			for j := range want {
				if j >= len(got) || want[j] != got[j] {
					t.Errorf("%s:%d: %q\n got: %q\nwant: %q", goldenPath, i+1, sql, got, want)
					return
				}
			}
		})
	}
	if cases < 170 {
		t.Errorf("golden corpus has %d cases, want at least 170", cases)
	}
	if *update {
		if err := os.WriteFile(goldenPath, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// renderClass renders a result as golden columns: kind, tags, tables,
// has_where; or "error" and the parse error's message.
func renderClass(cl *gate.Class, err error) []string {
	if err != nil {
		return []string{"error", err.Error()}
	}
	tables := strings.Join(cl.Tables, ",")
	if tables == "" {
		tables = "-"
	}
	where := "where"
	if !cl.HasWhere {
		where = "nowhere"
	}
	return []string{cl.Kind.String(), strings.Join(cl.Statements, ","), tables, where}
}

// decodeSQL reads the SQL column: a Go-quoted string when it starts with a
// double quote (for text with tabs or newlines), the text itself otherwise.
func decodeSQL(s string) (string, error) {
	if strings.HasPrefix(s, `"`) {
		return strconv.Unquote(s)
	}
	return s, nil
}

func encodeSQL(s string) string {
	if strings.ContainsAny(s, "\t\n\r") || strings.HasPrefix(s, `"`) || strings.HasPrefix(s, "#") ||
		strings.TrimSpace(s) != s || s == "" {
		return strconv.Quote(s)
	}
	return s
}
