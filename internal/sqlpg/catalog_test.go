package sqlpg

import (
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestFunctionCatalog(t *testing.T) {
	var asked []string
	cat := FunctionCatalogFunc(func(schema, name string) Volatility {
		asked = append(asked, schema+"|"+name)
		switch name {
		case "pure", "pg_terminate_backend":
			return Immutable
		case "lookup":
			return Stable
		case "mutate":
			return Volatile
		}
		return VolatilityUnknown
	})
	cases := []struct {
		sql  string
		want gate.Kind
		ask  string // what the catalog must have been asked, "" for nothing
	}{
		{"SELECT app.pure(1)", gate.KindRead, "app|pure"},
		{"SELECT pure(1)", gate.KindRead, "|pure"},
		{"SELECT * FROM app.lookup()", gate.KindRead, "app|lookup"},
		{"SELECT app.mutate()", gate.KindAdmin, "app|mutate"},
		{"SELECT app.missing()", gate.KindAdmin, "app|missing"},
		{"SELECT pg_catalog.unlisted_builtin()", gate.KindAdmin, "pg_catalog|unlisted_builtin"},
		// The built-in tables win: the catalog is not asked about them.
		{"SELECT pg_terminate_backend(1)", gate.KindAdmin, ""},
		{"SELECT lower('x')", gate.KindRead, ""},
		{"EXPLAIN SELECT app.mutate()", gate.KindRead, "app|mutate"},
		{"EXPLAIN SELECT app.missing()", gate.KindAdmin, "app|missing"},
	}
	c := New(Config{Functions: cat})
	for _, tc := range cases {
		asked = nil
		cl, err := c.Classify(tc.sql, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cl.Kind != tc.want {
			t.Errorf("%q: %v, want %v (notes %q)", tc.sql, cl.Kind, tc.want, cl.Notes)
		}
		if tc.ask == "" && len(asked) > 0 || tc.ask != "" && (len(asked) != 1 || asked[0] != tc.ask) {
			t.Errorf("%q: catalog asked %q, want %q", tc.sql, asked, tc.ask)
		}
	}
}

// TestFunctionCatalogNotCached: a function redefined upstream is seen at
// once, because results that consulted the catalog are not cached.
func TestFunctionCatalogNotCached(t *testing.T) {
	var vol atomic.Uint32
	vol.Store(uint32(Stable))
	c := New(Config{Functions: FunctionCatalogFunc(func(string, string) Volatility { return Volatility(vol.Load()) })})
	sql := "SELECT app.f()"
	if cl, _ := c.Classify(sql, nil); cl.Kind != gate.KindRead {
		t.Fatalf("stable: %v", cl.Kind)
	}
	vol.Store(uint32(Volatile))
	if cl, _ := c.Classify(sql, nil); cl.Kind != gate.KindAdmin {
		t.Errorf("after redefinition as volatile: %v", cl.Kind)
	}
	// Text that never consults the catalog is cached as usual.
	c.Classify("SELECT lower('x')", nil)
	if n := c.cache.len(); n != 1 {
		t.Errorf("cache holds %d entries, want 1", n)
	}
}

func TestFunctionCatalogNilSafe(t *testing.T) {
	for _, cat := range []FunctionCatalog{nil, FunctionCatalogFunc(nil)} {
		cl := mustClassify(t, Config{Functions: cat}, "SELECT app.f()")
		if cl.Kind != gate.KindAdmin {
			t.Errorf("%T: %v", cat, cl.Kind)
		}
	}
	if s := Volatile.String() + Stable.String() + Immutable.String() + VolatilityUnknown.String(); s != "volatilestableimmutableunknown" {
		t.Errorf("Volatility strings: %s", s)
	}
}
