package approval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// RequestGrant implements gate.Approvals: it persists a pending request by
// id for time-bound access to g.Connection. Errors wrapping ErrInvalid
// name what is wrong: an unknown connection, an access other than read,
// write, ddl or admin, a duration <= 0 or over the connection's max_grant
// (DefaultMaxGrant when unset). Grants are decided like statements, by the
// default approvers (Config.Approvers), one approval required; with no
// default approvers the request is refused. Once approved, the grant is
// active from the approval until approval + Duration.
func (s *Service) RequestGrant(ctx context.Context, id *gate.Identity, g gate.GrantSpec) (*gate.Approval, error) {
	if id == nil {
		return nil, fmt.Errorf("approval: %w: a grant request needs an identity", gate.ErrForbidden)
	}
	if s.isClosed() {
		return nil, gate.ErrShuttingDown
	}
	conn, ok := s.conns[g.Connection]
	switch {
	case !ok:
		return nil, fmt.Errorf("approval: %w: grants cannot be requested for connection %q (known: %s)", ErrInvalid, g.Connection, s.connNames())
	case !slices.Contains(Accesses, g.Access):
		return nil, fmt.Errorf("approval: %w: access %q: want one of %s", ErrInvalid, g.Access, strings.Join(Accesses, ", "))
	case g.Duration <= 0:
		return nil, fmt.Errorf("approval: %w: duration must be positive", ErrInvalid)
	case g.Duration > conn.MaxGrant:
		return nil, fmt.Errorf("approval: %w: duration %v exceeds max_grant %v of connection %q", ErrInvalid, g.Duration, conn.MaxGrant, g.Connection)
	}
	review, err := s.review(&gate.ReviewSpec{Required: 1, Mode: "defer"})
	if err != nil {
		return nil, err
	}
	g.Starts, g.Ends = time.Time{}, time.Time{}
	now := s.clock.Now()
	b := &body{Approval: gate.Approval{
		ID: newID(grantPrefix), Status: gate.ApprovalPending,
		Request: gate.ApprovalRequest{
			Identity: id, Target: gate.Target{Name: g.Connection}, Grant: &g,
			Command:  gate.Command{Request: gate.Request{Reason: g.Reason}},
			Decision: gate.Decision{Action: gate.Review, Message: "time-bound " + g.Access + " access", Review: review},
		},
		Created: now, Expires: now.Add(s.cfg.Timeout), Updated: now, Required: review.Required,
	}}
	return s.create(ctx, b)
}

func (s *Service) connNames() string {
	var names []string
	for n := range s.conns {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "none configured"
	}
	return strings.Join(names, ", ")
}

