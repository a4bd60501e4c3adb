package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// matrixConfig is the policy set the access matrix runs against. It is the
// documented example plus policies that exercise connection scoping, claims,
// grants and first-match between overlapping policies.
func matrixConfig() Config {
	return Config{Policies: []PolicyConfig{
		{
			Name:        "agents",
			Match:       `"agents" in identity.groups`,
			Connections: []string{"shop"},
			Rules: []RuleConfig{
				{Name: "no-schema-or-admin", When: `command.kind in ["ddl", "admin"]`, Action: "deny",
					Message: "schema and admin changes are not allowed for agents"},
				{Name: "big-writes", When: `command.kind == "write" && command.estimated_rows > 100`, Action: "review",
					Approvers: []string{"group:dba"}, Required: 2, Mode: "wait"},
				{Name: "unbounded-writes", When: `command.kind == "write" && !command.has_where`, Action: "review",
					Approvers: []string{"group:dba", "sub:alice"}, Mode: "defer", Message: "writes without WHERE need a DBA"},
				{Name: "explained-writes", When: `command.kind == "write" && request.reason != ""`, Action: "allow"},
				{Name: "reads", When: `command.kind in ["read", "transaction", "session"]`, Action: "allow"},
			},
		},
		{
			Name:        "ops",
			Match:       `identity.email.endsWith("@ops.example") && identity.issuer == "https://idp.example"`,
			Connections: []string{"*"},
			Rules: []RuleConfig{
				{Name: "no-drop", When: `"DROP TABLE" in command.statements`, Action: "deny", Message: "drop tables by migration"},
				{Name: "everything", When: `true`, Action: "allow"},
			},
		},
		{
			Name:        "readers",
			Match:       `"readers" in identity.groups`,
			Connections: []string{"shop", "crm"},
			Rules: []RuleConfig{
				{Name: "reads", When: `command.kind == "read"`, Action: "allow"},
			},
		},
		{
			Name:        "tenants",
			Match:       `identity.claims[?"tenant"].orValue("") == "acme"`,
			Connections: []string{"billing"},
			Rules: []RuleConfig{
				{Name: "own-tables", When: `command.kind == "read" && command.tables.all(t, t.startsWith("acme."))`, Action: "allow"},
			},
		},
		{
			Name:        "granted",
			Match:       `(connection.name + ":write") in identity.grants`,
			Connections: []string{"*"},
			Rules: []RuleConfig{
				{Name: "writes", When: `command.kind in ["read", "write"] && connection.kind == "postgres"`, Action: "allow"},
			},
		},
		{
			Name:        "locked",
			Match:       `"contractors" in identity.groups`,
			Connections: []string{"*"},
			// No rules: applies, and denies everything.
		},
	}}
}

var (
	agent     = &gate.Identity{Subject: "agent-1", Email: "agent-1@bots.example", Groups: []string{"agents"}}
	agentRdr  = &gate.Identity{Subject: "agent-2", Groups: []string{"agents", "readers"}}
	reader    = &gate.Identity{Subject: "reader-1", Groups: []string{"readers"}}
	opsUser   = &gate.Identity{Subject: "op-1", Issuer: "https://idp.example", Email: "op-1@ops.example"}
	opsForged = &gate.Identity{Subject: "op-2", Issuer: "https://evil.example", Email: "op-2@ops.example"}
	tenant    = &gate.Identity{Subject: "t-1", Claims: map[string]any{"tenant": "acme"}}
	tenantX   = &gate.Identity{Subject: "t-2", Claims: map[string]any{"tenant": 42.0}}
	granted   = &gate.Identity{Subject: "g-1", Grants: []string{"crm:write"}}
	contract  = &gate.Identity{Subject: "c-1", Groups: []string{"contractors", "readers"}}
)

var (
	shop    = gate.Target{Name: "shop", Kind: "postgres"}
	crm     = gate.Target{Name: "crm", Kind: "postgres"}
	billing = gate.Target{Name: "billing", Kind: "postgres"}
	other   = gate.Target{Name: "warehouse", Kind: "mysql"}
)

func cmd(kind gate.Kind, stmts ...string) *gate.Command {
	return &gate.Command{Text: strings.Join(stmts, "; "), Class: gate.Class{Kind: kind, Statements: stmts, HasWhere: true}}
}

func with(c *gate.Command, f func(*gate.Command)) *gate.Command { f(c); return c }

