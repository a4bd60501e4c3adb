package approval

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestSelfApprovalRefused(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		s := e.service(nil)
		req := stmt(deleteOrders)
		req.Identity = dbaBot // in the approvers group, but the requester
		a := mustRequest(t, s, req)
		if s.CanDecide(a, dbaBot) {
			t.Error("CanDecide offers the requester a vote")
		}
		for _, approve := range []bool{true, false} {
			if _, err := s.Decide(context.Background(), a.ID, dbaBot, approve, ""); !errors.Is(err, gate.ErrForbidden) {
				t.Fatalf("requester votes %v: %v, want ErrForbidden", approve, err)
			}
		}
		// The same subject at another issuer is someone else.
		other := *dbaBot
		other.Issuer = "https://other-idp.example"
		if got := mustDecide(t, s, a.ID, &other, true, ""); got.Status != gate.ApprovalApproved {
			t.Fatalf("status %s", got.Status)
		}
	})
}

func TestDecideErrors(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.service(nil)
		a := mustRequest(t, s, stmt(deleteOrders))
		if _, err := s.Decide(ctx, "ap_nosuchrequest0", alice, true, ""); !errors.Is(err, gate.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		if _, err := s.Get(ctx, "ap_nosuchrequest0"); !errors.Is(err, gate.ErrNotFound) {
			t.Errorf("Get unknown id: %v", err)
		}
		if _, err := s.Decide(ctx, a.ID, mallory, true, ""); !errors.Is(err, gate.ErrForbidden) {
			t.Errorf("not an approver: %v", err)
		}
		if _, err := s.Decide(ctx, a.ID, nil, true, ""); !errors.Is(err, gate.ErrForbidden) {
			t.Errorf("nil identity: %v", err)
		}
		if s.CanDecide(a, mallory) || !s.CanDecide(a, alice) {
			t.Error("CanDecide disagrees with the approvers list")
		}
		mustDecide(t, s, a.ID, alice, true, "")
		if _, err := s.Decide(ctx, a.ID, bob, true, ""); !errors.Is(err, gate.ErrConflict) {
			t.Errorf("vote on an approved request: %v", err)
		}
		// Forbidden wins over conflict: a stranger learns nothing of the state.
		if _, err := s.Decide(ctx, a.ID, mallory, true, ""); !errors.Is(err, gate.ErrForbidden) {
			t.Errorf("stranger on a decided request: %v", err)
		}
	})
}

// TestTwoOfThree: required 2 needs two distinct approvers; a second vote by
// the same approver is refused and does not count.
func TestTwoOfThree(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.service(nil)
		req := stmt(deleteOrders)
		req.Decision.Review.Required = 2
		a := mustRequest(t, s, req)
		if a.Required != 2 {
			t.Fatalf("required %d", a.Required)
		}
		ch := goWait(ctx, s, a.ID)
		if got := mustDecide(t, s, a.ID, alice, true, "one"); got.Status != gate.ApprovalPending || len(got.Votes) != 1 {
			t.Fatalf("after one approval: %+v", got)
		}
		blocked(t, ch)
		if _, err := s.Decide(ctx, a.ID, alice, true, "again"); !errors.Is(err, gate.ErrConflict) {
			t.Fatalf("second vote by alice: %v, want ErrConflict", err)
		}
		if got, _ := s.Get(ctx, a.ID); s.CanDecide(got, alice) || !s.CanDecide(got, bob) {
			t.Error("CanDecide after alice's vote")
		}
		blocked(t, ch)
		mustDecide(t, s, a.ID, carol, true, "two")
		r := result(t, ch)
		if r.err != nil || r.a.Status != gate.ApprovalUsed || len(r.a.Votes) != 2 || r.a.Votes[0].Subject != "alice" || r.a.Votes[1].Subject != "carol" {
			t.Fatalf("Wait = %+v, %v", r.a, r.err)
		}
	})
}

// TestDistinctByIssuer: alice at another issuer is another approver.
func TestDistinctByIssuer(t *testing.T) {
	e := newEnv(t, "sqlite")
	s := e.service(nil)
	req := stmt(deleteOrders)
	req.Decision.Review.Required = 2
	a := mustRequest(t, s, req)
	mustDecide(t, s, a.ID, alice, true, "")
	if got := mustDecide(t, s, a.ID, aliceElsewhere, true, ""); got.Status != gate.ApprovalApproved {
		t.Fatalf("status %s", got.Status)
	}
}

