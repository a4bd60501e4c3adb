package sqlpg

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// sessionResolver is a Resolver backed by a map, as an adapter keeps one.
func sessionResolver(m map[string]*gate.Class) Resolver {
	return func(name string) (*gate.Class, bool) {
		cl, ok := m[name]
		return cl, ok
	}
}

func TestExecuteResolver(t *testing.T) {
	c := New(Config{})
	prepared := map[string]*gate.Class{}
	for _, sql := range []string{
		"PREPARE sel AS SELECT * FROM users WHERE id = $1",
		"PREPARE del AS DELETE FROM users",
		"PREPARE upd AS UPDATE app.accounts SET a = 1 WHERE id = $1",
	} {
		changes, err := c.PreparedChanges(sql)
		if err != nil || len(changes) != 1 {
			t.Fatalf("PreparedChanges(%q) = %v, %v", sql, changes, err)
		}
		prepared[changes[0].Name] = changes[0].Class
	}
	res := sessionResolver(prepared)
	cases := []struct {
		sql      string
		resolver Resolver
		kind     gate.Kind
		tables   []string
		hasWhere bool
	}{
		{"EXECUTE sel(1)", res, gate.KindRead, []string{"public.users"}, true},
		{"EXECUTE del", res, gate.KindWrite, []string{"public.users"}, false},
		{"EXECUTE upd(2)", res, gate.KindWrite, []string{"app.accounts"}, true},
		{"EXECUTE nosuch", res, gate.KindAdmin, nil, true},
		{"EXECUTE sel(1)", nil, gate.KindAdmin, nil, true},
		{"EXECUTE sel(pg_reload_conf())", res, gate.KindAdmin, []string{"public.users"}, true},
		{"EXPLAIN EXECUTE del", res, gate.KindRead, []string{"public.users"}, true},
		{"EXPLAIN ANALYZE EXECUTE del", res, gate.KindWrite, []string{"public.users"}, false},
		{"EXPLAIN EXECUTE nosuch", res, gate.KindAdmin, nil, true},
		{"CREATE TABLE copy AS EXECUTE sel(1)", res, gate.KindDDL, []string{"public.copy", "public.users"}, true},
		{"SELECT 1; EXECUTE sel(1)", res, gate.KindRead, []string{"public.users"}, true},
	}
	for _, tc := range cases {
		cl, err := c.Classify(tc.sql, tc.resolver)
		if err != nil {
			t.Fatalf("%q: %v", tc.sql, err)
		}
		if cl.Kind != tc.kind || !slices.Equal(cl.Tables, tc.tables) || cl.HasWhere != tc.hasWhere {
			t.Errorf("%q: kind %v tables %q has_where %v; want %v %q %v", tc.sql, cl.Kind, cl.Tables, cl.HasWhere, tc.kind, tc.tables, tc.hasWhere)
		}
		if cl.Statements[len(cl.Statements)-1] == "EXECUTE" && len(cl.Statements) == 1 && cl.Kind == gate.KindAdmin && len(cl.Notes) == 0 {
			t.Errorf("%q: admin without a note", tc.sql)
		}
	}
}

// TestExecuteNotCached: the same EXECUTE text classifies by the resolver
// given each time, never from the cache.
func TestExecuteNotCached(t *testing.T) {
	c := New(Config{})
	read := sessionResolver(map[string]*gate.Class{"q": {Kind: gate.KindRead, Statements: []string{"SELECT"}, HasWhere: true}})
	write := sessionResolver(map[string]*gate.Class{"q": {Kind: gate.KindWrite, Statements: []string{"DELETE"}}})
	for i, tc := range []struct {
		r    Resolver
		want gate.Kind
	}{{read, gate.KindRead}, {write, gate.KindWrite}, {nil, gate.KindAdmin}, {read, gate.KindRead}} {
		cl, err := c.Classify("EXECUTE q", tc.r)
		if err != nil || cl.Kind != tc.want {
			t.Errorf("call %d: %v %v, want %v", i, cl.Kind, err, tc.want)
		}
	}
	if n := c.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries after EXECUTE only", n)
	}
}

func TestPreparedChanges(t *testing.T) {
	c := New(Config{})
	changes, err := c.PreparedChanges("SELECT 1; PREPARE a AS SELECT 1; PREPARE b (int) AS DELETE FROM t WHERE id = $1; " +
		"DEALLOCATE a; DEALLOCATE ALL; DISCARD PLANS; DISCARD ALL; EXECUTE b(1)")
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		index int
		name  string
		kind  gate.Kind
		tag   string
	}
	var g []got
	for _, ch := range changes {
		x := got{index: ch.Index, name: ch.Name}
		if ch.Class != nil {
			x.kind, x.tag = ch.Class.Kind, ch.Class.Statements[0]
		}
		g = append(g, x)
	}
	want := []got{
		{1, "a", gate.KindRead, "SELECT"},
		{2, "b", gate.KindWrite, "DELETE"},
		{3, "a", 0, ""},
		{4, "", 0, ""},
		{6, "", 0, ""},
	}
	if !slices.Equal(g, want) {
		t.Errorf("PreparedChanges = %+v\nwant %+v", g, want)
	}
	if _, err := c.PreparedChanges("PREPARE x AS SELEC 1"); !IsParseError(err) {
		t.Errorf("parse error: %v", err)
	}
}