var (
	selectCmd  = cmd(gate.KindRead, "SELECT")
	beginCmd   = cmd(gate.KindTransaction, "BEGIN")
	ddlCmd     = cmd(gate.KindDDL, "CREATE TABLE")
	adminCmd   = cmd(gate.KindAdmin, "ALTER ROLE")
	dropCmd    = cmd(gate.KindDDL, "DROP TABLE")
	dropLower  = cmd(gate.KindDDL, "drop table")
	updateCmd  = cmd(gate.KindWrite, "UPDATE")
	deleteAll  = with(cmd(gate.KindWrite, "DELETE"), func(c *gate.Command) { c.Class.HasWhere = false })
	reasoned   = with(cmd(gate.KindWrite, "UPDATE"), func(c *gate.Command) { c.Request.Reason = "fix refund 7" })
	writeAsSel = cmd(gate.KindWrite, "SELECT") // SELECT ... FOR UPDATE, or a data-modifying CTE
	acmeRead   = with(cmd(gate.KindRead, "SELECT"), func(c *gate.Command) { c.Class.Tables = []string{"acme.invoices", "acme.orders"} })
	mixedRead  = with(cmd(gate.KindRead, "SELECT"), func(c *gate.Command) { c.Class.Tables = []string{"acme.invoices", "globex.orders"} })
)

func TestAccessMatrix(t *testing.T) {
	e, err := New(matrixConfig())
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		action         gate.Action
		policy, rule   string
		messageContain string
	}
	tests := []struct {
		name string
		id   *gate.Identity
		to   gate.Target
		cmd  *gate.Command
		want want
	}{
		{"agent reads", agent, shop, selectCmd, want{gate.Allow, "agents", "reads", ""}},
		{"agent begins", agent, shop, beginCmd, want{gate.Allow, "agents", "reads", ""}},
		{"agent ddl denied by first rule", agent, shop, ddlCmd, want{gate.Deny, "agents", "no-schema-or-admin", "schema and admin changes"}},
		{"agent admin denied", agent, shop, adminCmd, want{gate.Deny, "agents", "no-schema-or-admin", ""}},
		{"agent unbounded delete held", agent, shop, deleteAll, want{gate.Review, "agents", "unbounded-writes", "need a DBA"}},
		{"agent write with reason", agent, shop, reasoned, want{gate.Allow, "agents", "explained-writes", ""}},
		{"agent write without reason: no rule", agent, shop, updateCmd, want{gate.Deny, "agents", "", "no rule of policy agents allows this write command"}},
		{"agent on unlisted connection: no policy", agent, crm, selectCmd, want{gate.Deny, "", "", `no policy applies to agent-1 (agent-1@bots.example) on connection "crm"`}},

		// First match between policies: agents applies on shop and does not
		// fall through to readers, even when it denies.
		{"agent+reader on shop: agents decides", agentRdr, shop, updateCmd, want{gate.Deny, "agents", "", "no rule of policy agents"}},
		{"agent+reader on crm: readers decides", agentRdr, crm, selectCmd, want{gate.Allow, "readers", "reads", ""}},
		{"reader reads crm", reader, crm, selectCmd, want{gate.Allow, "readers", "reads", ""}},
		{"reader write: no rule", reader, crm, updateCmd, want{gate.Deny, "readers", "", "no rule of policy readers allows this write command"}},
		{"reader elsewhere: no policy", reader, billing, selectCmd, want{gate.Deny, "", "", "no policy applies to reader-1"}},

		// "*" connections.
		{"ops anywhere", opsUser, other, updateCmd, want{gate.Allow, "ops", "everything", ""}},
		{"ops ddl", opsUser, shop, ddlCmd, want{gate.Allow, "ops", "everything", ""}},
		{"ops drop denied", opsUser, shop, dropCmd, want{gate.Deny, "ops", "no-drop", "drop tables by migration"}},
		{"ops drop lowercase tag still denied", opsUser, shop, dropLower, want{gate.Deny, "ops", "no-drop", ""}},
		{"ops email from another issuer", opsForged, shop, selectCmd, want{gate.Deny, "", "", "no policy applies to op-2"}},

		// Adversarial: a write whose only tag is SELECT is still a write.
		{"write tagged SELECT is not a read", reader, shop, writeAsSel, want{gate.Deny, "readers", "", "allows this write command"}},
		{"agent write tagged SELECT without reason", agent, shop, writeAsSel, want{gate.Deny, "agents", "", "write command"}},

		// Claims, optional access, comprehensions.
		{"tenant reads own tables", tenant, billing, acmeRead, want{gate.Allow, "tenants", "own-tables", ""}},
		{"tenant reads another tenant's table", tenant, billing, mixedRead, want{gate.Deny, "tenants", "", "no rule of policy tenants allows this read command"}},
		{"tenant claim of another type", tenantX, billing, acmeRead, want{gate.Deny, "", "", "no policy applies to t-2"}},
		{"no claims at all", reader, billing, acmeRead, want{gate.Deny, "", "", "no policy applies"}},

		// Grants and connection fields.
		{"grant for crm on crm", granted, crm, updateCmd, want{gate.Allow, "granted", "writes", ""}},
		{"grant for crm on shop", granted, shop, updateCmd, want{gate.Deny, "", "", `on connection "shop"`}},

		// A policy with no rules denies what it applies to.
		{"rule-less policy denies", contract, billing, selectCmd, want{gate.Deny, "locked", "", "no rule of policy locked allows this read command"}},
		{"earlier policy wins over rule-less one", contract, crm, selectCmd, want{gate.Allow, "readers", "reads", ""}},

		// Anonymous.
		{"nil identity", nil, shop, selectCmd, want{gate.Deny, "", "", "no policy applies to <anonymous>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Decide(context.Background(), gate.Input{Identity: tc.id, Target: tc.to, Command: tc.cmd})
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if d.Action != tc.want.action || d.Policy != tc.want.policy || d.Rule != tc.want.rule {
				t.Errorf("got %s %q/%q, want %s %q/%q (message %q)", d.Action, d.Policy, d.Rule, tc.want.action, tc.want.policy, tc.want.rule, d.Message)
			}
			if !strings.Contains(d.Message, tc.want.messageContain) {
				t.Errorf("message %q does not contain %q", d.Message, tc.want.messageContain)
			}
			if d.PolicyVersion != e.Version() || len(d.PolicyVersion) != 16 {
				t.Errorf("PolicyVersion %q, want %q", d.PolicyVersion, e.Version())
			}
			if (d.Review != nil) != (d.Action == gate.Review) {
				t.Errorf("Review %+v with action %s", d.Review, d.Action)
			}
		})
	}
}