// TestConcurrentVotes: many approvers vote at once through two Services on
// one store; every vote is recorded once and the request is approved
// exactly when the last required vote lands.
func TestConcurrentVotes(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		services := []*Service{e.service(nil), e.service(e.openStore())}
		const n = 8
		req := stmt(deleteOrders)
		req.Decision.Review.Required = n
		a := mustRequest(t, services[0], req)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				by := &gate.Identity{Issuer: "https://idp.example", Subject: fmt.Sprintf("dba-%d", i), Groups: []string{"dba"}}
				_, err := services[i%2].Decide(ctx, a.ID, by, true, "")
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := services[1].Get(ctx, a.ID)
		if err != nil || got.Status != gate.ApprovalApproved || len(got.Votes) != n {
			t.Fatalf("after %d concurrent votes: status %s, %d votes, %v", n, got.Status, len(got.Votes), err)
		}
		seen := map[string]bool{}
		for _, v := range got.Votes {
			if seen[v.Subject] {
				t.Fatalf("vote of %s counted twice", v.Subject)
			}
			seen[v.Subject] = true
		}
	})
}

// TestContext: the request carries the run's earlier steps from Config.Steps.
func TestContext(t *testing.T) {
	e := newEnv(t, "sqlite")
	var gotTrace, gotSession string
	var gotLimit int
	s := e.service(nil, func(c *Config) {
		c.Steps = func(_ context.Context, traceID, sessionID, _ string, limit int) ([]gate.StepRecord, error) {
			gotTrace, gotSession, gotLimit = traceID, sessionID, limit
			return []gate.StepRecord{{N: 1, Command: gate.Command{Text: "SELECT count(*) FROM orders"}}}, nil
		}
	})
	a := mustRequest(t, s, stmt(deleteOrders))
	if gotTrace != "4bf92f3577b34da6a3ce929d0e0e4736" || gotSession != "sess-1" || gotLimit != 20 {
		t.Fatalf("Steps called with %q %q %d", gotTrace, gotSession, gotLimit)
	}
	got, _ := s.Get(context.Background(), a.ID)
	if len(got.Request.Context) != 1 || got.Request.Context[0].Command.Text != "SELECT count(*) FROM orders" {
		t.Fatalf("context %+v", got.Request.Context)
	}
	if got.Request.Impact == nil || got.Request.Impact.EstimatedRows != 42 || got.Request.Command.Request.Reason != "clean up test orders" {
		t.Fatalf("stored request %+v", got.Request)
	}
	// A failing reader leaves the context out but not the request.
	s = e.service(nil, func(c *Config) {
		c.Steps = func(context.Context, string, string, string, int) ([]gate.StepRecord, error) {
			return nil, errors.New("audit down")
		}
	})
	if a := mustRequest(t, s, stmt(deleteOrders)); len(a.Request.Context) != 0 {
		t.Fatalf("context %+v", a.Request.Context)
	}
}

func TestList(t *testing.T) {
	e := newEnv(t, "sqlite")
	s := e.service(nil)
	a1 := mustRequest(t, s, stmt(deleteOrders))
	e.clock.Advance(1)
	a2 := mustRequest(t, s, stmt(deleteOrders+" AND id > 1"))
	mustDecide(t, s, a1.ID, alice, false, "")
	all, err := s.List(context.Background(), gate.ApprovalFilter{})
	if err != nil || len(all) != 2 || all[0].ID != a2.ID || all[1].ID != a1.ID || all[0].URL == "" {
		t.Fatalf("List = %v, %v", all, err)
	}
	pending, _ := s.List(context.Background(), gate.ApprovalFilter{Status: gate.ApprovalPending})
	if len(pending) != 1 || pending[0].ID != a2.ID {
		t.Fatalf("pending = %v", pending)
	}
	if one, _ := s.List(context.Background(), gate.ApprovalFilter{Limit: 1}); len(one) != 1 {
		t.Fatalf("limit 1 gave %d", len(one))
	}
}
