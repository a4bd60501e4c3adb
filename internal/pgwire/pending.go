package pgwire

import (
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/mask"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// expKind is the response the upstream owes for a message the gateway sent.
type expKind uint8

const (
	expParse        expKind = iota + 1 // ParseComplete
	expBind                            // BindComplete
	expDescribe                        // [ParameterDescription] RowDescription | NoData
	expExecute                         // rows, then CommandComplete | EmptyQueryResponse | PortalSuspended
	expClose                           // CloseComplete
	expSync                            // ReadyForQuery
	expQuery                           // a simple Query: everything up to ReadyForQuery
	expDenied                          // the ErrorResponse of an injected failing Bind, replaced by denial
	expDescribeMask                    // RowDescription | NoData of a Describe the gateway sent before a masked Execute; not forwarded
)

// expect is one entry of the response queue. The client loop fills it and
// pushes it before writing the message upstream; from then on only the
// upstream loop touches it, until it is popped and recycled.
type expect struct {
	kind   expKind
	step   *gate.Step
	stmt   *prepared // expParse, expDescribe of a statement
	portal *portal   // expBind
	denial *pgproto3.ErrorResponse
	simple bool // expDenied of a simple Query or FunctionCall: its error must reach the client
	// prep lists the PREPARE/DEALLOCATE changes of a Query or Execute,
	// applied for the statements that completed.
	prep []sqlpg.PreparedChange
	// mask is the masking of a Query's or Execute's results (nil: none);
	// exec carries a masked Execute's row plan from its injected Describe.
	mask *maskState
	exec *execMask
	ddl  bool      // a schema change: the catalog is reloaded when it succeeds
	plan *rowPlan  // the current result set's plan (nil: rows pass)
	copy *copyPlan // the current COPY TO STDOUT's plan (nil: data passes)
	pv   previewer

	// Accounting, upstream loop only.
	rows      int64
	bytes     int64
	completed int // CommandCompletes seen (statements done)
	tag       string
	counts    mask.Counts      // values masked by detector
	masked    map[string]int64 // values masked by column (plans retired so far)
	errMsg    string
	errCode   string
}

// queue is the FIFO of responses owed by the upstream, in the order the
// messages were sent. The client loop pushes, the upstream loop pops; the
// upstream answers strictly in order, which is what keeps the two in step.
type queue struct {
	mu       sync.Mutex
	items    []*expect // ring
	head, n  int
	free     []*expect
	draining bool
}

// push appends a copy of e. It fails with gate.ErrShuttingDown once the
// connection is draining, so nothing new starts during shutdown.
func (q *queue) push(e expect) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.draining {
		return gate.ErrShuttingDown
	}
	var p *expect
	if k := len(q.free); k > 0 {
		p, q.free = q.free[k-1], q.free[:k-1]
	} else {
		p = new(expect)
	}
	*p = e
	if q.n == len(q.items) {
		grown := make([]*expect, max(8, 2*len(q.items)))
		for i := 0; i < q.n; i++ {
			grown[i] = q.items[(q.head+i)%len(q.items)]
		}
		q.items, q.head = grown, 0
	}
	q.items[(q.head+q.n)%len(q.items)] = p
	q.n++
	return nil
}

// front returns the oldest entry, or nil.
func (q *queue) front() *expect {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return nil
	}
	return q.items[q.head]
}

// pop removes the oldest entry and recycles it; the caller must not use it
// afterwards. It reports whether the queue is now empty.
func (q *queue) pop() (empty bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return true
	}
	p := q.items[q.head]
	q.items[q.head] = nil
	q.head = (q.head + 1) % len(q.items)
	q.n--
	*p = expect{}
	q.free = append(q.free, p)
	return q.n == 0
}

// drain marks the queue as draining and reports whether it is empty, in
// which case the connection is idle and can be closed at once.
func (q *queue) drain() (idle bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.draining = true
	return q.n == 0
}

func (q *queue) isDraining() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.draining
}
