package approval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// List limits: ApprovalFilter.Limit <= 0 means DefaultListLimit, and it is
// capped at MaxListLimit.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// List implements gate.Approvals: approvals newest first.
func (s *Service) List(ctx context.Context, f gate.ApprovalFilter) ([]*gate.Approval, error) {
	q := store.ApprovalQuery{Limit: f.Limit}
	switch {
	case q.Limit <= 0:
		q.Limit = DefaultListLimit
	case q.Limit > MaxListLimit:
		q.Limit = MaxListLimit
	}
	if f.Status != "" {
		q.Statuses = []string{string(f.Status)}
	}
	rows, err := s.st.ListApprovals(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("approval: list: %w", err)
	}
	out := make([]*gate.Approval, 0, len(rows))
	for i := range rows {
		b, err := decode(&rows[i])
		if err != nil {
			s.log.Error("approval list: skipping an undecodable approval", "id", rows[i].ID, "err", err)
			continue
		}
		out = append(out, s.view(b))
	}
	return out, nil
}

// Get implements gate.Approvals. A missing id is an error wrapping
// gate.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (*gate.Approval, error) {
	b, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.view(b), nil
}

// Decide implements gate.Approvals: it records by's vote in one store
// transaction (votes from any number of replicas serialise; none is lost
// or counted twice). Errors, in this order:
//
//   - gate.ErrNotFound: no such approval;
//   - gate.ErrForbidden: by is nil, is not an approver of this request
//     (its approvers list), or is the requester (same issuer and subject);
//   - gate.ErrConflict: the request is no longer pending (also when its
//     expiry passed: it is then expired and notified), or by (issuer and
//     subject) voted on it already.
//
// One deny denies. An approval counts distinct approvers by issuer and
// subject; when Required is reached the request is approved: a statement
// is then redeemable for Config.RedeemWindow, a grant is active from now
// for its duration. Webhooks hear of approved and denied requests, not of
// single votes; Subscribe hears of every change.
func (s *Service) Decide(ctx context.Context, id string, by *gate.Identity, approve bool, comment string) (*gate.Approval, error) {
	if by == nil {
		return nil, fmt.Errorf("approval %s: %w: no identity", id, gate.ErrForbidden)
	}
	var event string
	b, err := s.update(ctx, id, func(b *body, now time.Time) error {
		event = ""
		a := &b.Approval
		if err := s.mayVote(b, by); err != nil {
			return err
		}
		if a.Status != gate.ApprovalPending {
			return fmt.Errorf("approval %s: %w: it is %s", id, gate.ErrConflict, a.Status)
		}
		if !now.Before(a.Expires) {
			a.Status, event = gate.ApprovalExpired, "expired"
			return nil
		}
		if slices.Contains(b.Voters, identityKey(by)) {
			return fmt.Errorf("approval %s: %w: %s voted already", id, gate.ErrConflict, by)
		}
		a.Votes = append(a.Votes, gate.ApprovalVote{By: by.String(), Issuer: by.Issuer, Subject: by.Subject, Approve: approve, Comment: comment, At: now})
		b.Voters = append(b.Voters, identityKey(by))
		switch {
		case !approve:
			a.Status, event = gate.ApprovalDenied, "denied"
		case approvals(a) >= a.Required:
			a.Status, event = gate.ApprovalApproved, "approved"
			if g := a.Request.Grant; g != nil {
				g.Starts, g.Ends = now, now.Add(g.Duration)
				a.Expires = g.Ends
			} else {
				a.Expires = now.Add(s.cfg.RedeemWindow)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(b, event)
	if event == "expired" {
		return nil, fmt.Errorf("approval %s: %w: it expired at %s", id, gate.ErrConflict, b.Approval.Expires.UTC().Format(time.RFC3339))
	}
	return s.view(b), nil
}

// approvals counts the approving votes; Voters makes them distinct.
func approvals(a *gate.Approval) int {
	n := 0
	for _, v := range a.Votes {
		if v.Approve {
			n++
		}
	}
	return n
}

// mayVote checks that by may decide b at all (not whether it is still
// open): an approver of it, and not its requester.
func (s *Service) mayVote(b *body, by *gate.Identity) error {
	a := &b.Approval
	if sameIdentity(a.Request.Identity, by) {
		return fmt.Errorf("approval %s: %w: nobody approves their own request", a.ID, gate.ErrForbidden)
	}
	if !approversOf(a).Match(by) {
		return fmt.Errorf("approval %s: %w: %s is not among its approvers", a.ID, gate.ErrForbidden, by)
	}
	return nil
}

// approversOf returns the parsed approvers list of a (stored in
// Request.Decision.Review by Request and RequestGrant). An unparsable list
// matches nobody.
func approversOf(a *gate.Approval) gate.Principals {
	if a.Request.Decision.Review == nil {
		return nil
	}
	ps, err := gate.ParsePrincipals(a.Request.Decision.Review.Approvers)
	if err != nil {
		return nil
	}
	return ps
}

// CanDecide implements gate.Approvals: whether by may vote on a now (an
// approver, not the requester, a pending and unexpired request, no vote of
// by's subject yet). Decide has the last word.
func (s *Service) CanDecide(a *gate.Approval, by *gate.Identity) bool {
	if a == nil || by == nil || a.Status != gate.ApprovalPending || !s.clock.Now().Before(a.Expires) {
		return false
	}
	if err := s.mayVote(&body{Approval: *a}, by); err != nil {
		return false
	}
	return !slices.ContainsFunc(a.Votes, func(v gate.ApprovalVote) bool {
		return v.Subject == by.Subject && (v.Issuer == "" || v.Issuer == by.Issuer)
	})
}

// IsInvalid reports whether err is a request the Service refuses as asked
// (wraps ErrInvalid).
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }
