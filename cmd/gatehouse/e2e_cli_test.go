package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cliConfig is a complete configuration that check and explain can read
// without anything running: they never connect.
func cliConfig(dir string) string {
	return fmt.Sprintf(`node: cli
listen:
  postgres: 127.0.0.1:0
  http: 127.0.0.1:0
store: sqlite://%s/gatehouse.db
identity:
  issuers:
    - url: http://127.0.0.1:9
      audience: gatehouse
access:
  auditors: ["group:security"]
connections:
  - name: shop
    kind: postgres
    address: 127.0.0.1:5432
    database: shop
    user: svc_shop
    password: not-used
policies:`, dir) + readOnlyPolicies
}

// writeConfig writes text to a file in dir and returns its path.
func writeConfig(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lineOf returns the 1-based line of the first line containing s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q is not in the text", s)
	return 0
}

func TestE2ECLICheck(t *testing.T) {
	dir := t.TempDir()
	good := cliConfig(dir)
	path := writeConfig(t, dir, "good.yaml", good)
	out, _, err := runCLI(t, "check", "--config", path)
	if err != nil || !strings.HasPrefix(out, path+": ok (1 connections, 1 policies, 3 rules, policy version ") {
		t.Fatalf("check of a good file: %v\n%s", err, out)
	}

	cases := []struct {
		name, from, to string
		parts          []string // in the error, besides the file name
		at             string   // the error names the line holding this ("": no line)
	}{
		{"typo in a rule key", "        action: allow", "        actoin: allow", []string{"actoin"}, "actoin"},
		{"typo in a top-level key", "listen:", "lisen:", []string{"lisen"}, "lisen"},
		{"unknown connection in a policy", "connections: [shop]", "connections: [shops]",
			[]string{"policies[0].connections[0]", `no connection named "shops"`}, "[shops]"},
		{"bad TLS mode", "    password: not-used", "    password: not-used\n    tls: sometimes",
			[]string{"connections[0].tls", `"sometimes"`}, "tls: sometimes"},
		{"rule that does not compile", `when: 'command.kind == "write"'`, `when: 'command.kind = "write"'`,
			[]string{"agents", "no-writes"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.Replace(good, c.from, c.to, 1)
			if text == good {
				t.Fatalf("%q is not in the configuration", c.from)
			}
			p := writeConfig(t, t.TempDir(), "bad.yaml", text)
			out, _, err := runCLI(t, "check", "--config", p)
			wantExit(t, err, 1, append([]string{p}, c.parts...)...)
			if out != "" {
				t.Errorf("check printed %q for a bad file", out)
			}
			// Errors from decoding and validation name the line too; a
			// policy compile error names policy and rule instead.
			if c.at != "" {
				if line := lineOf(t, text, c.at); !strings.Contains(err.Error(), fmt.Sprintf("%s:%d:", p, line)) {
					t.Errorf("error %q does not name line %d", err, line)
				}
			}
			t.Log(err)
		})
	}
}

func TestE2ECLIExplain(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "gatehouse.yaml", cliConfig(dir))
	agent := `{"sub":"a","groups":["agents"]}`
	explain := func(claims, sql string) (string, error) {
		t.Helper()
		out, _, err := runCLI(t, "explain", "--config", path, "--claims", claims, "--connection", "shop", sql)
		return out, err
	}

	t.Run("write", func(t *testing.T) {
		out, err := explain(agent, "DELETE FROM orders")
		wantExit(t, err, 1, "deny")
		for _, want := range []string{
			"kind:           write\n", "statements:     DELETE\n", "orders", "has_where:      false\n",
			"decision:       deny by agents/no-writes: agents may only read\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("explain lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("read with intent", func(t *testing.T) {
		out, err := explain(agent, "SELECT * FROM orders WHERE id = 7 "+auditComment)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{
			"kind:           read\n", "reason:         checking refund status\n", "trace_id:       " + auditTrace + "\n",
			"evaluation:\n", "decision:       allow by agents/reads\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("explain lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("ddl", func(t *testing.T) {
		out, err := explain(agent, "DROP TABLE orders")
		wantExit(t, err, 1)
		if !strings.Contains(out, "kind:           ddl\n") ||
			!strings.Contains(out, "decision:       deny by agents/no-schema-or-admin: schema and admin changes are not allowed for agents\n") {
			t.Errorf("explain:\n%s", out)
		}
	})

	t.Run("no policy applies", func(t *testing.T) {
		out, err := explain(`{"sub":"intern-1","groups":["interns"]}`, "SELECT 1")
		wantExit(t, err, 1)
		if !strings.Contains(out, `decision:       deny: no policy applies to intern-1 on connection "shop"`) {
			t.Errorf("explain:\n%s", out)
		}
	})

	t.Run("parse error", func(t *testing.T) {
		out, err := explain(agent, "SELEC * FROM orders")
		wantExit(t, err, 1, "denied")
		if !strings.HasPrefix(out, "classification: cannot parse: ") || !strings.Contains(out, `"SELEC"`) ||
			!strings.Contains(out, "decision:       deny (statements that do not parse are never forwarded)") {
			t.Errorf("explain:\n%s", out)
		}
	})

	t.Run("unknown connection", func(t *testing.T) {
		_, _, err := runCLI(t, "explain", "--config", path, "--claims", agent, "--connection", "crm", "SELECT 1")
		if err == nil || !strings.Contains(err.Error(), `no connection named "crm"`) {
			t.Errorf("explain on an unknown connection: %v", err)
		}
	})

	t.Run("claims not JSON", func(t *testing.T) {
		_, _, err := runCLI(t, "explain", "--config", path, "--claims", "sub=a", "--connection", "shop", "SELECT 1")
		if err == nil || !strings.Contains(err.Error(), "--claims") {
			t.Errorf("explain with bad claims: %v", err)
		}
	})
}
