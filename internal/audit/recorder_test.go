package audit

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

func TestWriteAheadDurable(t *testing.T) {
	e := sqliteEngine(t)
	r := newRecorder(t, e.open(t), "node-1")
	record(t, r, openEvent("s1", "orders", "bot", 0), stepEvent("s1", 1, "SELECT 1", gate.Allow, "", 1))
	// A second Store on the same file, as another process would open it,
	// sees both records while the recorder is still running.
	other := e.open(t)
	recs := scan(t, other, "node-1")
	if len(recs) != 2 || recs[1].Kind != "step" {
		t.Fatalf("fresh store sees %d records: %+v", len(recs), recs)
	}
}

func TestGroupCommitBatches(t *testing.T) {
	st := sqliteEngine(t).open(t)
	release, held := make(chan struct{}), make(chan int)
	first := true
	r := newRecorder(t, st, "node-1", func(c *Config) { c.MaxBatch = 1000 })
	r.commitHook = func(n int) { // runs on the writer goroutine
		if first {
			first = false
			held <- n
			<-release
		}
	}
	// The first event's commit is held; everything recorded meanwhile
	// must go into the next transaction, together.
	done := make(chan error)
	go func() { done <- r.Record(context.Background(), openEvent("s0", "orders", "bot", 0)) }()
	if n := <-held; n != 1 {
		t.Fatalf("first group has %d events", n)
	}
	const n = 200
	for i := range n {
		// Non-write-ahead Record returns once queued.
		if err := r.Record(context.Background(), resultEvent("s0", i+1, 1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := r.Stats()
	if s.Events != n+1 || s.Commits != 2 || s.MaxBatch != n {
		t.Fatalf("stats %+v, want %d events in 2 commits, the second of %d", s, n+1, n)
	}

	// Concurrent write-ahead callers share commits too.
	r2 := newRecorder(t, st, "node-2")
	var wg sync.WaitGroup
	const callers, each = 32, 20
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				if err := r2.Record(context.Background(), stepEvent("s", c*each+i+1, "SELECT 1", gate.Allow, "", 0)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s = r2.Stats()
	t.Logf("%d write-ahead events in %d commits (%.1f per commit, max %d)", s.Events, s.Commits, float64(s.Events)/float64(s.Commits), s.MaxBatch)
	if s.Events != callers*each || s.Commits >= s.Events {
		t.Fatalf("no grouping: %+v", s)
	}
	if rep, err := Verify(context.Background(), st, ""); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep.First(), err)
	}
}

func TestFailClosed(t *testing.T) {
	engines(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		st := e.open(t)
		r := newRecorder(t, st, "node-1")
		record(t, r, openEvent("s1", "orders", "bot", 0), stepEvent("s1", 1, "SELECT 1", gate.Allow, "", 1))
		good := scan(t, st, "node-1")[1]

		e.breakInserts(t)
		err := r.Record(ctx, stepEvent("s1", 2, "DELETE FROM orders", gate.Allow, "", 2))
		if err == nil {
			t.Fatal("write-ahead Record succeeded while the store fails")
		}
		t.Logf("refused: %v", err)
		// A non-write-ahead event is lost and counted; flush it with a
		// write-ahead one (same or next group) that fails too.
		if err := r.Record(ctx, resultEvent("s1", 1, 1, 3)); err != nil {
			t.Fatal(err)
		}
		if err := r.Record(ctx, stepEvent("s1", 3, "SELECT 3", gate.Allow, "", 4)); err == nil {
			t.Fatal("second write-ahead Record succeeded while the store fails")
		}
		if s := r.Stats(); s.Lost != 1 || s.Failed < 2 {
			t.Fatalf("stats %+v, want 1 lost, >= 2 failed commits", s)
		}

		e.fixInserts(t)
		record(t, r, stepEvent("s1", 4, "SELECT 4", gate.Allow, "", 5))
		recs := scan(t, st, "node-1")
		if len(recs) != 3 {
			t.Fatalf("%d records, want 3 (the failed ones left nothing)", len(recs))
		}
		next := recs[2]
		if next.Seq != good.Seq+1 || !bytes.Equal(next.PrevHash, good.Hash) {
			t.Fatalf("after the failure seq %d links to %x, want seq %d linking to %x", next.Seq, next.PrevHash, good.Seq+1, good.Hash)
		}
		if rep, err := Verify(ctx, st, ""); err != nil || !rep.OK() {
			t.Fatalf("verify: %v %v", rep.First(), err)
		}
	})
}

func TestFailClosedStoreGone(t *testing.T) {
	st := sqliteEngine(t).open(t)
	r := newRecorder(t, st, "node-1")
	record(t, r, openEvent("s1", "orders", "bot", 0))
	st.Close()
	err := r.Record(context.Background(), stepEvent("s1", 1, "SELECT 1", gate.Allow, "", 1))
	if !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Record on a closed store = %v, want store.ErrClosed", err)
	}
}

