package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Config configures a Recorder. Store and Chain are required.
type Config struct {
	// Store receives the records. The Recorder does not own it: Close does
	// not close it, and it may be shared (with a Trail, other components).
	Store store.Store
	// Chain names this gateway node's hash chain. Every node writing to a
	// shared store needs its own (the node name), so replicas never
	// contend. Two live Recorders on one chain do not fork it (the store
	// rejects the second record with a seq), but they make each other's
	// commits fail.
	Chain string
	// Logger receives commit failures and lost events; slog.Default() if nil.
	Logger *slog.Logger
	// MaxBatch bounds the events committed in one transaction (default 256).
	MaxBatch int
	// QueueSize bounds the events waiting for the writer (default 8192).
	QueueSize int
	// EnqueueWait is how long Record blocks for a non-write-ahead event when
	// the queue is full before it counts the event lost (default 1s).
	EnqueueWait time.Duration
	// CommitTimeout bounds one commit, including re-reading the head after a
	// failure (default 10s). A store that hangs fails the batch after it.
	CommitTimeout time.Duration
	// AsyncLinger is how long a group holding only non-write-ahead events
	// waits for a write-ahead event to share its commit (default 2ms;
	// negative: commit at once). It halves the commits, and fsyncs, of a
	// lone agent, whose next statement's step otherwise queues behind the
	// previous statement's result.
	AsyncLinger time.Duration
	// Now stamps events whose Time is zero; time.Now if nil.
	Now func() time.Time
}

// ErrClosed is returned by Record after Close. It wraps gate.ErrShuttingDown.
var ErrClosed = fmt.Errorf("audit: recorder closed: %w", gate.ErrShuttingDown)

// ErrQueueFull is returned by Record when a non-write-ahead event could not
// be queued within Config.EnqueueWait; the event is lost (and counted).
var ErrQueueFull = errors.New("audit: queue full, event lost")

// Recorder is the audit recorder: it implements gate.Recorder on a Store,
// chaining every record to the previous one of its chain by hash.
//
// One writer goroutine owns the chain head and commits in groups: it takes
// every event that arrived while the previous transaction was committing
// (up to MaxBatch) and appends them in one transaction. Write-ahead events
// wait for their group's commit; the others are queued and Record returns.
//
// A Recorder is safe for concurrent use. Create it with New, stop it with
// Close.
type Recorder struct {
	st          store.Store
	chain       string
	log         *slog.Logger
	maxBatch    int
	enqueueWait time.Duration
	timeout     time.Duration
	lingerFor   time.Duration
	now         func() time.Time

	queue     chan *pending
	closing   chan struct{} // closed by Close
	stopped   chan struct{} // closed by the writer when it has exited
	closeOnce sync.Once

	// Owned by the writer goroutine.
	head      store.Head
	headKnown bool
	recs      []store.Record

	stats struct {
		events, commits, failed, lost atomic.Uint64
		maxBatch                      atomic.Int64
	}
	// commitHook, when set (tests), runs before each Append.
	commitHook func(n int)
}

// pending is one event on its way to the store.
type pending struct {
	rec  store.Record
	done chan error // write-ahead only; buffered, receives the commit result
	// state moves from queued to taken (by the writer) or to abandoned (by
	// a Record that stopped waiting); whoever moves it first wins.
	state atomic.Int32
}

const (
	queued int32 = iota
	taken
	abandoned
)

// New reads the head of cfg.Chain from the store, so that the chain
// continues where it stopped, and starts the writer. It fails if the store
// cannot be read.
func New(ctx context.Context, cfg Config) (*Recorder, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("audit: Config.Store is required")
	case cfg.Chain == "":
		return nil, errors.New("audit: Config.Chain is required (the gateway node's name)")
	case len(cfg.Chain) > 200 || !utf8.ValidString(cfg.Chain) || strings.ContainsRune(cfg.Chain, 0):
		return nil, fmt.Errorf("audit: Config.Chain %q: want at most 200 bytes of UTF-8 without NUL", cfg.Chain)
	case cfg.MaxBatch < 0 || cfg.QueueSize < 0 || cfg.EnqueueWait < 0 || cfg.CommitTimeout < 0:
		return nil, errors.New("audit: Config.MaxBatch, QueueSize, EnqueueWait and CommitTimeout must not be negative")
	}
	r := &Recorder{
		st:          cfg.Store,
		chain:       cfg.Chain,
		log:         cfg.Logger,
		maxBatch:    cmp0(cfg.MaxBatch, 256),
		enqueueWait: cmp0(cfg.EnqueueWait, time.Second),
		timeout:     cmp0(cfg.CommitTimeout, 10*time.Second),
		lingerFor:   cmp0(cfg.AsyncLinger, 2*time.Millisecond),
		now:         cfg.Now,
		queue:       make(chan *pending, cmp0(cfg.QueueSize, 8192)),
		closing:     make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	h, err := r.st.Head(ctx, r.chain)
	if err != nil {
		return nil, fmt.Errorf("audit: read head of chain %q: %w", r.chain, err)
	}
	r.head, r.headKnown = h, true
	r.recs = make([]store.Record, 0, r.maxBatch)
	go r.run()
	return r, nil
}

