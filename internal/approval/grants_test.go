package approval

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func grants(t *testing.T, s *Service, id *gate.Identity) []string {
	t.Helper()
	g, err := s.Grants(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGrantLifecycle: a grant allows "shop:write" from its approval until
// it expires by the clock.
func TestGrantLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.service(nil)
		a, err := s.RequestGrant(ctx, bot, gate.GrantSpec{Connection: "shop", Access: "write", Duration: 2 * time.Hour, Reason: "backfill"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(a.ID, "gr_") || a.Status != gate.ApprovalPending || a.Request.Grant == nil || a.Required != 1 ||
			a.Request.Grant.Reason != "backfill" || !a.Request.Grant.Starts.IsZero() {
			t.Fatalf("grant request %+v", a)
		}
		if g := grants(t, s, bot); len(g) != 0 {
			t.Fatalf("pending grant active: %v", g)
		}
		if _, err := s.Decide(ctx, a.ID, bot, true, ""); !errors.Is(err, gate.ErrForbidden) {
			t.Fatalf("self-approved grant: %v", err)
		}
		e.clock.Advance(time.Minute)
		got := mustDecide(t, s, a.ID, alice, true, "ok for today")
		approvedAt := t0.Add(time.Minute)
		if got.Status != gate.ApprovalApproved || !got.Request.Grant.Starts.Equal(approvedAt) || !got.Request.Grant.Ends.Equal(approvedAt.Add(2*time.Hour)) {
			t.Fatalf("approved grant %+v %+v", got, got.Request.Grant)
		}
		if g := grants(t, s, bot); !reflect.DeepEqual(g, []string{"shop:write"}) {
			t.Fatalf("Grants = %v", g)
		}
		if g := grants(t, s, mallory); len(g) != 0 {
			t.Fatalf("someone else's grants: %v", g)
		}
		// Waiting for a grant is a mistake, not a way to mark it used.
		if _, err := s.Wait(ctx, a.ID); err == nil {
			t.Fatal("Wait on a grant succeeded")
		}
		e.clock.Advance(2*time.Hour - time.Nanosecond)
		if g := grants(t, s, bot); len(g) != 1 {
			t.Fatalf("Grants just before the end = %v", g)
		}
		e.clock.Advance(time.Nanosecond)
		if g := grants(t, s, bot); len(g) != 0 {
			t.Fatalf("Grants after the end = %v", g)
		}
		// The sweep marks it expired.
		e.clock.Advance(DefaultSweepInterval)
		if got, _ := s.Get(ctx, a.ID); got.Status != gate.ApprovalExpired {
			t.Fatalf("status after the end: %s", got.Status)
		}
	})
}

func TestGrantRevoke(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.service(nil)
		other := e.service(e.openStore()) // another replica's cache
		events := other.Subscribe(ctx)
		a, err := s.RequestGrant(ctx, bot, gate.GrantSpec{Connection: "shop", Access: "write", Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		mustDecide(t, s, a.ID, alice, true, "")
		waitEvent(t, events, a.ID, gate.ApprovalApproved)
		if g := grants(t, other, bot); len(g) != 1 {
			t.Fatalf("the other replica's Grants = %v", g)
		}
		if _, err := s.Revoke(ctx, a.ID, mallory, ""); !errors.Is(err, gate.ErrForbidden) {
			t.Fatalf("revoke by a stranger: %v", err)
		}
		e.clock.Advance(10 * time.Minute)
		got, err := s.Revoke(ctx, a.ID, bob, "done early")
		if err != nil || got.Status != gate.ApprovalCancelled || !got.Request.Grant.Ends.Equal(t0.Add(10*time.Minute)) {
			t.Fatalf("Revoke = %+v, %v", got, err)
		}
		if g := grants(t, s, bot); len(g) != 0 {
			t.Fatalf("Grants after revoke = %v", g)
		}
		waitEvent(t, events, a.ID, gate.ApprovalCancelled)
		if g := grants(t, other, bot); len(g) != 0 {
			t.Fatalf("the other replica's Grants after revoke = %v", g)
		}
		if _, err := s.Revoke(ctx, a.ID, bob, ""); !errors.Is(err, gate.ErrConflict) {
			t.Fatalf("second revoke: %v", err)
		}
		// The requester may withdraw a pending request.
		p, err := s.RequestGrant(ctx, bot, gate.GrantSpec{Connection: "shop", Access: "read", Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Revoke(ctx, p.ID, bot, "not needed"); err != nil || got.Status != gate.ApprovalCancelled {
			t.Fatalf("withdraw = %+v, %v", got, err)
		}
		if _, err := s.Decide(ctx, p.ID, alice, true, ""); !errors.Is(err, gate.ErrConflict) {
			t.Fatalf("approve a withdrawn request: %v", err)
		}
	})
}

func TestGrantValidation(t *testing.T) {
	e := newEnv(t, "sqlite")
	s := e.service(nil)
	ctx := context.Background()
	for _, tc := range []struct {
		g    gate.GrantSpec
		want string
	}{
		{gate.GrantSpec{Connection: "nope", Access: "write", Duration: time.Hour}, `connection "nope"`},
		{gate.GrantSpec{Connection: "shop", Access: "", Duration: time.Hour}, `access ""`},
		{gate.GrantSpec{Connection: "shop", Access: "superuser", Duration: time.Hour}, `access "superuser"`},
		{gate.GrantSpec{Connection: "shop", Access: "write", Duration: 0}, "positive"},
		{gate.GrantSpec{Connection: "shop", Access: "write", Duration: -time.Second}, "positive"},
		{gate.GrantSpec{Connection: "shop", Access: "write", Duration: 2*time.Hour + time.Second}, "exceeds max_grant 2h0m0s"},
		{gate.GrantSpec{Connection: "billing", Access: "read", Duration: DefaultMaxGrant + time.Second}, "exceeds max_grant 8h0m0s"},
	} {
		_, err := s.RequestGrant(ctx, bot, tc.g)
		if !IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RequestGrant(%+v) = %v, want ErrInvalid mentioning %q", tc.g, err, tc.want)
		}
	}
	for _, g := range []gate.GrantSpec{
		{Connection: "shop", Access: "write", Duration: 2 * time.Hour},
		{Connection: "billing", Access: "admin", Duration: DefaultMaxGrant},
	} {
		if _, err := s.RequestGrant(ctx, bot, g); err != nil {
			t.Errorf("RequestGrant(%+v): %v", g, err)
		}
	}
	if _, err := s.RequestGrant(ctx, nil, gate.GrantSpec{Connection: "shop", Access: "write", Duration: time.Hour}); err == nil {
		t.Error("grant without identity")
	}
}

// waitEvent reads events until id reaches status. The dispatcher updates
// the grant cache before it publishes, so the cache is current then.
func waitEvent(t *testing.T, events <-chan gate.ApprovalEvent, id string, status gate.ApprovalStatus) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("events closed before %s became %s", id, status)
			}
			if ev.ID == id && ev.Status == status {
				return
			}
		case <-deadline:
			t.Fatalf("no event: %s became %s", id, status)
		}
	}
}
