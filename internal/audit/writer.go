package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// run is the writer goroutine: the only code that touches the chain head.
// It commits groups until Close, then commits what is still queued and
// exits, answering every write-ahead event it took before closing stopped.
func (r *Recorder) run() {
	defer close(r.stopped)
	batch := make([]*pending, 0, r.maxBatch)
	for {
		select {
		case p := <-r.queue:
			if p.state.CompareAndSwap(queued, taken) {
				batch = append(batch[:0], p)
			}
			batch = r.collect(batch)
			batch = r.linger(batch)
			r.commit(batch)
			clear(batch)
			batch = batch[:0]
		case <-r.closing:
			for {
				batch = r.collect(batch[:0])
				if len(batch) == 0 {
					return
				}
				r.commit(batch)
				clear(batch)
			}
		}
	}
}

// collect adds to batch every event already queued, up to maxBatch. Events
// that arrived while the previous group was committing are all here: that
// is the group commit.
func (r *Recorder) collect(batch []*pending) []*pending {
	for len(batch) < r.maxBatch {
		select {
		case p := <-r.queue:
			if p.state.CompareAndSwap(queued, taken) {
				batch = append(batch, p)
			}
		default:
			return batch
		}
	}
	return batch
}

// linger holds a group of only non-write-ahead events (step results,
// session closes) for up to Config.AsyncLinger, so that they share the
// commit, and the fsync, of the next write-ahead event instead of costing
// one of their own. A lone agent's statement otherwise waits for two
// commits: its previous statement's result and then its own step. It
// stops early when a write-ahead event arrives, the group is full, or
// Close begins.
func (r *Recorder) linger(batch []*pending) []*pending {
	if r.lingerFor <= 0 || len(batch) == 0 {
		return batch
	}
	for _, p := range batch {
		if p.done != nil {
			return batch
		}
	}
	t := time.NewTimer(r.lingerFor)
	defer t.Stop()
	for len(batch) < r.maxBatch {
		select {
		case p := <-r.queue:
			if p.state.CompareAndSwap(queued, taken) {
				batch = append(batch, p)
				if p.done != nil {
					return r.collect(batch)
				}
			}
		case <-t.C:
			return batch
		case <-r.closing:
			return batch
		}
	}
	return batch
}

// commit chains batch onto the head and appends it in one transaction,
// then answers the write-ahead events.
//
// After a failure the in-memory head is no longer trusted: the transaction
// may have committed even though Append reported an error (a connection
// lost during COMMIT), so the next commit re-reads the head from the store
// first. The chain therefore never has a hole or a fork: the next group
// links to whatever the store really holds last.
func (r *Recorder) commit(batch []*pending) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	err := r.append(ctx, batch)
	if err != nil {
		r.headKnown = false
		r.stats.failed.Add(1)
		async := 0
		for _, p := range batch {
			if p.done == nil {
				async++
			}
		}
		r.log.Error("audit commit failed", "chain", r.chain, "events", len(batch), "err", err)
		if async > 0 {
			r.lose(async, err)
		}
		if errors.Is(err, store.ErrConflict) {
			r.log.Error("audit chain has another writer: give every gateway node its own chain name", "chain", r.chain)
		}
	}
	for _, p := range batch {
		if p.done != nil {
			p.done <- err
		}
	}
}

// append assigns seq and hashes and appends; on success it advances the head.
func (r *Recorder) append(ctx context.Context, batch []*pending) error {
	if !r.headKnown {
		h, err := r.st.Head(ctx, r.chain)
		if err != nil {
			return fmt.Errorf("audit: re-read head of chain %q: %w", r.chain, err)
		}
		r.head, r.headKnown = h, true
	}
	seq, prev := r.head.Seq, r.head.Hash
	if seq == 0 {
		prev = genesis
	}
	recs := r.recs[:0]
	for _, p := range batch {
		rec := p.rec
		seq++
		rec.Chain, rec.Seq, rec.PrevHash = r.chain, seq, prev
		rec.Hash = hashRecord(&rec)
		prev = rec.Hash
		recs = append(recs, rec)
	}
	if r.commitHook != nil {
		r.commitHook(len(recs))
	}
	err := r.st.Append(ctx, recs)
	clear(recs) // drop references to bodies
	if err != nil {
		return fmt.Errorf("audit: commit %d events to chain %q: %w", len(batch), r.chain, err)
	}
	r.head = store.Head{Seq: seq, Hash: prev}
	r.stats.commits.Add(1)
	r.stats.events.Add(uint64(len(batch)))
	if n := int64(len(batch)); n > r.stats.maxBatch.Load() {
		r.stats.maxBatch.Store(n)
	}
	return nil
}