func cmp0[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Record implements gate.Recorder.
//
// The event is encoded before Record returns, so e is not retained. For a
// write-ahead event Record returns nil only once the transaction holding
// it has committed (durably: see package store), and otherwise the store's
// error; the caller must then not forward the command.
//
// If ctx ends first, Record returns ctx.Err(). If the writer had not yet
// taken the event, it is withdrawn and will never be recorded. If it had,
// the commit goes on and the event may still be recorded (it cannot be
// recalled from a transaction in flight). Either way the caller must treat
// the event as not recorded and not proceed; a step in the trail without a
// step_result may therefore be a step that never ran.
//
// A non-write-ahead event is queued and Record returns nil at once; nil
// then does not mean durable. If the queue is full Record waits up to
// Config.EnqueueWait and then returns ErrQueueFull. If its commit fails
// later, the event is lost: the failure is logged and counted (Stats.Lost),
// not retried.
//
// After Close, Record returns ErrClosed.
func (r *Recorder) Record(ctx context.Context, e gate.Event) error {
	select {
	case <-r.closing:
		return ErrClosed
	default:
	}
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	rec, err := encodeEvent(&e)
	if err != nil {
		if !e.Kind.WriteAhead() {
			r.lose(1, err)
		}
		return err
	}
	p := &pending{rec: rec}
	if !e.Kind.WriteAhead() {
		return r.enqueueAsync(ctx, p)
	}
	p.done = make(chan error, 1)
	select {
	case r.queue <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.closing:
		return ErrClosed
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		p.state.CompareAndSwap(queued, abandoned)
		return ctx.Err()
	case <-r.stopped:
		// The writer answers every event it took before it stops.
		select {
		case err := <-p.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// enqueueAsync queues a non-write-ahead event.
func (r *Recorder) enqueueAsync(ctx context.Context, p *pending) error {
	select {
	case r.queue <- p:
		return r.afterEnqueue(p)
	default:
	}
	t := time.NewTimer(r.enqueueWait)
	defer t.Stop()
	select {
	case r.queue <- p:
		return r.afterEnqueue(p)
	case <-r.closing:
		return ErrClosed
	case <-ctx.Done():
		r.lose(1, ctx.Err())
		return ctx.Err()
	case <-t.C:
		r.lose(1, ErrQueueFull)
		return ErrQueueFull
	}
}

// afterEnqueue catches the event queued while Close was stopping the
// writer, which would otherwise sit in the queue forever.
func (r *Recorder) afterEnqueue(p *pending) error {
	select {
	case <-r.stopped:
		if p.state.CompareAndSwap(queued, abandoned) {
			return ErrClosed
		}
	default:
	}
	return nil
}

func (r *Recorder) lose(n int, err error) {
	total := r.stats.lost.Add(uint64(n))
	r.log.Error("audit events lost", "chain", r.chain, "events", n, "lost_total", total, "err", err)
}

// Close stops taking events, commits those queued and stops the writer. It
// returns ctx.Err() if ctx ends first (the writer then finishes on its
// own). It does not close the Store. Close may be called more than once.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() { close(r.closing) })
	select {
	case <-r.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats are the Recorder's counters since New.
type Stats struct {
	Events   uint64 // events committed
	Commits  uint64 // transactions committed
	Failed   uint64 // transactions that failed
	Lost     uint64 // non-write-ahead events not recorded
	MaxBatch int    // the most events committed in one transaction
}

// Stats returns the counters. Events/Commits is the mean group size.
func (r *Recorder) Stats() Stats {
	return Stats{
		Events:   r.stats.events.Load(),
		Commits:  r.stats.commits.Load(),
		Failed:   r.stats.failed.Load(),
		Lost:     r.stats.lost.Load(),
		MaxBatch: int(r.stats.maxBatch.Load()),
	}
}

var _ gate.Recorder = (*Recorder)(nil)
