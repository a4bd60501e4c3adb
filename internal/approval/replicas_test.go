package approval

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestCrossReplicaWake: two gateways on one PostgreSQL database (each its
// own Store, so its own pool and listener). A statement waits on A and is
// approved through B; A resumes within a second. Nothing polls: the wall
// clock Service has a 10-minute timeout and a one-hour sweep, so without
// the NOTIFY reaching A's listener the wait would not end in time.
func TestCrossReplicaWake(t *testing.T) {
	e := newEnv(t, "postgres")
	real := func(c *Config) { c.Clock, c.SweepInterval = gate.SystemClock{}, time.Hour }
	a := e.service(nil, real)
	b := e.service(e.openStore(), real)
	ctx := context.Background()
	var worst time.Duration
	for i := range 5 {
		req := mustRequest(t, a, stmt(deleteOrders))
		ch := goWait(ctx, a, req.ID)
		blocked(t, ch)
		approve := i%2 == 0
		decided := time.Now()
		mustDecide(t, b, req.ID, alice, approve, "")
		r := result(t, ch)
		lat := r.at.Sub(decided)
		worst = max(worst, lat)
		want := gate.ApprovalUsed
		if !approve {
			want = gate.ApprovalDenied
		}
		if r.err != nil || r.a.Status != want {
			t.Fatalf("round %d: Wait = %+v, %v", i, r.a, r.err)
		}
		t.Logf("round %d: the waiter on replica A resumed %v after the decision on replica B", i, lat)
		if lat > time.Second {
			t.Fatalf("round %d: resumed %v after the decision, want < 1s", i, lat)
		}
	}
	t.Logf("worst cross-replica resume latency: %v", worst)
}

// TestRestart: a new Service on the same database (a restarted gateway)
// sees pending requests and active grants; a deferred statement approved
// after the restart is redeemed by its retry.
func TestRestart(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		first := e.service(nil)
		req := stmt(deleteOrders)
		req.Decision.Review.Mode = "defer"
		pending := mustRequest(t, first, req)
		g, err := first.RequestGrant(ctx, bot, gate.GrantSpec{Connection: "shop", Access: "write", Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		mustDecide(t, first, g.ID, alice, true, "")
		if err := first.Close(ctx); err != nil {
			t.Fatal(err)
		}

		second := e.service(e.openStore())
		list, err := second.List(ctx, gate.ApprovalFilter{Status: gate.ApprovalPending})
		if err != nil || len(list) != 1 || list[0].ID != pending.ID || list[0].Request.Command.Text != deleteOrders {
			t.Fatalf("pending after restart: %v, %v", list, err)
		}
		if got := grants(t, second, bot); !reflect.DeepEqual(got, []string{"shop:write"}) {
			t.Fatalf("grants after restart: %v", got)
		}
		mustDecide(t, second, pending.ID, bob, true, "")
		if a, ok, err := second.Redeem(ctx, stmt(deleteOrders)); !ok || err != nil || a.ID != pending.ID {
			t.Fatalf("retry after restart: %+v %v %v", a, ok, err)
		}
	})
}

// TestSubscribe: subscribers hear every change from every replica, and
// their channel closes with ctx.
func TestSubscribe(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		s := e.service(nil)
		other := e.service(e.openStore())
		ctx, cancel := context.WithCancel(context.Background())
		events := s.Subscribe(ctx)
		a := mustRequest(t, s, stmt(deleteOrders))
		waitEvent(t, events, a.ID, gate.ApprovalPending)
		mustDecide(t, other, a.ID, alice, false, "")
		waitEvent(t, events, a.ID, gate.ApprovalDenied)
		cancel()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case _, ok := <-events:
				if !ok {
					return
				}
			case <-deadline:
				t.Fatal("subscription not closed after ctx ended")
			}
		}
	})
}

// TestListenerOutage: while replica A's listener is down, its grants are
// withheld (a revocation elsewhere might be missed); a revocation made on
// replica B meanwhile is applied once A's listener is back.
func TestListenerOutage(t *testing.T) {
	e := newEnv(t, "postgres")
	ctx := context.Background()
	a := e.service(nil)
	b := e.service(e.openStore())
	g, err := a.RequestGrant(ctx, bot, gate.GrantSpec{Connection: "shop", Access: "write", Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mustDecide(t, a, g.ID, alice, true, "")
	if got := grants(t, a, bot); len(got) != 1 {
		t.Fatalf("grants %v", got)
	}
	events := a.Subscribe(ctx)
	pg := testenv.SharedPostgres(t)
	role := strings.SplitN(strings.TrimPrefix(e.url, "postgres://"), ":", 2)[0]
	db := e.url[strings.LastIndex(e.url, "/")+1 : strings.Index(e.url, "?")]
	exec := func(q string) {
		t.Helper()
		if err := pg.Exec(ctx, "", q); err != nil {
			t.Fatal(err)
		}
	}
	// Keep the listeners from reconnecting, then cut them.
	exec(`ALTER ROLE ` + role + ` NOLOGIN`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + db + `' AND application_name = 'gatehouse approvals listener'`)
	eventually(t, "grants withheld while the listener is down", func() bool {
		_, err := a.Grants(ctx, bot)
		return err != nil
	})
	if _, err := b.Revoke(ctx, g.ID, alice, "incident"); err != nil {
		t.Fatal(err)
	}
	exec(`ALTER ROLE ` + role + ` LOGIN`)
	waitEvent(t, events, "", "") // resumed: reload
	if got := grants(t, a, bot); len(got) != 0 {
		t.Fatalf("after the outage the revoked grant is still active: %v", got)
	}
}
