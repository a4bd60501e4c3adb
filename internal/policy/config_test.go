package policy

import (
	"errors"
	"strings"
	"testing"
)

// one builds a config with a single policy holding the given rules.
func one(rules ...RuleConfig) Config {
	return Config{Policies: []PolicyConfig{{Name: "agents", Connections: []string{"shop"}, Rules: rules}}}
}

func TestNewRejects(t *testing.T) {
	allow := func(name, when string) RuleConfig { return RuleConfig{Name: name, When: when, Action: "allow"} }
	tests := []struct {
		name string
		cfg  Config
		want []string // each must appear in the error
	}{
		{"unknown command field", one(allow("reads", `command.kinds == "read"`)),
			[]string{`policy "agents" rule "reads" when: ERROR: <input>:1:8: undefined field 'kinds'`}},
		{"unknown identity field", one(allow("g", `"x" in identity.grups`)),
			[]string{`policy "agents" rule "g" when: ERROR: <input>:1:16: undefined field 'grups'`}},
		{"unknown request field", one(allow("r", `request.span == ""`)), []string{`undefined field 'span'`}},
		{"unknown variable", one(allow("v", `cmd.kind == "read"`)), []string{`rule "v" when: ERROR: <input>:1:1: undeclared reference to 'cmd'`}},
		{"non-bool", one(allow("k", `command.kind`)), []string{`rule "k" when: must be a boolean expression, but its type is string`}},
		{"dyn is not bool", one(allow("c", `identity.claims["admin"]`)), []string{`but its type is dyn`}},
		{"syntax error", one(allow("s", `command.kind ==`)), []string{`rule "s" when: ERROR: <input>:1:16: Syntax error`}},
		{"type error", one(allow("t", `command.estimated_rows > "100"`)), []string{`rule "t" when: ERROR:`, `no matching overload`}},
		{"struct literal", one(allow("lit", `gatehouse.Command{kind: "read"}.kind == "read"`)),
			[]string{`rule "lit" when: ERROR: <input>:1:18: gatehouse.Command values cannot be constructed in a policy`}},
		{"bad regex", one(allow("re", `command.text.matches("(")`)), []string{`rule "re" when: error parsing regexp`}},
		{"bad match", Config{Policies: []PolicyConfig{{Name: "p", Match: `identity.group == "x"`, Connections: []string{"*"}}}},
			[]string{`policy "p" match: ERROR: <input>:1:9: undefined field 'group'`}},
		{"bad action", one(RuleConfig{Name: "r", When: "true", Action: "permit"}), []string{`policy "agents" rule "r" action: unknown action "permit"`}},
		{"missing action", one(RuleConfig{Name: "r", When: "true"}), []string{`rule "r" action: missing`}},
		{"missing when", one(RuleConfig{Name: "r", Action: "allow"}), []string{`rule "r" when: a rule needs a condition`}},
		{"missing rule name", one(RuleConfig{When: "true", Action: "allow"}), []string{`policy "agents" rules[0] name: a rule needs a name`}},
		{"duplicate rule name", one(allow("r", "true"), allow("r", "false")), []string{`rule "r" name: duplicate rule name`}},
		{"missing policy name", Config{Policies: []PolicyConfig{{Connections: []string{"*"}}}}, []string{`policies[0] name: a policy needs a name`}},
		{"duplicate policy name", Config{Policies: []PolicyConfig{{Name: "p", Connections: []string{"*"}}, {Name: "p", Connections: []string{"*"}}}},
			[]string{`policy "p" name: duplicate policy name`}},
		{"no connections", Config{Policies: []PolicyConfig{{Name: "p"}}}, []string{`policy "p" connections: list at least one`}},
		{"empty connection", Config{Policies: []PolicyConfig{{Name: "p", Connections: []string{"shop", " "}}}}, []string{`policy "p" connections: empty connection name`}},
		{"approvers on allow", one(RuleConfig{Name: "r", When: "true", Action: "allow", Approvers: []string{"group:dba"}}),
			[]string{`rule "r" approvers: only meaningful with action review, not allow`}},
		{"required on deny", one(RuleConfig{Name: "r", When: "true", Action: "deny", Required: 2}), []string{`rule "r" required: only meaningful with action review`}},
		{"mode on allow", one(RuleConfig{Name: "r", When: "true", Action: "allow", Mode: "wait"}), []string{`rule "r" mode: only meaningful`}},
		{"review without approvers", one(RuleConfig{Name: "r", When: "true", Action: "review"}), []string{`rule "r" approvers: a review rule needs at least one approver`}},
		{"bad approver", one(RuleConfig{Name: "r", When: "true", Action: "review", Approvers: []string{"dba"}}),
			[]string{`rule "r" approvers: access entry "dba": want group:NAME`}},
		{"unknown approver kind", one(RuleConfig{Name: "r", When: "true", Action: "review", Approvers: []string{"team:dba"}}),
			[]string{`unknown kind "team"`}},
		{"required below 1", one(RuleConfig{Name: "r", When: "true", Action: "review", Approvers: []string{"group:dba"}, Required: -1}),
			[]string{`rule "r" required: must be at least 1, got -1`}},
		{"bad mode", one(RuleConfig{Name: "r", When: "true", Action: "review", Approvers: []string{"group:dba"}, Mode: "later"}),
			[]string{`rule "r" mode: unknown mode "later" (want wait or defer)`}},
		{"every problem reported", one(allow("a", `command.kinds == "x"`), RuleConfig{Name: "b", When: "true", Action: "nope"}, allow("c", `1`)),
			[]string{`rule "a" when: ERROR`, `rule "b" action`, `rule "c" when: must be a boolean`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.cfg)
			if err == nil {
				t.Fatalf("New succeeded (%v), want an error", e.Version())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error is not a *ConfigError: %T", err)
			}
		})
	}
}

