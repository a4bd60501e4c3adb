package approval

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestWaitApproved(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		s := e.service(nil)
		a := mustRequest(t, s, stmt(deleteOrders))
		if a.Status != gate.ApprovalPending || !strings.HasPrefix(a.ID, "ap_") || len(a.ID) != 19 ||
			a.URL != "https://gatehouse.example/approvals/"+a.ID || !a.Expires.Equal(t0.Add(DefaultTimeout)) || a.Required != 1 {
			t.Fatalf("requested: %+v", a)
		}
		ch := goWait(context.Background(), s, a.ID)
		blocked(t, ch)
		mustDecide(t, s, a.ID, alice, true, "looks fine")
		r := result(t, ch)
		if r.err != nil || r.a.Status != gate.ApprovalUsed || len(r.a.Votes) != 1 || r.a.Votes[0].Subject != "alice" || r.a.Votes[0].Comment != "looks fine" {
			t.Fatalf("Wait = %+v, %v", r.a, r.err)
		}
		// Used: it authorizes nothing more.
		if _, ok, err := s.Redeem(context.Background(), stmt(deleteOrders)); ok || err != nil {
			t.Fatalf("Redeem after a waited approval: ok=%v err=%v", ok, err)
		}
		if got, _ := s.Get(context.Background(), a.ID); got.Status != gate.ApprovalUsed {
			t.Fatalf("stored status %s", got.Status)
		}
	})
}

func TestWaitDenied(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		s := e.service(nil)
		a := mustRequest(t, s, stmt(deleteOrders))
		ch := goWait(context.Background(), s, a.ID)
		mustDecide(t, s, a.ID, bob, false, "too broad, add a LIMIT")
		r := result(t, ch)
		if r.err != nil || r.a.Status != gate.ApprovalDenied || len(r.a.Votes) != 1 ||
			r.a.Votes[0].By != "bob" || r.a.Votes[0].Comment != "too broad, add a LIMIT" || r.a.Votes[0].Approve {
			t.Fatalf("Wait = %+v, %v", r.a, r.err)
		}
		if _, err := s.Decide(context.Background(), a.ID, alice, true, ""); !errors.Is(err, gate.ErrConflict) {
			t.Fatalf("vote on a denied request: %v, want ErrConflict", err)
		}
	})
}

func TestWaitTimeout(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		s := e.service(nil, func(c *Config) { c.Timeout = 5 * time.Minute })
		a := mustRequest(t, s, stmt(deleteOrders))
		ch := goWait(context.Background(), s, a.ID)
		e.clock.Advance(4 * time.Minute)
		blocked(t, ch)
		e.clock.Advance(time.Minute)
		r := result(t, ch)
		if r.err != nil || r.a.Status != gate.ApprovalExpired {
			t.Fatalf("Wait = %+v, %v", r.a, r.err)
		}
		if _, err := s.Decide(context.Background(), a.ID, alice, true, ""); !errors.Is(err, gate.ErrConflict) {
			t.Fatalf("vote on an expired request: %v, want ErrConflict", err)
		}
	})
}

// TestWaitClientGone: the client going away cancels the request.
func TestWaitClientGone(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		s := e.service(nil)
		a := mustRequest(t, s, stmt(deleteOrders))
		ctx, cancel := context.WithCancel(context.Background())
		ch := goWait(ctx, s, a.ID)
		blocked(t, ch)
		cancel()
		if r := result(t, ch); !errors.Is(r.err, context.Canceled) {
			t.Fatalf("Wait = %+v, %v", r.a, r.err)
		}
		if got, _ := s.Get(context.Background(), a.ID); got.Status != gate.ApprovalCancelled {
			t.Fatalf("status after the client left: %s", got.Status)
		}
		if _, err := s.Decide(context.Background(), a.ID, alice, true, ""); !errors.Is(err, gate.ErrConflict) {
			t.Fatalf("vote on a cancelled request: %v", err)
		}
	})
}

// TestDecidePastExpiry: a pending request nobody waits for (defer mode) is
// expired when someone tries to approve it after its time.
func TestDecidePastExpiry(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		s := e.service(nil, func(c *Config) { c.SweepInterval = time.Hour })
		a := mustRequest(t, s, stmt(deleteOrders))
		e.clock.Advance(DefaultTimeout)
		if _, err := s.Decide(context.Background(), a.ID, alice, true, ""); !errors.Is(err, gate.ErrConflict) {
			t.Fatalf("approval after expiry: %v", err)
		}
		if got, _ := s.Get(context.Background(), a.ID); got.Status != gate.ApprovalExpired {
			t.Fatalf("status %s", got.Status)
		}
	})
}

// TestSweep: requests whose waiter is gone expire by the sweep, at start
// and periodically.
func TestSweep(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		first := e.service(nil)
		stale := mustRequest(t, first, stmt(deleteOrders))
		e.clock.Advance(DefaultTimeout)
		// A gateway started now expires it at once.
		second := e.service(e.openStore())
		if got, _ := second.Get(context.Background(), stale.ID); got.Status != gate.ApprovalExpired {
			t.Fatalf("stale request after a start: %s", got.Status)
		}
		// And the periodic sweep catches the next one.
		later := mustRequest(t, second, stmt(deleteOrders))
		e.clock.Advance(DefaultTimeout + DefaultSweepInterval)
		if got, _ := second.Get(context.Background(), later.ID); got.Status != gate.ApprovalExpired {
			t.Fatalf("after a sweep interval: %s", got.Status)
		}
	})
}

func TestWaitShutdown(t *testing.T) {
	e := newEnv(t, "sqlite")
	s := e.service(nil)
	a := mustRequest(t, s, stmt(deleteOrders))
	ch := goWait(context.Background(), s, a.ID)
	blocked(t, ch)
	s.Close(context.Background())
	if r := result(t, ch); !errors.Is(r.err, gate.ErrShuttingDown) {
		t.Fatalf("Wait during Close: %+v, %v", r.a, r.err)
	}
	if got, _ := e.service(nil).Get(context.Background(), a.ID); got.Status != gate.ApprovalPending {
		t.Fatalf("a request interrupted by shutdown is %s, want pending", got.Status)
	}
}

// TestRequestNeedsApprovers: with no approvers anywhere nobody could
// approve, so the request is refused.
func TestRequestNeedsApprovers(t *testing.T) {
	e := newEnv(t, "sqlite")
	s := e.service(nil, func(c *Config) { c.Approvers = nil })
	req := stmt(deleteOrders)
	req.Decision.Review.Approvers = nil
	if _, err := s.Request(context.Background(), req); err == nil || !strings.Contains(err.Error(), "no approvers") {
		t.Fatalf("Request without approvers: %v", err)
	}
	// The defaults apply when the rule names none.
	s = e.service(nil)
	a := mustRequest(t, s, req)
	if got := a.Request.Decision.Review.Approvers; len(got) != 1 || got[0] != "group:dba" {
		t.Fatalf("approvers %v", got)
	}
}
