package sqlpg

import (
	"reflect"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// FuzzClassify checks, for any text: Classify never panics; its only error
// is a *ParseError; a class has a Kind (read when it has no statements);
// whitespace around the text and a leading comment change neither the
// Kind, nor the statement tags, nor whether the text parses; a DELETE
// appended after the text is always seen (kind at least write, one more
// tag); and the cache answers as a fresh classification does. The seed
// corpus is testdata/fuzz/FuzzClassify plus the golden corpus.
func FuzzClassify(f *testing.F) {
	for _, sql := range goldenSQL(f) {
		f.Add(sql)
	}
	c := New(Config{CacheSize: -1})
	cached := New(Config{CacheSize: 64})
	f.Fuzz(func(t *testing.T, sql string) {
		cl, err := c.Classify(sql, nil)
		check := func(what string, cl *gate.Class, err error) {
			if err != nil {
				if !IsParseError(err) || cl != nil {
					t.Fatalf("%s %q: %T %v with class %v", what, sql, err, err, cl)
				}
				return
			}
			if cl == nil || cl.Kind == 0 || len(cl.Statements) == 0 && cl.Kind != gate.KindRead {
				t.Fatalf("%s %q: class %+v", what, sql, cl)
			}
		}
		check("plain", cl, err)
		noisy := "/* x */ \n\t" + sql + " \n\t"
		ncl, nerr := c.Classify(noisy, nil)
		check("noisy", ncl, nerr)
		if (err == nil) != (nerr == nil) {
			t.Fatalf("%q: error %v, with noise %v", sql, err, nerr)
		}
		if err != nil {
			return
		}
		if cl.Kind != ncl.Kind || !slices.Equal(cl.Statements, ncl.Statements) {
			t.Fatalf("%q: %v %q, with noise %v %q", sql, cl.Kind, cl.Statements, ncl.Kind, ncl.Statements)
		}
		hidden := sql + "\n;\nDELETE FROM fuzz_hidden"
		hcl, herr := c.Classify(hidden, nil)
		if herr != nil {
			t.Fatalf("%q parses but not followed by a DELETE: %v", sql, herr)
		}
		if hcl.Kind != gate.Max(cl.Kind, gate.KindWrite) || len(hcl.Statements) != len(cl.Statements)+1 ||
			hcl.Statements[len(cl.Statements)] != "DELETE" || hcl.HasWhere {
			t.Fatalf("%q followed by a DELETE: %+v (alone %+v)", sql, hcl, cl)
		}
		for range 2 {
			ccl, cerr := cached.Classify(sql, nil)
			if cerr != nil || !reflect.DeepEqual(ccl, cl) {
				t.Fatalf("%q: cached %+v %v, fresh %+v", sql, ccl, cerr, cl)
			}
		}
	})
}
