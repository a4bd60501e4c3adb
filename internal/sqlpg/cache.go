package sqlpg

import (
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// result is one cached classification: a class or a parse error, both
// immutable once stored.
type result struct {
	class *gate.Class
	err   error
}

// lru is a bounded, least-recently-used map from statement text to a
// value (a classification, a lineage). It is safe for concurrent use.
// Entries are never mutated after insertion, so a value handed out stays
// valid after it is evicted.
type lru[V any] struct {
	mu    sync.Mutex
	max   int
	items map[string]*lruEntry[V]
	root  lruEntry[V] // sentinel: root.next is the most recent, root.prev the least
}

type lruEntry[V any] struct {
	key        string
	val        V
	prev, next *lruEntry[V]
}

// newLRU returns a cache holding at most max entries; max must be positive.
func newLRU[V any](max int) *lru[V] {
	c := &lru[V]{max: max, items: make(map[string]*lruEntry[V], min(max, 4096))}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// get returns the result stored for key and marks it recently used.
func (c *lru[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.unlink(e)
	c.pushFront(e)
	return e.val, true
}

// add stores val under key, evicting the least recently used entry when the
// cache is full. Adding a key already present keeps the stored value: two
// goroutines that classified the same text at once computed equal results.
func (c *lru[V]) add(key string, val V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
	}
	if len(c.items) >= c.max {
		old := c.root.prev
		c.unlink(old)
		delete(c.items, old.key)
	}
	key = strings.Clone(key) // do not pin a larger buffer the caller's string may share
	e := &lruEntry[V]{key: key, val: val}
	c.items[key] = e
	c.pushFront(e)
}

// len returns the number of entries.
func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func (c *lru[V]) unlink(e *lruEntry[V]) {
	e.prev.next = e.next
	e.next.prev = e.prev
}

func (c *lru[V]) pushFront(e *lruEntry[V]) {
	e.prev = &c.root
	e.next = c.root.next
	c.root.next.prev = e
	c.root.next = e
}