// Revoke implements gate.Approvals: it ends an active (or approved, not
// yet started) grant now, or withdraws a pending request or an approved,
// unused statement; the approval becomes cancelled, a grant's Ends the
// revocation time, and webhooks hear "cancelled". The requester and the
// request's approvers may revoke (gate.ErrForbidden otherwise); an ended
// request is gate.ErrConflict. Every replica's grant cache drops it on the
// change event.
func (s *Service) Revoke(ctx context.Context, id string, by *gate.Identity, comment string) (*gate.Approval, error) {
	if by == nil {
		return nil, fmt.Errorf("approval %s: %w: no identity", id, gate.ErrForbidden)
	}
	b, err := s.update(ctx, id, func(b *body, now time.Time) error {
		a := &b.Approval
		if !sameIdentity(a.Request.Identity, by) && !approversOf(a).Match(by) && !s.admins.Match(by) {
			return fmt.Errorf("approval %s: %w: only the requester, an approver or an admin may revoke it", id, gate.ErrForbidden)
		}
		if a.Status != gate.ApprovalPending && a.Status != gate.ApprovalApproved || !now.Before(a.Expires) {
			return fmt.Errorf("approval %s: %w: it is %s", id, gate.ErrConflict, a.Status)
		}
		if g := a.Request.Grant; g != nil && a.Status == gate.ApprovalApproved {
			g.Ends = now
		}
		a.Status, a.Expires = gate.ApprovalCancelled, now
		b.Revoked = &Revocation{By: by.String(), Subject: by.Subject, Comment: comment, At: now}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(b, "cancelled")
	return s.view(b), nil
}

// Grants implements gate.Approver: id's active grants, "connection:access",
// sorted. It reads only memory: the cache holds every approved grant of
// every identity, kept current by the store's change feed (across
// replicas) and filtered by the Clock here, so a grant ends on time even
// before the sweep marks it expired. While the change feed is down (the
// PostgreSQL listener reconnecting) a revocation elsewhere could be
// missed, so Grants returns an error and the gate decides without grants.
func (s *Service) Grants(_ context.Context, id *gate.Identity) ([]string, error) {
	return s.grants.active(identityKey(id), s.clock.Now())
}

// grantCache maps identities to their approved grants.
type grantCache struct {
	mu       sync.RWMutex
	byIdent  map[string]map[string]grantEntry // identity key -> approval id -> grant
	versions map[string]int64                 // approval id -> newest body version applied
	stale    bool
}

type grantEntry struct {
	key        string // connection:access
	starts, to time.Time
}

var errGrantsStale = errors.New("approval: grants unavailable while the store's change feed reconnects")

func (c *grantCache) active(ident string, now time.Time) ([]string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.stale {
		return nil, errGrantsStale
	}
	var out []string
	for _, g := range c.byIdent[ident] {
		if !now.Before(g.starts) && now.Before(g.to) && !slices.Contains(out, g.key) {
			out = append(out, g.key)
		}
	}
	slices.Sort(out)
	return out, nil
}

// apply records b's state if it is newer than what the cache has.
func (c *grantCache) apply(b *body) {
	a := &b.Approval
	g := a.Request.Grant
	if g == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.versions == nil {
		c.versions, c.byIdent = map[string]int64{}, map[string]map[string]grantEntry{}
	}
	if b.Version < c.versions[a.ID] {
		return
	}
	c.versions[a.ID] = b.Version
	ident := identityKey(a.Request.Identity)
	delete(c.byIdent[ident], a.ID)
	if a.Status == gate.ApprovalApproved {
		if c.byIdent[ident] == nil {
			c.byIdent[ident] = map[string]grantEntry{}
		}
		c.byIdent[ident][a.ID] = grantEntry{key: g.Key(), starts: g.Starts, to: g.Ends}
	}
}

// holds reports whether the cache has grant id; c.mu is held.
func (c *grantCache) holds(id string) bool {
	for _, m := range c.byIdent {
		if _, ok := m[id]; ok {
			return true
		}
	}
	return false
}

func (c *grantCache) setStale(stale bool) {
	c.mu.Lock()
	c.stale = stale
	c.mu.Unlock()
}

// reloadGrants replaces the cache with the approved grants in the store.
func (s *Service) reloadGrants(ctx context.Context) error {
	rows, err := s.st.ListApprovals(ctx, store.ApprovalQuery{Kind: store.ApprovalGrant, Statuses: []string{string(gate.ApprovalApproved)}})
	if err != nil {
		return fmt.Errorf("approval: load grants: %w", err)
	}
	fresh := grantCache{versions: map[string]int64{}, byIdent: map[string]map[string]grantEntry{}}
	for i := range rows {
		b, err := decode(&rows[i])
		if err != nil {
			s.log.Error("approval: skipping an undecodable grant", "id", rows[i].ID, "err", err)
			continue
		}
		fresh.apply(b)
	}
	// The read is the truth, except that a grant our own write ended
	// while it ran stays ended. A grant our own write approved meanwhile
	// may be missing until its change event restores it: missing a grant
	// only withholds a permission.
	c := &s.grants
	c.mu.Lock()
	for id, v := range c.versions {
		if v > fresh.versions[id] && !c.holds(id) {
			for _, m := range fresh.byIdent {
				delete(m, id)
			}
			fresh.versions[id] = v
		}
	}
	c.byIdent, c.versions, c.stale = fresh.byIdent, fresh.versions, false
	c.mu.Unlock()
	return nil
}
