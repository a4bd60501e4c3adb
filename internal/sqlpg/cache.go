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

// lru is a bounded, least-recently-used map from statement text to result.
// It is safe for concurrent use. Entries are never mutated after insertion,
// so a result handed out stays valid after it is evicted.
type lru struct {
	mu    sync.Mutex
	max   int
	items map[string]*lruEntry
	root  lruEntry // sentinel: root.next is the most recent, root.prev the least
}

type lruEntry struct {
	key        string
	val        result
	prev, next *lruEntry
}

// newLRU returns a cache holding at most max entries; max must be positive.
func newLRU(max int) *lru {
	c := &lru{max: max, items: make(map[string]*lruEntry, min(max, 4096))}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// get returns the result stored for key and marks it recently used.
func (c *lru) get(key string) (result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return result{}, false
	}
	c.unlink(e)
	c.pushFront(e)
	return e.val, true
}

// add stores val under key, evicting the least recently used entry when the
// cache is full. Adding a key already present keeps the stored value: two
// goroutines that classified the same text at once computed equal results.
func (c *lru) add(key string, val result) {
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
	e := &lruEntry{key: key, val: val}
	c.items[key] = e
	c.pushFront(e)
}

// len returns the number of entries.
func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func (c *lru) unlink(e *lruEntry) {
	e.prev.next = e.next
	e.next.prev = e.prev
}

func (c *lru) pushFront(e *lruEntry) {
	e.prev = &c.root
	e.next = c.root.next
	c.root.next.prev = e
	c.root.next = e
}
