package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// psqlResult is what one run of the psql binary did.
type psqlResult struct {
	stdout, stderr string
	code           int
}

func (r psqlResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// needPsql skips the test when the psql binary is absent.
func needPsql(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql is not installed (Debian package postgresql-client)")
	}
}

// cleanEnv is the process environment without libpq's PG* variables and
// with the C locale, so that psql messages are in English.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"LC_ALL=C", "PGCONNECT_TIMEOUT=30"}, extra...)...)
}

// psql runs the real psql binary against the gateway, token in PGPASSWORD
// as a user would, with no psqlrc and ON_ERROR_STOP.
func (g *gateway) psql(t *testing.T, token, sslmode string, args ...string) psqlResult {
	t.Helper()
	h, p := g.hostPort()
	conn := fmt.Sprintf("host=%s port=%s dbname=shop user=psql-agent sslmode=%s", h, p, sslmode)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", append([]string{"-X", "--no-password", "-v", "ON_ERROR_STOP=1", "-d", conn}, args...)...)
	cmd.Env = cleanEnv("PGPASSWORD=" + token)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := psqlResult{stdout: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		t.Fatalf("psql %v did not finish in %s: %s\ngoroutines: %s", args, e2eTimeout, r, dumpGoroutines(t))
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("psql: %v", err)
	}
	return r
}

// psqlDenied runs command with psql and checks that the gateway refused it:
// a non-zero exit, want on stderr, and check (a count straight on the
// upstream) still at n. A failure reports the session's steps.
func (g *gateway) psqlDenied(t *testing.T, token, command, want, check string, n int64) psqlResult {
	t.Helper()
	r := g.psql(t, token, "require", "-c", command)
	got := g.directInt(t, check)
	if r.code == 0 || !strings.Contains(r.stderr, want) || got != n {
		t.Fatalf("%q was not refused as expected (want %q on stderr; %s = %d, want %d):\n%s\nsession:\n%s",
			command, want, check, got, n, r, describeSteps(g.closedSession(t, "psql-agent")))
	}
	return r
}

func TestE2EPsql(t *testing.T) {
	needPsql(t)
	forVariants(t, allVariants, func(t *testing.T, v variant) {
		g := newGateway(t, gwOpts{variant: v})
		tok := g.token(t, "psql-agent", groupAgents)

		t.Run("select", func(t *testing.T) {
			r := g.psql(t, tok, "require", "-At", "-c", "select count(*) from orders where status = 'paid'")
			want := fmt.Sprint(g.directInt(t, "select count(*) from orders where status = 'paid'"))
			if r.code != 0 || strings.TrimSpace(r.stdout) != want {
				t.Fatalf("want %s and exit 0, got %s", want, r)
			}
		})

		t.Run("drop denied", func(t *testing.T) {
			g.psqlDenied(t, tok, "drop table orders",
				"gatehouse: denied by rule agents/no-schema-or-admin: schema and admin changes are not allowed for agents",
				"select count(*) from orders", 300)
		})

		t.Run("write denied", func(t *testing.T) {
			g.psqlDenied(t, tok, "insert into notes values (1, 'psql')",
				"denied by rule agents/no-writes: agents may only read", "select count(*) from notes", 0)
		})

		t.Run("multi-statement", func(t *testing.T) {
			// A read followed by a write in one Query is as privileged as
			// its most privileged statement: refused whole, nothing runs.
			r := g.psqlDenied(t, tok, "select count(*) from orders; insert into notes values (9, 'smuggled')",
				"denied by rule agents/no-writes", "select count(*) from notes", 0)
			if strings.Contains(r.stdout, "300") {
				t.Fatalf("the read before the refused write ran:\n%s", r)
			}
			g.psqlDenied(t, tok, "select 1; drop table customers cascade",
				"denied by rule agents/no-schema-or-admin", "select count(*) from customers", 40)
			r = g.psql(t, tok, "require", "-At", "-c", "select 1; select 2")
			if r.code != 0 || r.stdout != "1\n2\n" {
				t.Fatalf("two reads in one query:\n%s", r)
			}
		})

		t.Run(`\copy`, func(t *testing.T) {
			r := g.psql(t, tok, "require", "-c", `\copy (select id, status from orders where id <= 3 order by id) to stdout`)
			if r.code != 0 || strings.Count(r.stdout, "\n") != 3 || !strings.HasPrefix(r.stdout, "1\t") {
				t.Fatalf("\\copy to stdout:\n%s", r)
			}
			in := filepath.Join(t.TempDir(), "notes.tsv")
			if err := os.WriteFile(in, []byte("1\tfrom a file\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			g.psqlDenied(t, tok, `\copy notes from '`+in+`'`, "denied by rule agents/no-writes", "select count(*) from notes", 0)
		})

		// psql implements its backslash commands with catalog queries
		// (pg_catalog functions, regclass casts, CASE over relkind...);
		// under the read-only policy they must all be reads.
		// Classification does not depend on the store or the issuer: the
		// meta-commands (each a connection and several recorded steps) run
		// in one variant.
		t.Run("meta-commands", func(t *testing.T) {
			if v != sqliteOIDC {
				return
			}
			cases := []struct{ cmd, want string }{
				{`\d`, "orders"},
				{`\d orders`, "customer_id"}, // calls pg_relation_is_publishable
				{`\d+ customers`, "Access method"},
				{`\dt`, "customers"},
				{`\dt+`, "Size"},
				{`\di`, "orders_pkey"},
				{`\ds`, "Did not find any relations"},
				{`\dm`, "Did not find any relations"},
				{`\dn`, "public"},
				{`\df`, "List of functions"},
				{`\df+ pg_catalog.lower`, "lower"},
				{`\dv`, "Did not find any relations"},
				{`\du`, g.shop.User},
				{`\l`, g.shop.Name},
				{`\dx`, "plpgsql"},
				{`\dT`, "List of data types"},
				{`\dD`, "List of domains"},
				{`\do pg_catalog.+`, "List of operators"},
				{`\dC`, "List of casts"},
				{`\dd`, "Object descriptions"},
				{`\dp orders`, "Access privileges"},
				{`\z orders`, "Access privileges"},
				{`\dRp`, "List of publications"},
				{`\dconfig`, "Parameter"},
				{`\encoding`, "UTF8"},
			}
			for _, c := range cases {
				t.Run(c.cmd, func(t *testing.T) {
					r := g.psql(t, tok, "require", "-c", c.cmd)
					if r.code != 0 || !strings.Contains(r.stdout+r.stderr, c.want) {
						t.Errorf("want exit 0 and %q in the output, got %s\n%s", c.want, r, g.lastDenials(t, "psql-agent"))
					}
				})
			}
		})

		t.Run("sslmode=require", func(t *testing.T) {
			// The gateway has no tls files configured, so it serves a
			// self-signed certificate; require encrypts without verifying.
			r := g.psql(t, tok, "require", "-c", `\conninfo`)
			if r.code != 0 || !strings.Contains(r.stdout, "SSL connection (protocol: TLS") {
				t.Fatalf("\\conninfo does not report TLS:\n%s", r)
			}
			r = g.psql(t, tok, "verify-full", "-c", "select 1")
			if r.code == 0 {
				t.Fatalf("verify-full accepted the self-signed certificate:\n%s", r)
			}
		})
	})
}
