package main

import (
	"database/sql"
	"fmt"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/gatehouse/gatehouse/internal/gate"
)

// TestE2EDatabaseSQL uses the gateway through database/sql and pgx's
// stdlib driver, the way most Go services reach PostgreSQL.
func TestE2EDatabaseSQL(t *testing.T) {
	forVariants(t, storeVariants, func(t *testing.T, v variant) {
		g := newGateway(t, gwOpts{variant: v})
		const sub = "sql-agent"
		ctx := ctxT(t)
		db, err := sql.Open("pgx", g.dsn(sub, g.token(t, sub, groupAgents)))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		const poolSize = 2
		db.SetMaxOpenConns(poolSize)
		db.SetMaxIdleConns(poolSize)

		if err := db.PingContext(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}

		t.Run("QueryRow with args", func(t *testing.T) {
			var name, city string
			if err := db.QueryRowContext(ctx, "SELECT name, city FROM customers WHERE id = $1", 12).Scan(&name, &city); err != nil {
				t.Fatal(err)
			}
			var want string
			if err := g.direct(t).QueryRow(ctx, "SELECT name || '/' || city FROM customers WHERE id = 12").Scan(&want); err != nil {
				t.Fatal(err)
			}
			if name+"/"+city != want {
				t.Fatalf("got %s/%s, want %s", name, city, want)
			}
		})

		t.Run("denied Exec", func(t *testing.T) {
			_, err := db.ExecContext(ctx, "DELETE FROM orders WHERE id = $1", 3)
			wantPgError(t, err, "DELETE with an argument", "42501", "denied by rule agents/no-writes: agents may only read")
			_, err = db.ExecContext(ctx, "DROP TABLE customers")
			wantPgError(t, err, "DROP", "42501", "denied by rule agents/no-schema-or-admin")
			if n := g.directInt(t, "SELECT count(*) FROM orders WHERE id = 3"); n != 1 {
				t.Fatal("order 3 was deleted")
			}
			// The connection that got the error goes back to the pool and
			// keeps working.
			if err := db.PingContext(ctx); err != nil {
				t.Fatalf("Ping after denials: %v", err)
			}
		})

		t.Run("Begin and Commit", func(t *testing.T) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM orders WHERE customer_id = $1", 8).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if int64(n) != g.directInt(t, "SELECT count(*) FROM orders WHERE customer_id = 8") {
				t.Fatalf("count %d", n)
			}
			// A read-only transaction (BEGIN READ ONLY) with a denied
			// statement in it: Rollback works.
			tx, err = db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				t.Fatalf("BeginTx read only: %v", err)
			}
			_, err = tx.ExecContext(ctx, "UPDATE orders SET status = 'void' WHERE id = $1", 4)
			wantPgError(t, err, "UPDATE in a transaction", "42501")
			if err := tx.Rollback(); err != nil {
				t.Fatalf("Rollback: %v", err)
			}
		})

		t.Run("pool reuse", func(t *testing.T) {
			const workers, each = 4, 10
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						id := 1 + (w*each+i)%40
						var got int
						if err := db.QueryRowContext(ctx, "SELECT id FROM customers WHERE id = $1", id).Scan(&got); err != nil {
							errs <- err
							return
						}
						if got != id {
							errs <- fmt.Errorf("asked for customer %d, got %d", id, got)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if st := db.Stats(); st.OpenConnections > poolSize {
				t.Fatalf("%d open connections, pool size %d", st.OpenConnections, poolSize)
			}
		})

		// Every connection the pool opened is one gateway session; the pool
		// reused them rather than reconnecting for each query.
		opened := db.Stats().OpenConnections
		db.Close()
		var sessions []gate.SessionSummary
		poll(t, "every session of "+sub+" closed", func() (bool, string) {
			var err error
			sessions, err = g.app.trail.Sessions(ctx, gate.SessionFilter{Subject: sub})
			if err != nil {
				return false, err.Error()
			}
			for _, s := range sessions {
				if s.Closed == nil {
					return false, "session " + s.ID + " is open"
				}
			}
			return len(sessions) > 0, "no sessions"
		})
		steps := 0
		for _, s := range sessions {
			steps += s.Steps
		}
		if len(sessions) > poolSize || len(sessions) < opened || steps < 40 {
			t.Fatalf("%d sessions with %d steps in all for a pool of %d (%d open at the end)", len(sessions), steps, poolSize, opened)
		}
	})
}
