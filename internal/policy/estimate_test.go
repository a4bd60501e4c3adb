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