func TestReviewSpec(t *testing.T) {
	cfg := matrixConfig()
	// Make big-writes reachable: estimated_rows is -1 until the classifier
	// estimates, so key the rule on a table instead.
	cfg.Policies[0].Rules[1].When = `command.kind == "write" && "public.orders" in command.tables`
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	big := with(cmd(gate.KindWrite, "UPDATE"), func(c *gate.Command) { c.Class.Tables = []string{"public.orders"} })
	d, err := e.Decide(context.Background(), gate.Input{Identity: agent, Target: shop, Command: big})
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != gate.Review || d.Rule != "big-writes" || d.Review == nil {
		t.Fatalf("got %+v", d)
	}
	if got := *d.Review; fmt.Sprint(got.Approvers) != "[group:dba]" || got.Required != 2 || got.Mode != "wait" {
		t.Errorf("review %+v", got)
	}
	// Defaults: required 1; and the caller may not alter the engine's copy.
	d, _ = e.Decide(context.Background(), gate.Input{Identity: agent, Target: shop, Command: deleteAll})
	if got := *d.Review; fmt.Sprint(got.Approvers) != "[group:dba sub:alice]" || got.Required != 1 || got.Mode != "defer" {
		t.Errorf("review %+v", got)
	}
	d.Review.Approvers[0] = "group:everyone"
	d.Review.Required = 0
	d, _ = e.Decide(context.Background(), gate.Input{Identity: agent, Target: shop, Command: deleteAll})
	if d.Review.Approvers[0] != "group:dba" || d.Review.Required != 1 {
		t.Errorf("caller's change leaked into the engine: %+v", *d.Review)
	}
}

