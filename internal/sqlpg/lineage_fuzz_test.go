package sqlpg

import (
	"reflect"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// FuzzAnalyze checks, for any text, against the fixture catalog: Analyze
// never panics; its only error is a *ParseError; it is deterministic (a
// fresh analysis equals a cached one); whitespace and comments around the
// text change nothing; the number of columns of a SELECT without * is the
// length of its select list (of VALUES, of its first row); and a
// protected column selected after the text, with comment noise, is always
// masked. Seeds: testdata/fuzz/FuzzAnalyze plus the bypass corpus.
func FuzzAnalyze(f *testing.F) {
	_, cases, _ := lineageCorpus(f)
	for _, c := range cases {
		f.Add(c.sql)
	}
	_, cat, prot := lineageFixture(f)
	uncached, err := cat.Protect(lineagePatterns)
	if err != nil {
		f.Fatal(err)
	}
	uncached.cache = nil
	f.Fuzz(func(t *testing.T, sql string) {
		lin, err := Analyze(sql, cat, prot, nil)
		if err != nil {
			if !IsParseError(err) || lin != nil {
				t.Fatalf("%q: %T %v with %v", sql, err, err, lin)
			}
			return
		}
		again, err := Analyze(sql, cat, uncached, nil)
		if err != nil || !reflect.DeepEqual(renderLineage(lin, nil), renderLineage(again, nil)) {
			t.Fatalf("%q: not deterministic:\n%q\n%q (%v)", sql, renderLineage(lin, nil), renderLineage(again, nil), err)
		}
		noisy, err := Analyze("/* x */ \n\t"+sql+" \n\t", cat, prot, nil)
		if err != nil || !reflect.DeepEqual(renderLineage(lin, nil), renderLineage(noisy, nil)) {
			t.Fatalf("%q: noise changes the lineage:\n%q\n%q (%v)", sql, renderLineage(lin, nil), renderLineage(noisy, nil), err)
		}
		checkColumnCounts(t, sql, lin)

		probe, err := Analyze(sql+"\n;SELECT/*p*/ email --\n, public.customers.ssn FROM public.customers", cat, prot, nil)
		if err != nil {
			return // the text ends inside a comment or a string
		}
		last := probe.Statements[len(probe.Statements)-1]
		if len(last.Columns) != 2 || !last.Columns[0].Masked() || !last.Columns[1].Masked() {
			t.Fatalf("%q: protected columns selected after it: %+v", sql, last)
		}
	})
}

// checkColumnCounts compares each plain SELECT's column count with its
// select list (or first VALUES row) when no * or (x).* expands it.
func checkColumnCounts(t *testing.T, sql string, lin *Lineage) {
	tree, err := pg.Parse(sql)
	if err != nil || len(tree.Stmts) != len(lin.Statements) {
		t.Fatalf("%q: %d statements parsed, %d analyzed (%v)", sql, len(tree.GetStmts()), len(lin.Statements), err)
	}
	for i, raw := range tree.Stmts {
		s := raw.Stmt.GetSelectStmt()
		st := lin.Statements[i]
		if s == nil || s.IntoClause != nil || st.Opaque != "" {
			continue
		}
		for s.Larg != nil {
			s = s.Larg
		}
		want := len(s.TargetList)
		if len(s.ValuesLists) > 0 {
			want = len(s.ValuesLists[0].GetList().GetItems())
		}
		for _, n := range s.TargetList {
			if hasStar(n.GetResTarget().GetVal()) {
				want = -1
			}
		}
		if want >= 0 && len(st.Columns) != want {
			t.Fatalf("%q: statement %d has %d columns, lineage lists %d", sql, i, want, len(st.Columns))
		}
	}
}

func hasStar(n *pg.Node) bool {
	switch x := n.GetNode().(type) {
	case *pg.Node_ColumnRef:
		f := x.ColumnRef.Fields
		return len(f) > 0 && f[len(f)-1].GetAStar() != nil
	case *pg.Node_AIndirection:
		ind := x.AIndirection.Indirection
		return len(ind) > 0 && ind[len(ind)-1].GetAStar() != nil
	}
	return false
}
