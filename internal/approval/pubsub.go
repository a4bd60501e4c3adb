package approval

import (
	"context"
	"strings"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// How changes travel. Every write commits in the store, which announces it
// on its change feed (store.WatchApprovals: LISTEN/NOTIFY on PostgreSQL,
// in-process on SQLite). One dispatcher goroutine per Service reads the
// feed and
//
//   - wakes the local waiters of that approval (they re-read it);
//   - refreshes the grant cache for grant ids (re-reading the grant);
//   - forwards an ApprovalEvent to every Subscribe channel.
//
// Writes made by this Service also wake its waiters and update its cache
// directly (Service.changed), so a replica sees its own writes at once.
// When the feed reports a gap (WatchLost ... WatchResumed) the grant cache
// refuses to answer until it is reloaded, every waiter re-reads, and
// subscribers get an event with an empty ID, meaning "reload".

// dispatch consumes the change feed until it closes (Close, or the store
// closing).
func (s *Service) dispatch(changes <-chan store.ApprovalChange) {
	defer close(s.done)
	defer s.closeSubscribers()
	for c := range changes {
		switch c.State {
		case store.WatchChange:
			s.wake(c.ID)
			if strings.HasPrefix(c.ID, grantPrefix) {
				s.refreshGrant(c.ID)
			}
			s.publish(gate.ApprovalEvent{ID: c.ID, Status: gate.ApprovalStatus(c.Status)})
		case store.WatchLost:
			s.grants.setStale(true)
			s.log.Warn("approval change feed lost; grants are withheld until it resumes")
		case store.WatchResumed:
			ctx, cancel := s.bgCtx()
			if err := s.reloadGrants(ctx); err != nil {
				s.log.Error("reloading grants failed; they stay withheld", "err", err)
				s.grants.setStale(true)
			}
			cancel()
			s.wakeAll()
			s.publish(gate.ApprovalEvent{})
		}
	}
	s.grants.setStale(true)
}

// refreshGrant re-reads one grant into the cache.
func (s *Service) refreshGrant(id string) {
	ctx, cancel := s.bgCtx()
	defer cancel()
	b, err := s.load(ctx, id)
	if err != nil {
		s.log.Error("refreshing a grant failed; grants are withheld until the next reload", "id", id, "err", err)
		s.grants.setStale(true)
		go s.retryReload()
		return
	}
	s.grants.apply(b)
}

// retryReload reloads the grant cache once the store answers again.
func (s *Service) retryReload() {
	ctx, cancel := s.bgCtx()
	defer cancel()
	if err := s.reloadGrants(ctx); err != nil {
		s.log.Error("reloading grants failed; they stay withheld until the next change", "err", err)
	}
}

// signal wakes one waiter without blocking.
func signal(w chan struct{}) {
	select {
	case w <- struct{}{}:
	default:
	}
}

func (s *Service) addWaiter(id string) chan struct{} {
	w := make(chan struct{}, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiters[id] == nil {
		s.waiters[id] = map[chan struct{}]struct{}{}
	}
	s.waiters[id][w] = struct{}{}
	return w
}

func (s *Service) removeWaiter(id string, w chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.waiters[id], w)
	if len(s.waiters[id]) == 0 {
		delete(s.waiters, id)
	}
}

func (s *Service) wake(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.waiters[id] {
		signal(w)
	}
}

func (s *Service) wakeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, set := range s.waiters {
		for w := range set {
			signal(w)
		}
	}
}

// subscriberBuffer is how many events a slow subscriber may fall behind
// before it misses some (and then gets an empty-ID event).
const subscriberBuffer = 256

type subscriber struct {
	ch     chan gate.ApprovalEvent
	missed bool // an event was dropped; send a reload event first
	done   bool
}

// Subscribe implements gate.Approvals: every change to any approval, from
// any replica, as {ID, Status}, until ctx ends or the Service closes (then
// the channel is closed). Events are never waited for: a subscriber that
// falls subscriberBuffer events behind loses events, and then receives an
// event with an empty ID, as it does after an outage of the change feed;
// it means "changes were missed, reload".
func (s *Service) Subscribe(ctx context.Context) <-chan gate.ApprovalEvent {
	sub := &subscriber{ch: make(chan gate.ApprovalEvent, subscriberBuffer)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(sub.ch)
		return sub.ch
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !sub.done {
			sub.done = true
			delete(s.subs, sub)
			close(sub.ch)
		}
	})
	return sub.ch
}

func (s *Service) publish(e gate.ApprovalEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		if sub.missed {
			select {
			case sub.ch <- gate.ApprovalEvent{}:
				sub.missed = false
			default:
				continue
			}
		}
		select {
		case sub.ch <- e:
		default:
			sub.missed = true
		}
	}
}

func (s *Service) closeSubscribers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		sub.done = true
		close(sub.ch)
		delete(s.subs, sub)
	}
}
