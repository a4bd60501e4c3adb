package policy

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// FuzzDecide compiles arbitrary rule conditions and decides arbitrary
// commands with them. Properties: nothing panics; an error never comes with
// anything but a deny; Explain agrees with Decide; deciding twice gives the
// same answer (pooled state does not leak between calls).
func FuzzDecide(f *testing.F) {
	for _, s := range []struct {
		when, stmt, table, claim string
		kind                     uint8
		hasWhere                 bool
	}{
		{`command.kind == "read"`, "SELECT", "public.t", "tenant", 1, true},
		{`"DELETE" in command.statements && !command.has_where`, "delete", "public.t", "x", 4, false},
		{`identity.claims["tenant"] == "acme"`, "SELECT", "acme.t", "tenant", 1, true},
		{`identity.claims[?"tenant"].orValue("") == "acme"`, "SELECT", "acme.t", "other", 1, true},
		{`command.tables.all(t, t.startsWith("acme."))`, "SELECT", "globex.t", "tenant", 1, true},
		{`dyn(command).kinds == "read"`, "SELECT", "", "", 1, true},
		{`command.statements[3] == "X"`, "SELECT", "", "", 5, true},
		{`command.text.matches("^sel") || request.reason.size() > 3`, "SELECT", "", "", 0, true},
		{`size(command.tables) > 0 && command.estimated_rows < 0`, "UPDATE", "t", "", 4, true},
		{`sets.contains(identity.groups, ["agents"])`, "SET", "", "", 3, true},
	} {
		f.Add(s.when, s.stmt, s.table, s.claim, s.kind, s.hasWhere)
	}
	f.Fuzz(func(t *testing.T, when, stmt, table, claim string, kind uint8, hasWhere bool) {
		if len(when) > 256 {
			t.Skip()
		}
		e, err := New(Config{Policies: []PolicyConfig{{Name: "p", Match: `"agents" in identity.groups`, Connections: []string{"*"},
			Rules: []RuleConfig{{Name: "r", When: when, Action: "allow"}}}}})
		if err != nil {
			return
		}
		in := gate.Input{
			Identity: &gate.Identity{Subject: "s", Groups: []string{"agents"}, Claims: map[string]any{claim: "acme", "n": 1.0}},
			Target:   gate.Target{Name: "shop", Kind: "postgres"},
			Command: &gate.Command{Text: stmt + " " + table, Class: gate.Class{Kind: gate.Kind(kind), Statements: []string{stmt},
				Tables: []string{table}, HasWhere: hasWhere}, Request: gate.Request{Reason: claim}},
		}
		d, err := e.Decide(context.Background(), in)
		if err != nil && d.Action != gate.Deny {
			t.Fatalf("error %v with action %s", err, d.Action)
		}
		if d.Action == gate.Allow && (d.Rule != "r" || kind < 1 || kind > uint8(gate.KindAdmin)) {
			t.Fatalf("allowed %+v for kind %d", d, kind)
		}
		d2, _ := e.Decide(context.Background(), in)
		ex, _, err2 := e.Explain(context.Background(), in)
		if d2.Action != d.Action || ex.Action != d.Action || ex.Rule != d.Rule || (err == nil) != (err2 == nil) {
			t.Fatalf("Decide %+v, again %+v, Explain %+v (%v / %v)", d, d2, ex, err, err2)
		}
	})
}
