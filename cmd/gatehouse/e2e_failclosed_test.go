package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestE2EAuditFailsClosed: when the audit store fails mid-session, the next
// statement is refused with SQLSTATE 58000 and does not run (checked by the
// side effect of a write the policy allows), new sessions are refused and
// /healthz reports the store. On PostgreSQL the store then comes back and
// the gateway recovers with an intact chain.
func TestE2EAuditFailsClosed(t *testing.T) {
	forVariants(t, storeVariants, func(t *testing.T, v variant) {
		g := newGateway(t, gwOpts{variant: v, policies: writerPolicies})
		ctx := ctxT(t)
		c := g.connect(t, "writer-1", groupWriters)
		if _, err := c.Exec(ctx, "INSERT INTO notes VALUES ($1, $2)", 1, "store up"); err != nil {
			t.Fatalf("allowed write with the store up: %v", err)
		}
		if n := g.directInt(t, "SELECT count(*) FROM notes"); n != 1 {
			t.Fatalf("notes has %d rows, want 1", n)
		}

		restore := g.breakStore(t)

		const unavailable = "gatehouse: audit store unavailable, so the statement was not run"
		_, err := c.Exec(ctx, "INSERT INTO notes VALUES ($1, $2)", 2, "store down, extended")
		told := []string{wantPgError(t, err, "extended-protocol INSERT with the store down", "58000", unavailable).Message}
		_, err = c.Exec(ctx, "INSERT INTO notes VALUES (3, 'store down, simple')", pgx.QueryExecModeSimpleProtocol)
		told = append(told, wantPgError(t, err, "simple-protocol INSERT with the store down", "58000", unavailable).Message)
		var one int
		err = c.QueryRow(ctx, "SELECT 1").Scan(&one)
		told = append(told, wantPgError(t, err, "SELECT with the store down", "58000", unavailable).Message)
		if n := g.directInt(t, "SELECT count(*) FROM notes"); n != 1 {
			t.Fatalf("notes has %d rows: a statement ran although it could not be recorded", n)
		}

		_, err = pgconn.Connect(ctx, g.dsn("writer-2", g.token(t, "writer-2", groupWriters)))
		pe := wantPgError(t, err, "new session with the store down", "58000", "audit store unavailable")
		if pe.Severity != "FATAL" {
			t.Errorf("severity %s, want FATAL", pe.Severity)
		}
		told = append(told, pe.Message)
		t.Run("clients are not told about the store", func(t *testing.T) {
			for _, m := range told {
				for _, secret := range g.storeDetails() {
					if strings.Contains(m, secret) {
						t.Errorf("the agent was told %q, which names the audit store's %q", m, secret)
						break
					}
				}
			}
		})
		if code, body := g.api(t, "", "/healthz", nil); code != 503 || !strings.Contains(body, "store") {
			t.Errorf("/healthz with the store down: %d %s", code, body)
		}

		if n := g.metric(t, "gatehouse_audit_errors_total"); n < 1 {
			t.Errorf("gatehouse_audit_errors_total = %v after failed recordings", n)
		}

		if restore == nil {
			return
		}
		restore()
		// The recorder re-reads the chain head after a failed commit, so
		// writes resume without forking the chain.
		poll(t, "a write through the gateway once the store is back", func() (bool, string) {
			_, err := c.Exec(ctx, "INSERT INTO notes VALUES ($1, $2)", 4, "store back")
			return err == nil, fmt.Sprint(err)
		})
		if n := g.directInt(t, "SELECT count(*) FROM notes"); n != 2 {
			t.Fatalf("notes has %d rows after recovery, want 2", n)
		}
		if code, body := g.api(t, "", "/healthz", nil); code != 200 {
			t.Errorf("/healthz after recovery: %d %s", code, body)
		}
		closeConn(c)
		g.stop()
		if out, _, err := runCLI(t, "audit", "verify", "--config", g.cfgPath); err != nil {
			t.Fatalf("audit verify after the outage: %v\n%s", err, out)
		}
	})
}

// storeDetails are facts about the audit store an agent has no business
// learning: its address, role and database, file path, chain name.
func (g *gateway) storeDetails() []string {
	if g.opts.engine == "sqlite" {
		return []string{g.sqlite, g.node}
	}
	return []string{g.storeDB.User, g.storeDB.Name, g.pg.Addr(), g.node}
}

// breakStore makes the audit store fail. PostgreSQL: the store's role may
// no longer log in and its connections are terminated, as when the
// database goes away; restore lets it back in. SQLite: the store is closed
// under the running gateway (an embedded file has no outage to stage
// without root tricks); restore is nil.
func (g *gateway) breakStore(t *testing.T) (restore func()) {
	t.Helper()
	if g.opts.engine == "sqlite" {
		if err := g.app.store.Close(); err != nil {
			t.Fatal(err)
		}
		return nil
	}
	su := func(sql ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
		defer cancel()
		if err := g.pg.Exec(ctx, "", sql...); err != nil {
			t.Fatal(err)
		}
	}
	su("ALTER ROLE "+g.storeDB.User+" NOLOGIN",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '"+g.storeDB.User+"'")
	return func() { su("ALTER ROLE " + g.storeDB.User + " LOGIN") }
}
