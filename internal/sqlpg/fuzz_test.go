package sqlpg

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// FuzzClassify checks, for any text: Classify never panics; its only error
// is a *ParseError; a class has a Kind (read when it has no statements);
// and whitespace around the text and a leading comment change neither the
// Kind, nor the statement tags, nor whether the text parses. The seed corpus
// is testdata/fuzz/FuzzClassify plus the golden corpus.
func FuzzClassify(f *testing.F) {
	for _, sql := range goldenSQL(f) {
		f.Add(sql)
	}
	c := New(Config{CacheSize: -1})
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
		if err == nil && (cl.Kind != ncl.Kind || !slices.Equal(cl.Statements, ncl.Statements)) {
			t.Fatalf("%q: %v %q, with noise %v %q", sql, cl.Kind, cl.Statements, ncl.Kind, ncl.Statements)
		}
	})
}
