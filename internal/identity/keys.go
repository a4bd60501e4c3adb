package identity

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// keySource finds the keys that may have signed a token of one issuer.
type keySource interface {
	// lookup returns the keys whose kid is kid, or every key when kid is
	// "". It may fetch, or wait for a fetch in flight, bounded by ctx. It
	// returns either at least one key or a *gate.AuthError. The returned
	// slice is shared and must not be modified.
	lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error)
}

// remoteKeys caches one issuer's key set, fetched through discovery.
//
// Fetches run in their own goroutine under fetchTimeout, detached from any
// caller's context, and are shared: while one is in flight, every caller
// that needs it waits for that one. A new fetch starts only when none is in
// flight and refetchInterval (after a success) or retryInterval (after a
// failure) has passed since the last one started, measured on the injected
// clock. The last good key set stays in use when a refresh fails.
// Safe for concurrent use.
type remoteKeys struct {
	issuer string
	client *http.Client
	clock  gate.Clock
	log    *slog.Logger

	mu        sync.Mutex
	keys      []jose.JSONWebKey // last good set, never mutated; nil before the first success
	fetchedAt time.Time         // when keys arrived
	attempt   time.Time         // when the latest fetch started; zero before the first
	lastErr   error             // outcome of the latest finished fetch
	call      *fetchCall        // the fetch in flight, or nil
	onWait    func()            // test hook, called (under mu) when a caller starts waiting
}

// fetchCall is one fetch in flight; done closes when its result is stored.
type fetchCall struct{ done chan struct{} }

func newRemoteKeys(issuer string, client *http.Client, clock gate.Clock, log *slog.Logger) *remoteKeys {
	return &remoteKeys{issuer: issuer, client: client, clock: clock, log: log}
}

// start begins the first fetch without waiting for it (New calls it, so
// start-up never blocks on an issuer).
func (r *remoteKeys) start() {
	r.mu.Lock()
	if r.call == nil {
		r.startLocked()
	}
	r.mu.Unlock()
}

// startLocked begins a fetch. r.mu is held and no fetch is in flight.
func (r *remoteKeys) startLocked() *fetchCall {
	c := &fetchCall{done: make(chan struct{})}
	r.call = c
	r.attempt = r.clock.Now()
	go r.run(c)
	return c
}

func (r *remoteKeys) run(c *fetchCall) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	f, err := fetchKeys(ctx, r.client, r.issuer)
	// Log before publishing the result, so that whoever waited for this
	// fetch finds the reason in the log.
	for _, s := range f.skipped {
		r.log.Warn("identity: ignoring a key of the issuer's key set", "issuer", r.issuer, "why", s)
	}
	if err != nil {
		r.log.Error("identity: cannot fetch the issuer's signing keys; its tokens fail until a retry succeeds",
			"issuer", r.issuer, "err", err, "retry_after", retryInterval)
	} else {
		r.log.Info("identity: fetched the issuer's signing keys", "issuer", r.issuer, "jwks_uri", f.jwksURI, "keys", len(f.keys))
		sortKeys(f.keys)
	}
	r.mu.Lock()
	r.lastErr = err
	if err == nil {
		r.keys, r.fetchedAt = f.keys, r.clock.Now()
	}
	r.call = nil
	close(c.done)
	r.mu.Unlock()
}

// mayFetchLocked reports whether a new fetch may start now. r.mu is held.
func (r *remoteKeys) mayFetchLocked(now time.Time) bool {
	if r.call != nil {
		return false
	}
	if r.attempt.IsZero() {
		return true
	}
	wait := refetchInterval
	if r.lastErr != nil {
		wait = retryInterval
	}
	return now.Sub(r.attempt) >= wait
}

func (r *remoteKeys) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	r.mu.Lock()
	now := r.clock.Now()
	if found := matchKID(r.keys, kid); len(found) > 0 {
		if now.Sub(r.fetchedAt) >= keysMaxAge && r.mayFetchLocked(now) {
			r.startLocked() // refresh in the background; serve the cached keys meanwhile
		}
		r.mu.Unlock()
		return found, nil
	}
	c := r.call
	if c == nil && r.mayFetchLocked(now) {
		c = r.startLocked()
	}
	if c == nil {
		err := r.missLocked(kid, now)
		r.mu.Unlock()
		return nil, err
	}
	if r.onWait != nil {
		r.onWait()
	}
	r.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, fail(reasonKeysUnavailable, "gave up waiting for the keys of issuer %q to be fetched: %v", r.issuer, context.Cause(ctx))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if found := matchKID(r.keys, kid); len(found) > 0 {
		return found, nil
	}
	return nil, r.missLocked(kid, r.clock.Now())
}

// missLocked explains why no key matched kid. r.mu is held.
func (r *remoteKeys) missLocked(kid string, now time.Time) error {
	switch {
	case r.keys == nil && r.lastErr == nil:
		return fail(reasonKeysUnavailable, "the keys of issuer %q could not be fetched: no fetch has completed yet", r.issuer)
	case r.keys == nil:
		return fail(reasonKeysUnavailable, "the keys of issuer %q could not be fetched: %v", r.issuer, r.lastErr)
	case r.lastErr != nil:
		return fail(reasonKeysUnavailable, "token key id %s is not among the cached keys of issuer %q, and refetching them failed: %v",
			quote(kid), r.issuer, r.lastErr)
	}
	return fail(reasonSignature, "token key id %s is not among the keys of issuer %q (fetched %s ago; an unknown key id refetches them at most once a minute)",
		quote(kid), r.issuer, now.Sub(r.fetchedAt).Round(time.Second))
}

// staticKeys is a fixed key set: the dev issuer's. It never fetches.
type staticKeys struct {
	issuer string
	keys   []jose.JSONWebKey
}

func (s staticKeys) lookup(_ context.Context, kid string) ([]jose.JSONWebKey, error) {
	if found := matchKID(s.keys, kid); len(found) > 0 {
		return found, nil
	}
	return nil, fail(reasonSignature, "token key id %s is not the key of dev issuer %q", quote(kid), s.issuer)
}

// matchKID returns the keys whose kid is kid, or all keys when kid is "".
// keys is sorted by kid (sortKeys), so the matches are one subslice and
// nothing is allocated.
func matchKID(keys []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	if kid == "" {
		return keys
	}
	i, found := slices.BinarySearchFunc(keys, kid, func(k jose.JSONWebKey, kid string) int {
		return strings.Compare(k.KeyID, kid)
	})
	if !found {
		return nil
	}
	j := i + 1
	for j < len(keys) && keys[j].KeyID == kid {
		j++
	}
	return keys[i:j:j]
}

// sortKeys orders keys by kid for matchKID, in place, keeping the key set's
// order among equal kids.
func sortKeys(keys []jose.JSONWebKey) {
	slices.SortStableFunc(keys, func(a, b jose.JSONWebKey) int { return strings.Compare(a.KeyID, b.KeyID) })
}
