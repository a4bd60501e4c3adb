package policy

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// benchConfig is a 50-rule policy whose last rule decides a plain read, so
// Decide evaluates every rule: the worst case for a command that is allowed.
func benchConfig() Config {
	rules := make([]RuleConfig, 0, 50)
	shapes := []string{
		`command.kind in ["ddl", "admin"] && identity.email == "nobody-%d@example.com"`,
		`command.kind == "write" && command.estimated_rows > %d`,
		`"public.secret_%d" in command.tables`,
		`command.kind == "write" && !command.has_where && request.reason == "r%d"`,
		`"pg_sleep_%d" in command.functions`,
		`connection.kind == "mysql" && size(command.statements) > %d`,
		`identity.sub == "blocked-%d"`,
	}
	for i := range 49 {
		rules = append(rules, RuleConfig{Name: fmt.Sprintf("r%d", i), When: fmt.Sprintf(shapes[i%len(shapes)], i), Action: "deny"})
	}
	rules = append(rules, RuleConfig{Name: "reads", When: `command.kind in ["read", "transaction", "session"]`, Action: "allow"})
	return Config{Policies: []PolicyConfig{{Name: "agents", Match: `"agents" in identity.groups`, Connections: []string{"shop"}, Rules: rules}}}
}

func benchInput() gate.Input {
	return gate.Input{
		Identity: &gate.Identity{Issuer: "https://issuer.example", Subject: "agent-7", Email: "agent-7@example.com",
			Groups: []string{"agents", "support"}, Claims: map[string]any{"tenant": "acme"}},
		Target: gate.Target{Name: "shop", Kind: "postgres"},
		Command: &gate.Command{Text: "SELECT id, status FROM public.refunds WHERE id = $1",
			Class:   gate.Class{Kind: gate.KindRead, Statements: []string{"SELECT"}, Tables: []string{"public.refunds"}, HasWhere: true},
			Request: gate.Request{Reason: "checking refund status"}},
	}
}

func BenchmarkDecide(b *testing.B) {
	e, err := New(benchConfig())
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Decide(ctx, in)
		if err != nil || d.Action != gate.Allow {
			b.Fatal(d, err)
		}
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	e, err := New(benchConfig())
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d, err := e.Decide(ctx, in); err != nil || d.Action != gate.Allow {
				b.Error(d, err)
				return
			}
		}
	})
}
