package web

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// fakeApprovals is an in-memory gate.Approvals with the port's documented
// behaviour: approvers (one access list for every request) decide; the
// requester may not; a second vote by the same person, or a vote on a
// request that is no longer pending or has expired, is a conflict. It
// publishes a change event for every create and decision. Safe for
// concurrent use; it hands out copies.
type fakeApprovals struct {
	mu        sync.Mutex
	now       func() time.Time
	approvers gate.Principals
	items     map[string]*gate.Approval
	seq       int
	subs      map[chan gate.ApprovalEvent]struct{}
	// subsChanged is closed (and replaced) when subs changes.
	subsChanged chan struct{}
	// connections lists the connections RequestGrant accepts.
	connections []string
}

func newFakeApprovals(approvers ...string) *fakeApprovals {
	ps, err := gate.ParsePrincipals(approvers)
	if err != nil {
		panic(err)
	}
	return &fakeApprovals{now: time.Now, approvers: ps, items: map[string]*gate.Approval{},
		subs: map[chan gate.ApprovalEvent]struct{}{}, subsChanged: make(chan struct{}), connections: []string{"shop"}}
}

func clone(a *gate.Approval) *gate.Approval {
	c := *a
	c.Votes = slices.Clone(a.Votes)
	if a.Request.Grant != nil {
		g := *a.Request.Grant
		c.Request.Grant = &g
	}
	return &c
}

// add stores a pending request that expires after ttl and notifies.
func (f *fakeApprovals) add(req gate.ApprovalRequest, ttl time.Duration) *gate.Approval {
	f.mu.Lock()
	f.seq++
	now := f.now()
	a := &gate.Approval{ID: fmt.Sprintf("ap_%d", f.seq), Status: gate.ApprovalPending, Request: req, Created: now,
		Expires: now.Add(ttl), Required: 1, Updated: now}
	f.items[a.ID] = a
	c := clone(a)
	f.mu.Unlock()
	f.publish(gate.ApprovalEvent{ID: a.ID, Status: a.Status})
	return c
}

// setStatus changes a request's status (expiry, cancellation) and notifies.
func (f *fakeApprovals) setStatus(id string, st gate.ApprovalStatus) {
	f.mu.Lock()
	f.items[id].Status = st
	f.mu.Unlock()
	f.publish(gate.ApprovalEvent{ID: id, Status: st})
}

func (f *fakeApprovals) publish(ev gate.ApprovalEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- ev:
		default: // a slow subscriber misses events, as the port allows
		}
	}
}

func (f *fakeApprovals) List(_ context.Context, flt gate.ApprovalFilter) ([]*gate.Approval, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*gate.Approval
	for _, a := range f.items {
		if flt.Status == "" || a.Status == flt.Status {
			out = append(out, clone(a))
		}
	}
	slices.SortFunc(out, func(a, b *gate.Approval) int { return b.Created.Compare(a.Created) })
	if flt.Limit > 0 && len(out) > flt.Limit {
		out = out[:flt.Limit]
	}
	return out, nil
}

func (f *fakeApprovals) Get(_ context.Context, id string) (*gate.Approval, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.items[id]
	if !ok {
		return nil, gate.ErrNotFound
	}
	return clone(a), nil
}

func (f *fakeApprovals) Decide(_ context.Context, id string, by *gate.Identity, approve bool, comment string) (*gate.Approval, error) {
	f.mu.Lock()
	a, ok := f.items[id]
	switch {
	case !ok:
		f.mu.Unlock()
		return nil, gate.ErrNotFound
	case a.Status != gate.ApprovalPending || !f.now().Before(a.Expires):
		f.mu.Unlock()
		return nil, fmt.Errorf("%w: request %s is %s", gate.ErrConflict, id, a.Status)
	case isRequester(a, by) || !f.approvers.Match(by):
		f.mu.Unlock()
		return nil, fmt.Errorf("%w: %s is not an approver of %s", gate.ErrForbidden, by, id)
	case slices.ContainsFunc(a.Votes, func(v gate.ApprovalVote) bool { return v.Subject == by.Subject }):
		f.mu.Unlock()
		return nil, fmt.Errorf("%w: %s already voted", gate.ErrConflict, by)
	}
	a.Votes = append(a.Votes, gate.ApprovalVote{By: by.String(), Subject: by.Subject, Approve: approve, Comment: comment, At: f.now()})
	approvals := 0
	for _, v := range a.Votes {
		if v.Approve {
			approvals++
		}
	}
	switch {
	case !approve:
		a.Status = gate.ApprovalDenied
	case approvals >= a.Required:
		a.Status = gate.ApprovalApproved
		if g := a.Request.Grant; g != nil {
			g.Starts, g.Ends = f.now(), f.now().Add(g.Duration)
		}
	}
	a.Updated = f.now()
	c := clone(a)
	f.mu.Unlock()
	f.publish(gate.ApprovalEvent{ID: id, Status: c.Status})
	return c, nil
}

