package main

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestE2EGracefulShutdown: a.stop (what SIGTERM runs) closes idle sessions
// at once, lets a running statement complete and deliver its result, then
// ends that session with FATAL 57P01, refuses new connections, and flushes
// the audit trail before closing the store.
//
// The running statement is held by a lock the test owns, so the order of
// events does not depend on timing: the statement (which also sleeps 0.5 s)
// can only finish after the test has seen the shutdown begin.
func TestE2EGracefulShutdown(t *testing.T) {
	forVariants(t, storeVariants, func(t *testing.T, v variant) {
		g := newGateway(t, gwOpts{variant: v})
		ctx := ctxT(t)
		busy := g.connect(t, "busy-agent", groupAgents)
		idle := g.connect(t, "idle-agent", groupAgents)
		if _, err := idle.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}

		// The statement goes as one simple-protocol Query, which the gateway
		// records and queues before forwarding it, so once the upstream is
		// seen waiting on it, the gateway counts it as running. (With the
		// extended protocol the upstream may already wait in Parse or Bind
		// while the gateway is still recording the Execute; a shutdown
		// then refuses that Execute with 57P01, and the statement never
		// runs.)
		const q = "SELECT count(*) FROM notes, pg_sleep(0.5)"
		// Hold a lock on notes so that the agent's statement blocks.
		direct := g.direct(t)
		lock, err := direct.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Rollback(context.Background())
		if _, err := lock.Exec(ctx, "LOCK TABLE notes IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			var n int
			err := busy.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&n)
			done <- result{n, err}
		}()
		watch := g.direct(t)
		poll(t, "the agent's statement waiting upstream", func() (bool, string) {
			var n int
			err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT count(*) FROM notes, pg_sleep%'`).Scan(&n)
			if r := doneNow(done); r != nil {
				t.Fatalf("the statement ended before the lock was released: %d, %v", r.n, r.err)
			}
			return err == nil && n == 1, fmt.Sprint(n, err)
		})

		stopped := make(chan struct{})
		go func() { g.stop(); close(stopped) }()

		// The idle session is closed at once: that is how we know the
		// shutdown has begun.
		err = idle.PgConn().WaitForNotification(ctx)
		wantPgError(t, err, "idle session at shutdown", "57P01", "gatehouse: the gateway is shutting down")
		// No new connections.
		if c, err := net.DialTimeout("tcp", g.app.pgAddr, 5*time.Second); err == nil {
			c.Close()
			t.Fatal("the PostgreSQL listener still accepts connections during shutdown")
		}
		select {
		case <-stopped:
			t.Fatal("stop returned while a statement was still running")
		case r := <-done:
			t.Fatalf("the running statement ended when the shutdown began: %d, %v", r.n, r.err)
		default:
		}

		if err := lock.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		var r result
		select {
		case r = <-done:
		case <-time.After(e2eTimeout):
			t.Fatal("the statement did not complete")
		}
		if r.err != nil || r.n != 0 {
			t.Fatalf("the statement running at shutdown: %d, %v; want its result", r.n, r.err)
		}
		err = busy.PgConn().WaitForNotification(ctx)
		wantPgError(t, err, "busy session after its statement", "57P01", "shutting down")
		select {
		case <-stopped:
		case <-time.After(e2eTimeout):
			t.Fatal("stop did not return")
		}

		// The trail was flushed before the store closed: reopen it.
		st, err := store.Open(ctx, g.storeURL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		trail := audit.NewTrail(st)
		for _, sub := range []string{"busy-agent", "idle-agent"} {
			list, err := trail.Sessions(ctx, gate.SessionFilter{Subject: sub})
			if err != nil || len(list) != 1 || list[0].Closed == nil || list[0].EndReason != "gateway shutdown" {
				t.Fatalf("%s after shutdown: %+v, %v", sub, list, err)
			}
			rec, err := trail.Session(ctx, list[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			last := rec.Steps[len(rec.Steps)-1]
			if o := last.Outcome; o == nil || o.Tag != "SELECT 1" || o.Error != "" {
				t.Errorf("%s: last step %q has outcome %+v", sub, last.Command.Text, o)
			}
		}
	})
}

func doneNow[T any](ch chan T) *T {
	select {
	case v := <-ch:
		return &v
	default:
		return nil
	}
}