func TestDecideFailsClosed(t *testing.T) {
	e, err := New(Config{Policies: []PolicyConfig{
		{Name: "strict", Match: `identity.claims["team"] == "red"`, Connections: []string{"red"},
			Rules: []RuleConfig{{Name: "all", When: "true", Action: "allow"}}},
		{Name: "p", Connections: []string{"*"}, Rules: []RuleConfig{
			{Name: "needs-claim", When: `command.kind == "write" && identity.claims["level"] > 3.0`, Action: "allow"},
			{Name: "dyn-typo", When: `command.kind == "session" && dyn(command).kinds == "x"`, Action: "allow"},
			{Name: "dyn-ok", When: `command.kind == "transaction" && dyn(command).kind == "transaction" && has(command.text)`, Action: "allow"},
			{Name: "bad-index", When: `command.kind == "ddl" && command.statements[5] == "X"`, Action: "allow"},
			{Name: "reads", When: `command.kind == "read"`, Action: "allow"},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := &gate.Identity{Subject: "x", Claims: map[string]any{}}
	for _, tc := range []struct {
		name, conn   string
		cmd          *gate.Command
		policy, rule string
		errContains  string
	}{
		{"missing claim in when", "blue", updateCmd, "p", "needs-claim", `policy "p" rule "needs-claim" when: evaluation failed: no such key: level`},
		{"missing claim in match", "red", selectCmd, "strict", "", `policy "strict" match: evaluation failed: no such key: team`},
		{"unknown field through dyn", "blue", cmd(gate.KindSession, "SET"), "p", "dyn-typo", "no such field 'kinds'"},
		{"index out of range", "blue", ddlCmd, "p", "bad-index", "index"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Decide(context.Background(), gate.Input{Identity: id, Target: gate.Target{Name: tc.conn}, Command: tc.cmd})
			var ee *EvalError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want *EvalError", err)
			}
			if !strings.Contains(err.Error(), tc.errContains) {
				t.Errorf("err %q does not contain %q", err, tc.errContains)
			}
			if d.Action != gate.Deny || d.Policy != tc.policy || d.Rule != tc.rule {
				t.Errorf("decision %+v, want deny by %s/%s", d, tc.policy, tc.rule)
			}
		})
	}
	t.Run("dyn field access works", func(t *testing.T) {
		d, err := e.Decide(context.Background(), gate.Input{Identity: id, Target: gate.Target{Name: "blue"}, Command: beginCmd})
		if err != nil || d.Action != gate.Allow || d.Rule != "dyn-ok" {
			t.Errorf("got %+v, %v", d, err)
		}
	})
	t.Run("unknown kind denied before rules", func(t *testing.T) {
		for _, k := range []gate.Kind{0, gate.KindAdmin + 1, 255} {
			d, err := e.Decide(context.Background(), gate.Input{Identity: id, Target: gate.Target{Name: "blue"}, Command: cmd(k, "SELECT")})
			if err != nil || d.Action != gate.Deny || d.Policy != "" || !strings.Contains(d.Message, "could not be classified") {
				t.Errorf("kind %d: got %+v, %v", k, d, err)
			}
		}
	})
	t.Run("nil command", func(t *testing.T) {
		d, err := e.Decide(context.Background(), gate.Input{Identity: id, Target: gate.Target{Name: "blue"}})
		if err == nil || d.Action != gate.Deny {
			t.Errorf("got %+v, %v", d, err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		d, err := e.Decide(ctx, gate.Input{Identity: id, Target: gate.Target{Name: "blue"}, Command: selectCmd})
		if !errors.Is(err, context.Canceled) || d.Action != gate.Deny {
			t.Errorf("got %+v, %v", d, err)
		}
	})
}

// TestNoConfigDeniesAll: the zero Config is valid and denies everything.
func TestNoConfigDeniesAll(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(context.Background(), gate.Input{Identity: agent, Target: shop, Command: selectCmd})
	if err != nil || d.Action != gate.Deny || !strings.Contains(d.Message, "no policy applies") {
		t.Errorf("got %+v, %v", d, err)
	}
}

// TestDecideDoesNotKeepInput: values cached for one Decide must not leak
// into the next (activations are pooled).
func TestDecideDoesNotKeepInput(t *testing.T) {
	e, err := New(matrixConfig())
	if err != nil {
		t.Fatal(err)
	}
	// If identity.groups were cached across calls, the reader would be
	// matched by agents (or the agent by nothing).
	for i := range 100 {
		id, want := agent, "agents/reads"
		if i%2 == 1 {
			id, want = reader, "readers/reads"
		}
		d, err := e.Decide(context.Background(), gate.Input{Identity: id, Target: shop, Command: selectCmd})
		if got := d.Policy + "/" + d.Rule; err != nil || got != want {
			t.Fatalf("iteration %d: got %s, %v; want %s", i, got, err, want)
		}
	}
}

func TestConcurrentDecide(t *testing.T) {
	e, err := New(matrixConfig())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   gate.Input
		want string
	}{
		{gate.Input{Identity: agent, Target: shop, Command: selectCmd}, "allow agents/reads"},
		{gate.Input{Identity: agent, Target: shop, Command: deleteAll}, "review agents/unbounded-writes"},
		{gate.Input{Identity: reader, Target: crm, Command: updateCmd}, "deny readers/"},
		{gate.Input{Identity: opsUser, Target: other, Command: dropLower}, "deny ops/no-drop"},
		{gate.Input{Identity: tenant, Target: billing, Command: acmeRead}, "allow tenants/own-tables"},
		{gate.Input{Identity: nil, Target: shop, Command: selectCmd}, "deny /"},
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				c := cases[(g+i)%len(cases)]
				d, err := e.Decide(context.Background(), c.in)
				if got := fmt.Sprintf("%s %s/%s", d.Action, d.Policy, d.Rule); err != nil || got != c.want {
					t.Errorf("got %q, %v; want %q", got, err, c.want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDecideAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	e, err := New(benchConfig())
	if err != nil {
		t.Fatal(err)
	}
	in := benchInput()
	n := testing.AllocsPerRun(200, func() { _, _ = e.Decide(context.Background(), in) })
	// One CEL value per field the 50 rules read (groups, email, tables,
	// functions, reason): each is computed once per Decide, whatever the
	// number of rules.
	if n > 6 {
		t.Errorf("Decide allocates %.0f times, want at most 6", n)
	}
}
