package pgwire

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"sync"
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
