package policy

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestEstimatedRowsAndMaskedPredicates(t *testing.T) {
	eng, err := New(Config{Policies: []PolicyConfig{{Name: "p", Connections: []string{"*"}, Rules: []RuleConfig{
		{Name: "oracle", When: `size(command.masked_predicates) > 0`, Action: "deny", Message: "no predicates on masked columns"},
		{Name: "unknown", When: `command.kind == "write" && command.estimated_rows < 0`, Action: "deny", Message: "no estimate"},
		{Name: "small", When: `command.kind == "write" && command.estimated_rows <= 100`, Action: "allow"},
		{Name: "big", When: `command.kind == "write"`, Action: "deny", Message: "too big"},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !eng.UsesEstimate() {
		t.Fatal("UsesEstimate is false")
	}
	rows := func(n int64) *int64 { return &n }
	cases := []struct {
		est    *int64
		masked []string
		rule   string
	}{
		{nil, nil, "unknown"},
		{rows(5), nil, "small"},
		{rows(100), nil, "small"},
		{rows(101), nil, "big"},
		{rows(5), []string{"public.customers.email"}, "oracle"},
	}
	for _, tc := range cases {
		cmd := &gate.Command{Text: "UPDATE t SET a = 1 WHERE id = 2", EstimatedRows: tc.est,
			Class: gate.Class{Kind: gate.KindWrite, Statements: []string{"UPDATE"}, MaskedPredicates: tc.masked}}
		d, err := eng.Decide(context.Background(), gate.Input{Identity: &gate.Identity{Subject: "a"}, Target: gate.Target{Name: "shop"}, Command: cmd})
		if err != nil || d.Rule != tc.rule {
			t.Errorf("estimate %v masked %v: rule %q (%v), want %q", tc.est, tc.masked, d.Rule, err, tc.rule)
		}
	}
	plain, _ := New(Config{Policies: []PolicyConfig{{Name: "p", Connections: []string{"*"}, Rules: []RuleConfig{{Name: "r", When: "true", Action: "allow"}}}}})
	if plain.UsesEstimate() {
		t.Fatal("UsesEstimate is true for a policy that never mentions it")
	}
}

func TestApplicable(t *testing.T) {
	eng, err := New(Config{Policies: []PolicyConfig{
		{Name: "ci", Match: `"ci" in identity.groups`, Connections: []string{"shop"}, Rules: []RuleConfig{{Name: "r", When: "true", Action: "allow"}}},
		{Name: "agents", Match: `"agents" in identity.groups`, Connections: []string{"*"}, Rules: []RuleConfig{{Name: "r", When: "false", Action: "allow"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := &gate.Command{Class: gate.Class{Kind: gate.KindRead}}
	cases := []struct {
		groups []string
		conn   string
		want   string
	}{
		{[]string{"ci"}, "shop", "ci"},
		{[]string{"ci"}, "crm", ""},
		{[]string{"ci", "agents"}, "crm", "agents"},
		{[]string{"agents"}, "shop", "agents"},
		{nil, "shop", ""},
	}
	for _, tc := range cases {
		got, err := eng.Applicable(context.Background(), gate.Input{Identity: &gate.Identity{Subject: "s", Groups: tc.groups}, Target: gate.Target{Name: tc.conn}, Command: cmd})
		if err != nil || got != tc.want {
			t.Errorf("%v on %s: %q %v, want %q", tc.groups, tc.conn, got, err, tc.want)
		}
	}
}

func TestMaskedWrites(t *testing.T) {
	eng, err := New(Config{Policies: []PolicyConfig{{Name: "p", Connections: []string{"*"}, Rules: []RuleConfig{
		{Name: "launder", When: `size(command.masked_writes) > 0`, Action: "deny", Message: "protected values cannot be copied"},
		{Name: "rest", When: "true", Action: "allow"},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := &gate.Command{Class: gate.Class{Kind: gate.KindWrite, MaskedWrites: []string{"public.customers.ssn"}}}
	d, _ := eng.Decide(context.Background(), gate.Input{Identity: &gate.Identity{Subject: "a"}, Target: gate.Target{Name: "x"}, Command: cmd})
	if d.Rule != "launder" {
		t.Fatalf("decided by %q", d.Rule)
	}
}
