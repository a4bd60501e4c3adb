package sqlpg

import (
	"slices"
	"strings"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// mustClassify classifies sql with a fresh uncached classifier.
func mustClassify(t *testing.T, cfg Config, sql string) *gate.Class {
	t.Helper()
	cfg.CacheSize = -1
	cl, err := New(cfg).Classify(sql, nil)
	if err != nil {
		t.Fatalf("Classify(%q): %v", sql, err)
	}
	return cl
}

func TestHasWhere(t *testing.T) {
	cases := []struct {
		sql  string
		want bool
	}{
		{"SELECT * FROM t", true},
		{"INSERT INTO t VALUES (1)", true},
		{"UPDATE t SET a = 1 WHERE id = 1", true},
		{"UPDATE t SET a = 1", false},
		{"UPDATE t SET a = 1 WHERE true", false},
		{"UPDATE t SET a = 1 WHERE 1 = 1", false},
		{"UPDATE t SET a = 1 WHERE 'a' = 'a' AND 2 > 1", false},
		{"UPDATE t SET a = 1 WHERE id = 1 OR 1 = 1", false},
		{"UPDATE t SET a = 1 WHERE id = 1 OR name = 'x'", true},
		{"UPDATE t SET a = 1 WHERE id = 1 AND true", true},
		{"UPDATE t SET a = 1 WHERE NOT (id = 1)", true},
		{"UPDATE t SET a = 1 WHERE id IS NOT NULL", true},
		{"UPDATE t SET a = 1 WHERE lower(name) = 'x'", true},
		{"UPDATE t SET a = 1 WHERE $1::bool", false},
		{"UPDATE t SET a = 1 WHERE now() > '2020-01-01'", false},
		{"DELETE FROM t", false},
		{"DELETE FROM t WHERE id = $1", true},
		{"DELETE FROM t WHERE CURRENT OF cur", true},
		{"DELETE FROM t WHERE (SELECT count(*) FROM u) > 0", false},
		{"DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = 1)", false},
		{"DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a)", true},
		{"DELETE FROM t AS x WHERE EXISTS (SELECT 1 FROM u WHERE u.a = x.a)", true},
		{"DELETE FROM t WHERE id IN (SELECT id FROM u)", true},
		{"DELETE FROM t USING u WHERE u.id = t.id", true},
		{"TRUNCATE t", false},
		{"SELECT 1; DELETE FROM t WHERE id = 1; UPDATE u SET a = 1", false},
		{"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", false},
		{"WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d", true},
		{"EXPLAIN DELETE FROM t", true},
		{"EXPLAIN ANALYZE DELETE FROM t", false},
		{"PREPARE p AS DELETE FROM t", false},
		{"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", true},
		{"MERGE INTO t USING s ON true WHEN MATCHED THEN UPDATE SET a = 1", false},
		{"MERGE INTO t USING s ON true WHEN NOT MATCHED THEN INSERT VALUES (1)", true},
		{"MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED BY SOURCE THEN DELETE", false},
		{"MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED BY SOURCE AND t.old THEN DELETE", true},
		{"COPY (DELETE FROM t RETURNING *) TO STDOUT", false},
	}
	for _, tc := range cases {
		if got := mustClassify(t, Config{}, tc.sql).HasWhere; got != tc.want {
			t.Errorf("HasWhere(%q) = %v, want %v", tc.sql, got, tc.want)
		}
	}
}

func TestTables(t *testing.T) {
	cases := []struct {
		schema string
		sql    string
		want   []string
	}{
		{"", "SELECT * FROM b, a, b", []string{"public.a", "public.b"}},
		{"app", "SELECT * FROM t JOIN other.u ON true", []string{"app.t", "other.u"}},
		{"", "SELECT * FROM db.s.t", []string{"s.t"}},
		{"", `SELECT * FROM "Mixed Case", "a""b", "x.y"`, []string{`public."Mixed Case"`, `public."a""b"`, `public."x.y"`}},
		{"", "SELECT * FROM pg_class, pg_catalog.pg_proc, information_schema.columns",
			[]string{"information_schema.columns", "pg_catalog.pg_class", "pg_catalog.pg_proc"}},
		{"", "CREATE TEMP TABLE tmp (a int)", []string{"pg_temp.tmp"}},
		// CTE names are not tables; a CTE only shadows unqualified names in its scope.
		{"", "WITH c AS (SELECT * FROM real) SELECT * FROM c, public.c", []string{"public.c", "public.real"}},
		{"", "WITH c AS (SELECT * FROM c) SELECT * FROM c", []string{"public.c"}},
		{"", "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b", []string{"public.b"}},
		{"", "WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", nil},
		{"", "SELECT * FROM (WITH c AS (SELECT 1) SELECT * FROM c) s JOIN c ON true", []string{"public.c"}},
		{"", "WITH c AS (SELECT 1) SELECT * FROM t WHERE EXISTS (SELECT 1 FROM c)", []string{"public.t"}},
		{"", "WITH c AS (SELECT 1) DELETE FROM c", []string{"public.c"}},
		{"", "WITH c AS (SELECT 1) MERGE INTO t USING c ON true WHEN MATCHED THEN DELETE", []string{"public.t"}},
		{"", "INSERT INTO a SELECT * FROM b WHERE id IN (SELECT id FROM c)", []string{"public.a", "public.b", "public.c"}},
		{"", "SELECT 1", nil},
	}
	for _, tc := range cases {
		got := mustClassify(t, Config{DefaultSchema: tc.schema}, tc.sql).Tables
		if !slices.Equal(got, tc.want) {
			t.Errorf("Tables(%q) = %q, want %q", tc.sql, got, tc.want)
		}
	}
}

func TestFunctionsAndNotes(t *testing.T) {
	cases := []struct {
		sql   string
		kind  gate.Kind
		funcs []string
		note  string // a note that must be present ("" for none at all)
	}{
		{"SELECT lower(a), pg_catalog.upper(b), lower(c) FROM t", gate.KindRead, []string{"lower", "pg_catalog.upper"}, ""},
		{"SELECT pg_terminate_backend(1)", gate.KindAdmin, []string{"pg_terminate_backend"}, "calls pg_terminate_backend: acts on other sessions"},
		{"SELECT app.refresh()", gate.KindAdmin, []string{"app.refresh"}, "calls function app.refresh whose side effects are unknown"},
		{"SELECT nextval('s')", gate.KindWrite, []string{"nextval"}, "calls nextval: advances a sequence"},
		{"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", gate.KindWrite, nil, "data-modifying CTE d"},
		{"SELECT * FROM t FOR UPDATE", gate.KindWrite, nil, "locks rows (FOR UPDATE)"},
		{"SELECT a OPERATOR(app.~~~) b FROM t", gate.KindAdmin, nil, "uses operator app.~~~, which is not a built-in operator"},
		{"SELECT 'x'::app.mood", gate.KindAdmin, nil, "casts to type app.mood, whose conversion may run a user-defined function"},
		{"EXECUTE q", gate.KindAdmin, nil, "executes prepared statement q, which the gateway has not seen prepared"},
		{"SET search_path = x", gate.KindAdmin, nil, "sets search_path: changes how table and function names resolve"},
		{"RESET ROLE", gate.KindAdmin, nil, "resets role: changes who the session is"},
		{"COPY t FROM PROGRAM 'x'", gate.KindAdmin, nil, "COPY PROGRAM runs a command on the database server"},
	}
	for _, tc := range cases {
		cl := mustClassify(t, Config{}, tc.sql)
		if cl.Kind != tc.kind {
			t.Errorf("%q: kind %v, want %v", tc.sql, cl.Kind, tc.kind)
		}
		if !slices.Equal(cl.Functions, tc.funcs) {
			t.Errorf("%q: functions %q, want %q", tc.sql, cl.Functions, tc.funcs)
		}
		if tc.note == "" && len(cl.Notes) > 0 || tc.note != "" && !slices.Contains(cl.Notes, tc.note) {
			t.Errorf("%q: notes %q, want %q", tc.sql, cl.Notes, tc.note)
		}
	}
}

func TestParseError(t *testing.T) {
	c := New(Config{})
	cl, err := c.Classify("SELECT 1;\nSELEC 2", nil)
	if cl != nil {
		t.Errorf("class %+v returned with error", cl)
	}
	var pe *ParseError
	if !IsParseError(err) || !asParseError(err, &pe) {
		t.Fatalf("error %T %v, want *ParseError", err, err)
	}
	if pe.Message != `syntax error at or near "SELEC"` || pe.Cursor != 11 {
		t.Errorf("ParseError = %+v", pe)
	}
	if got := err.Error(); got != `cannot parse statement: syntax error at or near "SELEC"` {
		t.Errorf("Error() = %q", got)
	}
	// A zero byte would make the C parser see only a prefix of the text.
	_, err = c.Classify("SELECT 1\x00; DROP TABLE t", nil)
	if !IsParseError(err) || !strings.Contains(err.Error(), "zero byte") {
		t.Errorf("zero byte: %v", err)
	}
	if IsParseError(nil) {
		t.Error("IsParseError(nil)")
	}
}

func asParseError(err error, target **ParseError) bool {
	pe, ok := err.(*ParseError)
	*target = pe
	return ok
}

func TestEmptyQuery(t *testing.T) {
	for _, sql := range []string{"", "  \n\t", "-- nothing", "/* a */ /* b */", ";;"} {
		cl := mustClassify(t, Config{}, sql)
		if cl.Kind != gate.KindRead || len(cl.Statements) != 0 || cl.Statements == nil || !cl.HasWhere {
			t.Errorf("%q: %+v, want read with no statements", sql, cl)
		}
	}
}

func TestDeepNestingFailsClosed(t *testing.T) {
	// The parser refuses very deep input itself...
	sql := "SELECT " + strings.Repeat("lower(", 20000) + "'x'" + strings.Repeat(")", 20000)
	if _, err := New(Config{}).Classify(sql, nil); !IsParseError(err) {
		t.Errorf("20000 nested calls: %v, want a ParseError", err)
	}
	// ...and the walker bounds its own recursion for trees it is handed.
	n := &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{}}}
	for range maxDepth + 10 {
		n = &pg.Node{Node: &pg.Node_BoolExpr{BoolExpr: &pg.BoolExpr{Boolop: pg.BoolExprType_NOT_EXPR, Args: []*pg.Node{n}}}}
	}
	w := New(Config{}).newWalker(nil)
	w.expr(n)
	if w.kind != gate.KindAdmin || !slices.Contains(w.notes, "nests too deeply to classify") {
		t.Errorf("walker past maxDepth: kind %v notes %q", w.kind, w.notes)
	}
}
