package sqlcomment

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

var update = flag.Bool("update", false, "rewrite the expectations in testdata/extract.txt")

const goldenFile = "testdata/extract.txt"

// TestGolden runs every case of testdata/extract.txt as a subtest.
func TestGolden(t *testing.T) {
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			t.Fatalf("%s:%d: want 6 tab-separated fields, got %d", goldenFile, n, len(f))
		}
		name, dialect := f[0], PostgreSQL
		switch f[1] {
		case "pg":
		case "mysql":
			dialect = MySQL
		default:
			t.Fatalf("%s:%d: unknown dialect %q", goldenFile, n, f[1])
		}
		if seen[name] {
			t.Fatalf("%s:%d: duplicate case name %q", goldenFile, n, name)
		}
		seen[name] = true
		var q [4]string
		for i := range q {
			if q[i], err = strconv.Unquote(f[2+i]); err != nil {
				t.Fatalf("%s:%d: field %d: %v", goldenFile, n, 3+i, err)
			}
		}
		got := dialect.Extract(q[0])
		fmt.Fprintf(&out, "%s\t%s\t%s\t%s\t%s\t%s\n", name, f[1], f[2], strconv.Quote(got.Reason), strconv.Quote(got.TraceID), strconv.Quote(got.SpanID))
		t.Run(name, func(t *testing.T) {
			want := gate.Request{Reason: q[1], TraceID: q[2], SpanID: q[3]}
			if got != want && !*update {
				t.Errorf("%s:%d: %s.Extract(%q)\n got %+v\nwant %+v", goldenFile, n, dialect, q[0], got, want)
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenFile, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
