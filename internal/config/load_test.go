package config

import (
	"github.com/gatehouse/gatehouse/internal/policy"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `listen:
  postgres: 127.0.0.1:6432
  http: 127.0.0.1:8080
store: sqlite:///tmp/gh.db
identity:
  issuers:
    - url: https://token.actions.githubusercontent.com
      audience: gatehouse
access:
  admins: ["group:platform"]
  auditors: ["group:security"]
connections:
  - name: shop
    kind: postgres
    address: db.internal:5432
    database: shop
    user: svc_shop
    password: ${SHOP_DB_PASSWORD}
    tls: prefer
policies:
  - name: agents
    match: '"agents" in identity.groups'
    connections: [shop]
    rules:
      - name: reads
        when: 'command.kind in ["read"]'
        action: allow
`

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseSample(t *testing.T) {
	f, err := Parse("gh.yaml", []byte(sample), env(map[string]string{"SHOP_DB_PASSWORD": "s3cr:et #1"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Conns[0].Password; got != "s3cr:et #1" {
		t.Fatalf("password = %q", got)
	}
	if f.Identity.Issuers[0].GroupsClaim != "groups" {
		t.Fatalf("groups_claim default not applied")
	}
	if u := f.Upstreams()["shop"]; u == nil || u.User != "svc_shop" || u.TLS != "prefer" {
		t.Fatalf("upstreams = %+v", f.Upstreams())
	}
	if pc := f.PolicyConfig(); len(pc.Policies) != 1 || pc.Policies[0].Rules[0].Action != "allow" {
		t.Fatalf("policy config = %+v", pc)
	}
}

// Each case breaks the sample one way; the error must name the key and
// the line so a user can find it.
func TestParseErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct {
		name, old, new string
		env            map[string]string
		want           []string
	}{
		{"unknown key", "    tls: prefer\n", "    tls: prefer\n    tsl: x\n", nil, []string{"gh.yaml:20", "tsl"}},
		{"unknown top key", "store:", "stroe: x\nstore:", nil, []string{"gh.yaml:4", "stroe"}},
		{"missing env", "", "", map[string]string{}, []string{"gh.yaml:18", "connections[0].password", "SHOP_DB_PASSWORD is not set"}},
		{"bad tls mode", "tls: prefer", "tls: maybe", nil, []string{"gh.yaml:19", "connections[0].tls", "verify-full"}},
		{"verify-full without ca", "tls: prefer", "tls: verify-full", nil, []string{"connections[0].ca_file", "required"}},
		{"bad kind", "kind: postgres", "kind: oracle", nil, []string{"connections[0].kind", "oracle"}},
		{"bad address", "db.internal:5432", "db.internal", nil, []string{"connections[0].address"}},
		{"policy names unknown connection", "connections: [shop]", "connections: [shopp]", nil, []string{"policies[0].connections[0]", "shopp", "gh.yaml:23"}},
		{"bad access entry", `["group:platform"]`, `["platform"]`, nil, []string{"access.admins", "group:NAME"}},
		{"http issuer", "https://token.actions", "http://token.actions", nil, []string{"identity.issuers[0].url", "https"}},
		{"no audience", "      audience: gatehouse\n", "", nil, []string{"identity.issuers[0].audience", "required"}},
		{"bad store", "sqlite:///tmp/gh.db", "mysql://x", nil, []string{"store", "mysql"}},
		{"two documents", "", "---\na: 1\n", nil, []string{"one YAML document"}},
		{"bad duration", "", "limits:\n  shutdown_grace: 10\n", nil, []string{"gh.yaml:29", "limits.shutdown_grace", "invalid duration"}},
		{"bad max_grant", "    tls: prefer\n", "    tls: prefer\n    max_grant: forever\n", nil, []string{"gh.yaml:20", "connections[0].max_grant"}},
		{"wrong type", "", "identity2: x\n", nil, []string{"gh.yaml:28", "identity2"}},
		{"bool type", "identity:\n", "identity:\n  dev: maybe\n", nil, []string{"gh.yaml:6", "identity.dev", "want bool, got string"}},
		{"duplicate key", "", "store: sqlite:///tmp/other.db\n", nil, []string{"gh.yaml:28", `mapping key "store" already defined`}},
		{"sqlite with host", "sqlite:///tmp/gh.db", "sqlite://tmp/gh.db", nil, []string{"store", "three slashes"}},
		{"notify format", "", "approvals:\n  notify:\n    - {url: https://hooks.example/x, format: teams}\n", nil, []string{"approvals.notify[0].format", "teams"}},
		{"notify url", "", "approvals:\n  notify:\n    - {url: ftp://x}\n", nil, []string{"approvals.notify[0].url"}},
		{"ui without client", "  issuers:", "  ui: {issuer: https://login.example}\n  issuers:", nil, []string{"identity.ui.client_id", "required"}},
		{"bad approver entry", `auditors: ["group:security"]`, "auditors: [\"group:security\"]\n  approvers: [dba]", nil, []string{"access.approvers"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := sample
			if tc.old != "" || tc.new != "" {
				if tc.old == "" {
					src += tc.new
				} else {
					src = strings.Replace(src, tc.old, tc.new, 1)
				}
			}
			e := tc.env
			if e == nil {
				e = map[string]string{"SHOP_DB_PASSWORD": "x"}
			}
			_, err := Parse("gh.yaml", []byte(src), env(e))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestApprovalKeysAndBlockScalars(t *testing.T) {
	src := sample + `approvals:
  timeout: 5m
  notify:
    - {url: https://hooks.slack.com/services/x, format: slack}
    - url: https://ops.example/hooks/gatehouse
external_url: https://gw.example/
`
	src = strings.Replace(src, "auditors: [\"group:security\"]", "auditors: [\"group:security\"]\n  approvers: [\"group:dba\"]", 1)
	src = strings.Replace(src, "    tls: prefer\n", "    tls: prefer\n    dry_run: true\n    max_grant: 2h\n", 1)
	src = strings.Replace(src, "        action: allow\n", "        action: allow\n      - name: big-writes\n        when: |\n          command.kind == \"${KIND}\"\n        action: review\n", 1)
	f, err := Parse("x", []byte(src), env(map[string]string{"SHOP_DB_PASSWORD": "x", "KIND": "write"}))
	if err != nil {
		t.Fatal(err)
	}
	if f.Approvals.Timeout.D().Minutes() != 5 || len(f.Approvals.Notify) != 2 || f.Approvals.Notify[1].Format != "json" {
		t.Fatalf("approvals = %+v", f.Approvals)
	}
	if f.ExternalURL != "https://gw.example" || !f.Conns[0].DryRun || f.Conns[0].MaxGrant.D().Hours() != 2 {
		t.Fatalf("external_url %q conns %+v", f.ExternalURL, f.Conns[0])
	}
	rule := f.PolicyConfig().Policies[0].Rules[1]
	if strings.TrimSpace(rule.When) != `command.kind == "write"` {
		t.Fatalf("block scalar not expanded: %q", rule.When)
	}
	// A review rule without approvers takes access.approvers.
	if len(rule.Approvers) != 1 || rule.Approvers[0] != "group:dba" {
		t.Fatalf("approvers = %v", rule.Approvers)
	}
}

func TestMaskingIsPartOfThePolicyVersion(t *testing.T) {
	version := func(src string) string {
		f, err := Parse("x", []byte(src), env(map[string]string{"SHOP_DB_PASSWORD": "x"}))
		if err != nil {
			t.Fatal(err)
		}
		eng, err := policy.New(f.PolicyConfig())
		if err != nil {
			t.Fatal(err)
		}
		return eng.Version()
	}
	masked := strings.Replace(sample, "    rules:\n", "    mask: {columns: [customers.ssn]}\n    rules:\n", 1)
	other := strings.Replace(sample, "    rules:\n", "    mask: {columns: [customers.email]}\n    rules:\n", 1)
	v0, v1, v2 := version(sample), version(masked), version(other)
	if v0 == v1 || v1 == v2 || v1 != version(masked) {
		t.Fatalf("versions %s %s %s", v0, v1, v2)
	}
}

func TestPasswordFileAndEscapes(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "pw")
	if err := os.WriteFile(pf, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(sample, "password: ${SHOP_DB_PASSWORD}", "password_file: "+pf, 1)
	src = strings.Replace(src, "user: svc_shop", "user: \"$${LITERAL}\"", 1)
	f, err := Parse("x", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if f.Conns[0].Password != "from-file" || f.Conns[0].User != "${LITERAL}" {
		t.Fatalf("password %q user %q", f.Conns[0].Password, f.Conns[0].User)
	}
	both := strings.Replace(sample, "password: ${SHOP_DB_PASSWORD}", "password: x\n    password_file: "+pf, 1)
	if _, err := Parse("x", []byte(both), env(nil)); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("password and password_file: %v", err)
	}
}
