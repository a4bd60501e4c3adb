package store

import (
	"context"
	"sync"
)

// maxWatchQueue bounds the changes queued for one slow subscriber; beyond
// it the queue collapses into one WatchResumed.
const maxWatchQueue = 4096

// hub fans approval changes out to WatchApprovals subscribers. publish
// never blocks: each subscriber has its own queue and goroutine, so a slow
// one delays nobody else.
type hub struct {
	mu     sync.Mutex
	subs   map[*watcher]struct{}
	lost   bool // the source is down: new subscribers start with WatchLost
	closed bool
}

type watcher struct {
	mu   sync.Mutex
	q    []ApprovalChange
	wake chan struct{} // capacity 1: "q is not empty"
}

// subscribe registers a subscriber until ctx ends or the hub closes.
func (h *hub) subscribe(ctx context.Context) (<-chan ApprovalChange, error) {
	w := &watcher{wake: make(chan struct{}, 1)}
	out := make(chan ApprovalChange)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	if h.subs == nil {
		h.subs = map[*watcher]struct{}{}
	}
	h.subs[w] = struct{}{}
	if h.lost {
		w.push(ApprovalChange{State: WatchLost})
	}
	h.mu.Unlock()
	go func() {
		defer close(out)
		defer h.remove(w)
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.wake:
				if !ok {
					return
				}
			}
			for _, c := range w.take() {
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func (h *hub) remove(w *watcher) {
	h.mu.Lock()
	delete(h.subs, w)
	h.mu.Unlock()
}

// publish queues c for every subscriber. WatchLost and WatchResumed also
// set the state new subscribers start in.
func (h *hub) publish(c ApprovalChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch c.State {
	case WatchLost:
		if h.lost {
			return
		}
		h.lost = true
	case WatchResumed:
		h.lost = false
	}
	for w := range h.subs {
		w.push(c)
	}
}

// close ends every subscription.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for w := range h.subs {
		close(w.wake)
		delete(h.subs, w)
	}
}

// push queues c; called with the hub's lock held, so never after close.
func (w *watcher) push(c ApprovalChange) {
	w.mu.Lock()
	if len(w.q) >= maxWatchQueue {
		w.q = append(w.q[:0], ApprovalChange{State: WatchResumed})
	}
	w.q = append(w.q, c)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) take() []ApprovalChange {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.q
	w.q = nil
	return q
}
