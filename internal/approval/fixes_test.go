package approval

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// An agent that retries a deferred statement before anyone decided gets the
// same request back, not a new one (and a new notification) per retry.
func TestDeferRetryReusesPendingRequest(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		s := e.service(nil)
		req := stmt(deleteOrders)
		req.Decision.Review.Mode = "defer"
		first := mustRequest(t, s, req)
		again := mustRequest(t, s, req)
		if again.ID != first.ID {
			t.Fatalf("retry made a new request %s (first %s)", again.ID, first.ID)
		}
		// A different statement, or the first one expired, gets a new one.
		if other := mustRequest(t, s, stmt(deleteOrders+" AND id > 1")); other.ID == first.ID {
			t.Fatal("a different statement reused the request")
		}
		e.clock.Advance(DefaultTimeout + time.Second)
		if late := mustRequest(t, s, req); late.ID == first.ID {
			t.Fatal("an expired request was reused")
		}
	})
}

func TestAdminRevokesAndGrantsNeedApprovers(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		admin := &gate.Identity{Issuer: "https://idp.example", Subject: "root", Groups: []string{"platform"}}
		s := e.service(nil, func(c *Config) { c.Admins = []string{"group:platform"} })
		a, err := s.RequestGrant(ctx, bot, gate.GrantSpec{Connection: "shop", Access: "write", Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		mustDecide(t, s, a.ID, alice, true, "")
		got, err := s.Revoke(ctx, a.ID, admin, "incident")
		if err != nil || got.Status != gate.ApprovalCancelled || got.Revoked == nil || got.Revoked.Subject != "root" {
			t.Fatalf("admin revoke = %+v, %v", got, err)
		}
		none := e.service(e.openStore(), func(c *Config) { c.Approvers = nil })
		if _, err := none.RequestGrant(ctx, bot, gate.GrantSpec{Connection: "shop", Access: "write", Duration: time.Hour}); !errors.Is(err, gate.ErrInvalid) {
			t.Fatalf("grant without approvers: %v, want ErrInvalid", err)
		}
	})
}