func (f *fakeApprovals) CanDecide(a *gate.Approval, by *gate.Identity) bool {
	return a.Status == gate.ApprovalPending && !isRequester(a, by) && f.approvers.Match(by) &&
		!slices.ContainsFunc(a.Votes, func(v gate.ApprovalVote) bool { return v.Subject == by.Subject })
}

func (f *fakeApprovals) Subscribe(ctx context.Context) <-chan gate.ApprovalEvent {
	ch := make(chan gate.ApprovalEvent, 64)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.notifySubs()
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.subs, ch)
		f.notifySubs()
		f.mu.Unlock()
		close(ch)
	}()
	return ch
}

// waitSubscribers waits until n subscriptions (event streams) are open,
// and reports whether that happened within 10s.
func (f *fakeApprovals) waitSubscribers(n int) bool {
	deadline := time.After(10 * time.Second)
	for {
		f.mu.Lock()
		got, changed := len(f.subs), f.subsChanged
		f.mu.Unlock()
		if got == n {
			return true
		}
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}

// notifySubs wakes waitSubscribers; f.mu must be held.
func (f *fakeApprovals) notifySubs() {
	close(f.subsChanged)
	f.subsChanged = make(chan struct{})
}

func (f *fakeApprovals) RequestGrant(_ context.Context, id *gate.Identity, g gate.GrantSpec) (*gate.Approval, error) {
	if !slices.Contains(f.connections, g.Connection) {
		return nil, fmt.Errorf("%w: unknown connection %q", gate.ErrInvalid, g.Connection)
	}
	if g.Duration > 8*time.Hour {
		return nil, fmt.Errorf("%w: duration 8h0m0s is over the connection's max_grant", gate.ErrInvalid)
	}
	return f.add(gate.ApprovalRequest{Identity: id, Target: gate.Target{Name: g.Connection, Kind: "postgres"}, Grant: &g}, time.Hour), nil
}

func (f *fakeApprovals) Revoke(_ context.Context, id string, by *gate.Identity, comment string) (*gate.Approval, error) {
	f.mu.Lock()
	a, ok := f.items[id]
	switch {
	case !ok:
		f.mu.Unlock()
		return nil, gate.ErrNotFound
	case a.Status != gate.ApprovalPending && a.Status != gate.ApprovalApproved:
		f.mu.Unlock()
		return nil, fmt.Errorf("%w: request %s is %s", gate.ErrConflict, id, a.Status)
	}
	if a.Request.Grant != nil && a.Status == gate.ApprovalApproved {
		a.Request.Grant.Ends = f.now()
	}
	a.Status = gate.ApprovalCancelled
	a.Votes = append(a.Votes, gate.ApprovalVote{By: by.String(), Subject: by.Subject, Comment: "revoked: " + comment, At: f.now()})
	c := clone(a)
	f.mu.Unlock()
	f.publish(gate.ApprovalEvent{ID: id, Status: c.Status})
	return c, nil
}

// fakeTrail is a gate.Trail over fixed sessions.
type fakeTrail map[string]*gate.SessionRecord

func (t fakeTrail) Sessions(_ context.Context, f gate.SessionFilter) ([]gate.SessionSummary, error) {
	var out []gate.SessionSummary
	for _, s := range t {
		if (f.Connection == "" || s.Target.Name == f.Connection) && (f.Subject == "" || s.Identity.Subject == f.Subject) {
			out = append(out, s.SessionSummary)
		}
	}
	return out, nil
}

func (t fakeTrail) Session(_ context.Context, id string) (*gate.SessionRecord, error) {
	if s, ok := t[id]; ok {
		return s, nil
	}
	return nil, gate.ErrNotFound
}
