package approval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/sqlcomment"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Request implements gate.Approver: it persists a pending request for req
// and notifies. The stored request is a copy of req with:
//
//   - Decision.Review's approvers (the configured defaults when the rule
//     names none) and Required (at least 1), which decide who may approve;
//   - Context: the earlier steps of the same run (Config.Steps);
//   - Expires = now + Config.Timeout;
//   - the redeem key of exactly this statement (see Redeem).
//
// With no approvers at all the request is refused (nobody could approve
// it), so the statement does not run.
func (s *Service) Request(ctx context.Context, req *gate.ApprovalRequest) (*gate.Approval, error) {
	if req == nil || req.Identity == nil {
		return nil, errors.New("approval: a request needs an identity")
	}
	if s.isClosed() {
		return nil, gate.ErrShuttingDown
	}
	r := *req
	r.Grant = nil
	review, err := s.review(r.Decision.Review)
	if err != nil {
		return nil, err
	}
	r.Decision.Review = review
	if s.cfg.Steps != nil {
		// The requester's own steps only: trace ids are the agent's to choose.
		steps, err := s.cfg.Steps(ctx, r.Command.Request.TraceID, r.SessionID, r.Identity.Subject, ContextSteps)
		if err != nil {
			s.log.Warn("approval request without context: reading earlier steps failed", "session", r.SessionID, "err", err)
		}
		r.Context = steps
	}
	key := redeemKey(&r)
	if review.Mode == "defer" {
		// An agent retrying a deferred statement before anyone decided
		// gets the request it already has, not a new one each time.
		if a, ok := s.pendingFor(ctx, key, &r); ok {
			return a, nil
		}
	}
	now := s.clock.Now()
	b := &body{
		Approval: gate.Approval{
			ID: newID(statementPrefix), Status: gate.ApprovalPending, Request: r,
			Created: now, Expires: now.Add(s.cfg.Timeout), Updated: now, Required: review.Required,
		},
		RedeemKey: key,
	}
	return s.create(ctx, b)
}

// pendingFor returns a pending, unexpired request for exactly req, if any.
// A failure to look is not an error: a new request is made instead.
func (s *Service) pendingFor(ctx context.Context, key string, req *gate.ApprovalRequest) (*gate.Approval, bool) {
	rows, err := s.st.ListApprovals(ctx, store.ApprovalQuery{
		Statuses: []string{string(gate.ApprovalPending)}, Kind: store.ApprovalStatement, RedeemKey: key, Limit: 1,
	})
	if err != nil || len(rows) == 0 {
		return nil, false
	}
	b, err := s.load(ctx, rows[0].ID)
	if err != nil || b.RedeemKey != key || !sameStatement(&b.Approval.Request, req) || !s.clock.Now().Before(b.Approval.Expires) {
		return nil, false
	}
	return s.view(b), true
}

// review returns the effective ReviewSpec of a request: a copy of spec
// with the default approvers when it names none and Required >= 1.
func (s *Service) review(spec *gate.ReviewSpec) (*gate.ReviewSpec, error) {
	var out gate.ReviewSpec
	if spec != nil {
		out = *spec
	}
	if len(out.Approvers) == 0 {
		out.Approvers = s.cfg.Approvers
	}
	out.Approvers = append([]string(nil), out.Approvers...)
	if len(out.Approvers) == 0 {
		return nil, fmt.Errorf("approval: %w: no approvers: the rule names none and no default approvers are configured (access.approvers)", ErrInvalid)
	}
	if _, err := gate.ParsePrincipals(out.Approvers); err != nil {
		return nil, fmt.Errorf("approval: approvers: %w", err)
	}
	out.Required = max(out.Required, 1)
	return &out, nil
}

