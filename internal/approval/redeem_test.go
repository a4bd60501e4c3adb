package approval

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// TestDeferThenRedeem: a deferred request, once approved, authorizes the
// identical retry once; a second redeem finds nothing.
func TestDeferThenRedeem(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.service(nil)
		req := stmt(deleteOrders+" AND id = $1", "7")
		req.Decision.Review.Mode = "defer"
		if _, ok, err := s.Redeem(ctx, req); ok || err != nil {
			t.Fatalf("Redeem before any request: %v %v", ok, err)
		}
		a := mustRequest(t, s, req)
		if _, ok, _ := s.Redeem(ctx, req); ok {
			t.Fatal("a pending request was redeemed")
		}
		mustDecide(t, s, a.ID, alice, true, "go ahead")
		// The retry carries a new traceparent comment: still the same statement.
		retry := stmt(deleteOrders+"  AND id = $1 /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/", "7")
		got, ok, err := s.Redeem(ctx, retry)
		if err != nil || !ok || got.ID != a.ID || got.Status != gate.ApprovalUsed || len(got.Votes) != 1 {
			t.Fatalf("Redeem = %+v, %v, %v", got, ok, err)
		}
		if _, ok, err := s.Redeem(ctx, retry); ok || err != nil {
			t.Fatalf("second Redeem: ok=%v err=%v, want nothing", ok, err)
		}
	})
}

// TestRedeemExactness: an approval binds identity, connection, statement,
// parameters and policy version; anything else is not redeemed.
func TestRedeemExactness(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.service(nil)
		base := func() *gate.ApprovalRequest {
			r := stmt("UPDATE orders SET status = $1 WHERE id = $2 AND note = $3", "void", "7", "")
			r.Command.ParamNulls = []bool{false, false, true}
			return r
		}
		a := mustRequest(t, s, base())
		mustDecide(t, s, a.ID, alice, true, "")
		for _, tc := range []struct {
			name string
			edit func(r *gate.ApprovalRequest)
		}{
			{"changed statement", func(r *gate.ApprovalRequest) { r.Command.Text += " AND 1 = 1" }},
			{"changed literal case", func(r *gate.ApprovalRequest) {
				r.Command.Text = "UPDATE orders SET status = $1 WHERE ID = $2 AND note = $3"
			}},
			{"different parameter", func(r *gate.ApprovalRequest) { r.Command.Params[1] = "8" }},
			{"empty string instead of NULL", func(r *gate.ApprovalRequest) { r.Command.ParamNulls = nil }},
			{"extra parameter", func(r *gate.ApprovalRequest) { r.Command.Params = append(r.Command.Params, "x") }},
			{"different identity", func(r *gate.ApprovalRequest) { r.Identity = mallory }},
			{"same subject, other issuer", func(r *gate.ApprovalRequest) {
				id := *bot
				id.Issuer = "https://other-idp.example"
				r.Identity = &id
			}},
			{"different connection", func(r *gate.ApprovalRequest) { r.Target.Name = "billing" }},
			{"different policy version", func(r *gate.ApprovalRequest) { r.Decision.PolicyVersion = "v2" }},
		} {
			r := base()
			tc.edit(r)
			if got, ok, err := s.Redeem(ctx, r); ok || err != nil {
				t.Errorf("%s: redeemed %+v (err %v)", tc.name, got, err)
			}
		}
		// Layout and comments do not matter, and other request details
		// (session, step, reason, trace) are not part of the key.
		r := base()
		r.Command.Text = "/* retry */ UPDATE orders\n  SET status = $1 WHERE id = $2 AND note = $3 -- again"
		r.SessionID, r.Step, r.Command.Request = "sess-2", 9, gate.Request{Reason: "retrying"}
		if _, ok, err := s.Redeem(ctx, r); !ok || err != nil {
			t.Fatalf("the same statement was not redeemed: %v", err)
		}
	})
}

// TestRedeemLapses: an approved statement is redeemable for RedeemWindow.
func TestRedeemLapses(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		s := e.service(nil, func(c *Config) { c.RedeemWindow = 15 * time.Minute })
		a := mustRequest(t, s, stmt(deleteOrders))
		mustDecide(t, s, a.ID, alice, true, "")
		e.clock.Advance(15 * time.Minute)
		if _, ok, err := s.Redeem(context.Background(), stmt(deleteOrders)); ok || err != nil {
			t.Fatalf("lapsed approval redeemed: %v %v", ok, err)
		}
	})
}

// TestRedeemRace: replicas racing to redeem one approval; exactly one wins.
func TestRedeemRace(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		services := []*Service{e.service(nil), e.service(e.openStore())}
		a := mustRequest(t, services[0], stmt(deleteOrders))
		mustDecide(t, services[1], a.ID, alice, true, "")
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range n {
			wg.Go(func() {
				_, ok, err := services[i%2].Redeem(ctx, stmt(deleteOrders))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d redeems won, want exactly 1", wins)
		}
	})
}

func TestRedeemKeyIsStable(t *testing.T) {
	// Same input, same key; the key is part of stored rows, so changing
	// its encoding invalidates approvals in flight during an upgrade.
	a, b := redeemKey(stmt(deleteOrders, "1")), redeemKey(stmt(deleteOrders, "1"))
	if a != b || len(a) != 64 {
		t.Fatalf("keys %s %s", a, b)
	}
	// Parameters cannot run into each other.
	if redeemKey(stmt("SELECT $1, $2", "a", "bc")) == redeemKey(stmt("SELECT $1, $2", "ab", "c")) {
		t.Fatal("parameter boundaries are not part of the key")
	}
}