// flaky commits a batch and then reports failure, as when the connection
// drops during COMMIT: the caller cannot know whether it committed.
type flaky struct {
	store.Store
	mu   sync.Mutex
	lies int
}

func (f *flaky) Append(ctx context.Context, recs []store.Record) error {
	err := f.Store.Append(ctx, recs)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && f.lies > 0 {
		f.lies--
		return errors.New("connection reset during COMMIT")
	}
	return err
}

func TestAmbiguousCommitNoFork(t *testing.T) {
	ctx := context.Background()
	inner := sqliteEngine(t).open(t)
	st := &flaky{Store: inner}
	r := newRecorder(t, st, "node-1")
	record(t, r, openEvent("s1", "orders", "bot", 0))
	st.lies = 1
	if err := r.Record(ctx, stepEvent("s1", 1, "SELECT 1", gate.Allow, "", 1)); err == nil {
		t.Fatal("reported failure not returned")
	}
	// The record did commit; the next one must follow it, not reuse its seq.
	record(t, r, stepEvent("s1", 2, "SELECT 2", gate.Allow, "", 2))
	recs := scan(t, inner, "node-1")
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	if rep, err := Verify(ctx, inner, ""); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep.First(), err)
	}
}

func TestRestartContinuesChain(t *testing.T) {
	ctx := context.Background()
	e := sqliteEngine(t)
	st1 := e.open(t)
	r1 := newRecorder(t, st1, "node-1")
	record(t, r1, openEvent("s1", "orders", "bot", 0), stepEvent("s1", 1, "SELECT 1", gate.Allow, "", 1))
	if err := r1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st1.Close()

	st2 := e.open(t)
	r2 := newRecorder(t, st2, "node-1")
	record(t, r2, stepEvent("s1", 2, "SELECT 2", gate.Allow, "", 2))
	recs := scan(t, st2, "node-1")
	if len(recs) != 3 || recs[2].Seq != 3 || !bytes.Equal(recs[2].PrevHash, recs[1].Hash) {
		t.Fatalf("restart broke the chain: %+v", recs)
	}
	if rep, err := Verify(ctx, st2, "node-1"); err != nil || !rep.OK() || rep.Chains[0].Records != 3 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestCloseFlushesAndRefuses(t *testing.T) {
	ctx := context.Background()
	st := sqliteEngine(t).open(t)
	r := newRecorder(t, st, "node-1")
	const n = 300
	for i := range n {
		if err := r.Record(ctx, resultEvent("s", i+1, 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(scan(t, st, "node-1")); got != n {
		t.Fatalf("%d of %d queued events committed by Close", got, n)
	}
	for _, e := range []gate.Event{openEvent("s", "c", "b", 0), resultEvent("s", 1, 0, 0)} {
		err := r.Record(ctx, e)
		if !errors.Is(err, ErrClosed) || !errors.Is(err, gate.ErrShuttingDown) {
			t.Fatalf("Record(%s) after Close = %v", e.Kind, err)
		}
	}
	if err := r.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCancelledBeforeTakenIsNotRecorded(t *testing.T) {
	st := sqliteEngine(t).open(t)
	release := make(chan struct{})
	held := make(chan struct{})
	first := true
	r := newRecorder(t, st, "node-1")
	r.commitHook = func(int) {
		if first {
			first = false
			close(held)
			<-release
		}
	}
	done := make(chan error)
	go func() { done <- r.Record(context.Background(), openEvent("s1", "orders", "bot", 0)) }()
	<-held // the writer is inside the first commit and takes nothing else
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Record(ctx, stepEvent("s1", 1, "DROP TABLE orders", gate.Allow, "", 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Record with a cancelled context = %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := scan(t, st, "node-1")
	if len(recs) != 1 || recs[0].Kind != "session_open" {
		t.Fatalf("a withdrawn event was recorded: %+v", recs)
	}
}

func TestNewValidates(t *testing.T) {
	st := sqliteEngine(t).open(t)
	for name, cfg := range map[string]Config{
		"no store": {Chain: "n"},
		"no chain": {Store: st},
		"nul":      {Store: st, Chain: "a\x00b"},
		"negative": {Store: st, Chain: "n", MaxBatch: -1},
	} {
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	st.Close()
	if _, err := New(context.Background(), Config{Store: st, Chain: "n"}); err == nil {
		t.Error("New on a closed store succeeded")
	}
}

func TestPostgresConnectionsKilled(t *testing.T) {
	ctx := context.Background()
	e := postgresEngine(t)
	st := e.open(t)
	r := newRecorder(t, st, "node-1")
	record(t, r, openEvent("s1", "orders", "bot", 0))
	e.killConnections(t)
	// The store's pooled connections are dead. Each Record either fails
	// (fail closed) or commits on a fresh connection; it must never claim
	// a commit that did not happen, nor leave a hole.
	var ok []int
	for i := 1; i <= 5; i++ {
		err := r.Record(ctx, stepEvent("s1", i, "SELECT 1", gate.Allow, "", 0))
		t.Logf("Record after kill #%d: %v", i, err)
		if err == nil {
			ok = append(ok, i)
		}
	}
	if len(ok) == 0 || ok[len(ok)-1] != 5 {
		t.Fatalf("the recorder did not recover: successes %v", ok)
	}
	steps := map[int]bool{}
	for _, rec := range scan(t, st, "node-1") {
		if rec.Kind == "step" {
			steps[rec.Step] = true
		}
	}
	for _, i := range ok {
		if !steps[i] {
			t.Errorf("step %d was acknowledged but is not in the store", i)
		}
	}
	if rep, err := Verify(ctx, st, ""); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep.First(), err)
	}
}

// A step result waits for the next step's commit instead of costing a
// commit (an fsync) of its own; alone, it is committed after the linger;
// Close does not wait for the linger.
func TestAsyncLingerSharesCommit(t *testing.T) {
	st := sqliteEngine(t).open(t)
	r := newRecorder(t, st, "node-1", func(c *Config) { c.AsyncLinger = time.Hour })
	record(t, r, resultEvent("s0", 1, 1, 0))
	time.Sleep(50 * time.Millisecond) // the writer has taken the result and lingers
	record(t, r, stepEvent("s0", 2, "SELECT 1", gate.Allow, "", 0))
	if s := r.Stats(); s.Events != 2 || s.Commits != 1 {
		t.Fatalf("stats %+v, want the result and the step in one commit", s)
	}
	record(t, r, resultEvent("s0", 2, 1, 0))
	start := time.Now()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Close waited %v for the linger", d)
	}
	if recs := scan(t, st, "node-1"); len(recs) != 3 {
		t.Fatalf("%d records after Close, want 3", len(recs))
	}

	r2 := newRecorder(t, st, "node-2", func(c *Config) { c.AsyncLinger = 20 * time.Millisecond })
	record(t, r2, resultEvent("s1", 1, 1, 0))
	deadline := time.Now().Add(10 * time.Second)
	for r2.Stats().Events != 1 {
		if time.Now().After(deadline) {
			t.Fatal("a lone step result was never committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