// Wait implements gate.Approver. It blocks until request id is no longer
// pending, and returns it:
//
//   - approved: Wait marks it used (atomically, so it runs once) and
//     returns it with status used. If an identical retry redeemed it
//     first, Wait returns an error wrapping gate.ErrConflict;
//   - denied, expired, cancelled: returned as they are;
//   - still pending at its expiry (by the Config's Clock: a timer per
//     waiting request): Wait expires it (notifying) and returns it;
//   - ctx ends first (the client went away): the request is cancelled
//     (notifying) unless it was decided meanwhile, and ctx.Err() returned;
//   - the Service closes: gate.ErrShuttingDown; the request stays pending.
//
// A decision made on any replica wakes Wait through the store's change
// feed (LISTEN/NOTIFY on PostgreSQL), not by polling.
func (s *Service) Wait(ctx context.Context, id string) (*gate.Approval, error) {
	wake := s.addWaiter(id)
	defer s.removeWaiter(id, wake)
	var timer gate.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if s.isClosed() {
			return nil, gate.ErrShuttingDown
		}
		b, err := s.load(context.WithoutCancel(ctx), id)
		if err != nil {
			return nil, err
		}
		a := &b.Approval
		if a.Request.Grant != nil {
			return nil, fmt.Errorf("approval %s is a grant request: nothing to wait for", id)
		}
		switch a.Status {
		case gate.ApprovalPending:
			now := s.clock.Now()
			if !now.Before(a.Expires) {
				if _, err := s.expire(id); err != nil {
					return nil, err
				}
				continue
			}
			if timer == nil {
				timer = s.clock.AfterFunc(a.Expires.Sub(now), func() { s.expireInBackground(id) })
			}
		case gate.ApprovalApproved:
			return s.use(ctx, id)
		case gate.ApprovalUsed:
			return nil, fmt.Errorf("approval %s: %w: it was used by another execution of the statement", id, gate.ErrConflict)
		default:
			return s.view(b), nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			s.cancel(id)
			return nil, ctx.Err()
		}
	}
}

// use marks an approved statement used.
func (s *Service) use(ctx context.Context, id string) (*gate.Approval, error) {
	b, err := s.update(context.WithoutCancel(ctx), id, func(b *body, now time.Time) error {
		if b.Approval.Status != gate.ApprovalApproved {
			return fmt.Errorf("approval %s: %w: it is %s", id, gate.ErrConflict, b.Approval.Status)
		}
		b.Approval.Status = gate.ApprovalUsed
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(b, "")
	return s.view(b), nil
}

// expire ends request id if it is pending and past its expiry, or an
// approval or grant whose time has run out. It reports whether it changed
// anything.
func (s *Service) expire(id string) (bool, error) {
	ctx, cancel := s.bgCtx()
	defer cancel()
	var event string
	b, err := s.update(ctx, id, func(b *body, now time.Time) error {
		a := &b.Approval
		if now.Before(a.Expires) || a.Status != gate.ApprovalPending && a.Status != gate.ApprovalApproved {
			return errUnchanged
		}
		if a.Status == gate.ApprovalPending {
			event = "expired" // lapsed approvals and ended grants are not news
		}
		a.Status = gate.ApprovalExpired
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("approval %s: expire: %w", id, err)
	}
	s.changed(b, event)
	return true, nil
}

// errUnchanged aborts an update that has nothing to do.
var errUnchanged = errors.New("unchanged")

func (s *Service) expireInBackground(id string) {
	if _, err := s.expire(id); err != nil {
		s.log.Error("approval expiry failed; the sweep will retry", "id", id, "err", err)
		s.wake(id) // the waiter re-reads and retries itself
	}
}

// cancel ends a pending request whose waiting client went away.
func (s *Service) cancel(id string) {
	ctx, cancel := s.bgCtx()
	defer cancel()
	b, err := s.update(ctx, id, func(b *body, now time.Time) error {
		if b.Approval.Status != gate.ApprovalPending {
			return errUnchanged // decided meanwhile: an approval stays redeemable
		}
		b.Approval.Status = gate.ApprovalCancelled
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
	case err != nil:
		s.log.Error("cancelling an abandoned approval request failed; it will expire", "id", id, "err", err)
	default:
		s.changed(b, "cancelled")
	}
}

// sweepNow expires every pending request past its expiry and every
// approval or grant whose time ran out, whoever was waiting for them. Each
// is a transaction of its own, so replicas sweeping at once expire each
// request once (and notify once).
func (s *Service) sweepNow(ctx context.Context) {
	rows, err := s.st.ListApprovals(ctx, store.ApprovalQuery{
		Statuses:      []string{string(gate.ApprovalPending), string(gate.ApprovalApproved)},
		ExpiresBefore: s.clock.Now(),
	})
	if err != nil {
		s.log.Error("approval sweep failed", "err", err)
		return
	}
	for _, r := range rows {
		if _, err := s.expire(r.ID); err != nil {
			s.log.Error("approval sweep failed", "id", r.ID, "err", err)
		}
	}
}

// scheduleSweep runs sweepNow every SweepInterval on the Clock.
func (s *Service) scheduleSweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.sweep = s.clock.AfterFunc(s.cfg.SweepInterval, func() {
		ctx, cancel := s.bgCtx()
		s.sweepNow(ctx)
		cancel()
		s.scheduleSweep()
	})
}

// normalizedText is the statement text an approval is bound to.
func normalizedText(cmd *gate.Command) string { return sqlcomment.Normalize(cmd.Text) }
