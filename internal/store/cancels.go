package store

import (
	"context"
	"encoding/hex"
	"sync"
)

// Cancel relaying: a CancelRequest carries a key that only the gateway
// process that issued it can apply. When several replicas share a
// PostgreSQL store behind a load balancer, a cancel can reach the wrong
// one; it then publishes the key (NOTIFY gatehouse_cancels) and every
// replica applies the keys it issued. A SQLite store serves one gateway,
// whose own keys are all it sees: it relays nothing.

// cancelsChannel is the LISTEN/NOTIFY channel of relayed cancel keys.
const cancelsChannel = "gatehouse_cancels"

// maxCancelKey bounds a relayed key (a process id and a secret of at most
// 256 bytes, as CancelRequest allows).
const maxCancelKey = 4 + 256

// cancelSubs fans relayed keys out to WatchCancels subscribers. Slow
// subscribers lose keys (a cancel is a best-effort request, as in
// PostgreSQL itself).
type cancelSubs struct {
	mu   sync.Mutex
	subs map[chan []byte]struct{}
}

func (c *cancelSubs) subscribe(ctx context.Context) <-chan []byte {
	ch := make(chan []byte, 16)
	c.mu.Lock()
	if c.subs == nil {
		c.subs = map[chan []byte]struct{}{}
	}
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	go func() {
		<-ctx.Done()
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
		close(ch)
	}()
	return ch
}

func (c *cancelSubs) publish(key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- key:
		default:
		}
	}
}

// publishPayload decodes a NOTIFY payload into a key, ignoring junk.
func (c *cancelSubs) publishPayload(payload string) {
	key, err := hex.DecodeString(payload)
	if err != nil || len(key) < 8 || len(key) > maxCancelKey {
		return
	}
	c.publish(key)
}

// PublishCancel implements Store: a no-op, one gateway per SQLite store.
func (s *sqliteStore) PublishCancel(context.Context, []byte) error { return s.check() }

// WatchCancels implements Store: nothing is ever relayed on SQLite; the
// channel closes when ctx ends.
func (s *sqliteStore) WatchCancels(ctx context.Context) (<-chan []byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var none cancelSubs
	return none.subscribe(ctx), nil
}

// PublishCancel implements Store.
func (s *postgresStore) PublishCancel(ctx context.Context, key []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	if len(key) < 8 || len(key) > maxCancelKey {
		return nil
	}
	_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, cancelsChannel, hex.EncodeToString(key))
	return s.err("publish cancel", err)
}

// WatchCancels implements Store, on the same LISTEN connection as
// WatchApprovals.
func (s *postgresStore) WatchCancels(ctx context.Context) (<-chan []byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := s.startListen(ctx); err != nil {
		return nil, err
	}
	return s.cancels.subscribe(ctx), nil
}