func TestConfigErrorLocates(t *testing.T) {
	cfg := matrixConfig()
	cfg.Policies[3].Rules[0].When = `command.tabels == []`
	_, err := New(cfg)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	if ce.PolicyIndex != 3 || ce.RuleIndex != 0 || ce.Policy != "tenants" || ce.Rule != "own-tables" || ce.Field != "when" {
		t.Errorf("located at %+v", ce)
	}
}

func TestNewAccepts(t *testing.T) {
	for _, when := range []string{
		`true`,
		`command.kind in ["read", "transaction", "session"]`,
		`command.kind == "write" && command.estimated_rows > 100`,
		`!command.has_where && size(command.tables) > 0`,
		`command.tables.exists(t, t.startsWith("pg_catalog."))`,
		`"pg_sleep" in command.functions || command.text.contains("pg_sleep")`,
		`size(command.masked_predicates) == 0`,
		`identity.claims[?"tenant"].orValue("") == "acme"`,
		`has(identity.claims.tenant) && identity.claims.tenant == "acme"`,
		`sets.intersects(identity.groups, ["dba", "sre"])`,
		`identity.scopes.exists(s, s == "db:write") && identity.sub != "" && identity.email.endsWith("@example.com")`,
		`identity.issuer == "https://idp.example" && "shop:write" in identity.grants`,
		`connection.name == "shop" && connection.kind == "postgres"`,
		`request.reason.size() > 10 && request.trace_id != ""`,
		`command.text.lowerAscii().matches("^\\s*select")`,
		`type(command) == gatehouse.Command`,
	} {
		if _, err := New(one(RuleConfig{Name: "r", When: when, Action: "allow"})); err != nil {
			t.Errorf("%s: %v", when, err)
		}
	}
}

func TestPolicyVersion(t *testing.T) {
	base, err := New(matrixConfig())
	if err != nil {
		t.Fatal(err)
	}
	again, _ := New(matrixConfig())
	if base.Version() != again.Version() {
		t.Fatalf("same config, versions %s and %s", base.Version(), again.Version())
	}
	// Defaults are part of normalization: spelling out required: 1 and
	// mode: wait changes nothing.
	defaults := matrixConfig()
	defaults.Policies[0].Rules[2].Required = 1
	if e, _ := New(defaults); e.Version() != base.Version() {
		t.Errorf("explicit default changed the version")
	}
	changes := map[string]func(c *Config){
		"rule when":    func(c *Config) { c.Policies[0].Rules[4].When = `command.kind == "read"` },
		"rule message": func(c *Config) { c.Policies[0].Rules[0].Message += "." },
		"rule action":  func(c *Config) { c.Policies[0].Rules[0].Action = "allow" },
		"rule name":    func(c *Config) { c.Policies[0].Rules[4].Name = "reads2" },
		"approvers":    func(c *Config) { c.Policies[0].Rules[1].Approvers = []string{"group:sre"} },
		"required":     func(c *Config) { c.Policies[0].Rules[1].Required = 3 },
		"mode":         func(c *Config) { c.Policies[0].Rules[1].Mode = "defer" },
		"rule order":   func(c *Config) { r := c.Policies[0].Rules; r[3], r[4] = r[4], r[3] },
		"rule removed": func(c *Config) { c.Policies[0].Rules = c.Policies[0].Rules[:4] },
		"policy match": func(c *Config) { c.Policies[2].Match = `"reader" in identity.groups` },
		"policy name":  func(c *Config) { c.Policies[2].Name = "readers2" },
		"connections":  func(c *Config) { c.Policies[2].Connections = []string{"shop"} },
		"policy order": func(c *Config) { p := c.Policies; p[1], p[2] = p[2], p[1] },
	}
	seen := map[string]string{base.Version(): "base"}
	for name, change := range changes {
		cfg := matrixConfig()
		change(&cfg)
		e, err := New(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if prev, dup := seen[e.Version()]; dup {
			t.Errorf("%s: version %s same as %s", name, e.Version(), prev)
		}
		seen[e.Version()] = name
	}
}

// TestVersionEncoding: the encoding is length-prefixed, so moving text
// from one field to the next changes the version.
func TestVersionEncoding(t *testing.T) {
	a := one(RuleConfig{Name: "ab", When: "c", Action: "allow"})
	b := one(RuleConfig{Name: "a", When: "bc", Action: "allow"})
	c := Config{Policies: []PolicyConfig{{Name: "agents", Connections: []string{"sh", "op"}}}}
	d := Config{Policies: []PolicyConfig{{Name: "agents", Connections: []string{"shop"}}}}
	if version(a) == version(b) || version(c) == version(d) {
		t.Error("field boundaries are not part of the version")
	}
}
