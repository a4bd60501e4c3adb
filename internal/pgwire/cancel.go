package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"sync"
	"time"
)

// cancelKeys maps the BackendKeyData the gateway gives each client to the
// upstream backend it stands for, so a CancelRequest sent to the gateway
// cancels the right upstream query. Clients never learn upstream keys.
//
// Keys live in this process only: a CancelRequest that reaches another
// replica of a multi-node deployment is ignored, as PostgreSQL itself
// ignores unknown keys.
type cancelKeys struct {
	mu sync.Mutex
	m  map[uint32]*cancelTarget
}

type cancelTarget struct {
	secret   [4]byte // what the client was given
	upstream *Upstream
	pid      uint32
	key      []byte

	mu   sync.Mutex
	hold context.CancelCauseFunc // set while the client's statement waits for approval
}

// errQueryCanceled answers a statement cancelled while it waited for
// approval, as PostgreSQL answers a cancelled query.
var errQueryCanceled = &wireError{code: "57014", msg: "gatehouse: canceling statement due to user request; it was waiting for approval and will not run"}

// holding makes a cancel request for this target end the client's wait
// for approval (with cause errQueryCanceled) instead of going upstream,
// where nothing runs meanwhile; release undoes it.
func (t *cancelTarget) holding(cancel context.CancelCauseFunc) (release func()) {
	t.mu.Lock()
	t.hold = cancel
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		t.hold = nil
		t.mu.Unlock()
	}
}

// cancelHold ends the wait for approval, if one is in progress, and
// reports whether it did.
func (t *cancelTarget) cancelHold() bool {
	t.mu.Lock()
	h := t.hold
	t.mu.Unlock()
	if h == nil {
		return false
	}
	h(errQueryCanceled)
	return true
}

func newCancelKeys() *cancelKeys { return &cancelKeys{m: map[uint32]*cancelTarget{}} }

// add registers a target and returns the process id and secret to give the
// client.
func (k *cancelKeys) add(t *cancelTarget) uint32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		pid := binary.BigEndian.Uint32(b[:4]) & 0x7fffffff
		if pid == 0 || k.m[pid] != nil {
			continue
		}
		copy(t.secret[:], b[4:])
		k.m[pid] = t
		return pid
	}
}

func (k *cancelKeys) lookupByPID(pid uint32) *cancelTarget {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m[pid]
}

func (k *cancelKeys) remove(pid uint32) {
	k.mu.Lock()
	delete(k.m, pid)
	k.mu.Unlock()
}

// lookup returns the target for a client's cancel request, comparing the
// secret in constant time; nil when unknown.
func (k *cancelKeys) lookup(pid uint32, secret []byte) *cancelTarget {
	k.mu.Lock()
	t := k.m[pid]
	k.mu.Unlock()
	if t == nil || subtle.ConstantTimeCompare(t.secret[:], secret) != 1 {
		return nil
	}
	return t
}

// applyCancel applies a cancel key if this process issued it: it ends a
// statement's wait for approval, or forwards the cancel to the upstream
// backend. It reports whether the key was this process's.
func (s *Server) applyCancel(ctx context.Context, pid uint32, secret []byte) bool {
	t := s.cancel.lookup(pid, secret)
	if t == nil {
		return false
	}
	if t.cancelHold() {
		return true
	}
	if err := t.upstream.sendCancel(ctx, t.pid, t.key); err != nil {
		s.log.Warn("forwarding cancel request failed", "connection", t.upstream.Name, "err", err)
	}
	return true
}

// applyRelayed applies the cancel keys other replicas relay, until ctx ends.
func (s *Server) applyRelayed(ctx context.Context, keys <-chan []byte) {
	for key := range keys {
		if len(key) < 8 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s.applyCancel(cctx, binary.BigEndian.Uint32(key), key[4:])
		cancel()
	}
}
