package pgwire

import (
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// The gateway keeps its own view of the client's prepared statements and
// portals so that an Execute is decided and recorded with the text that the
// upstream will actually run. A Parse or Bind the upstream rejects (or skips
// after an earlier error) does not replace the previous object of that name,
// so every object remembers the one it replaced until the upstream has
// answered. A name the gateway does not know is refused (fail closed).

// objState is what the upstream said about a Parse or Bind.
type objState uint8

const (
	objPending objState = iota // sent, not yet answered
	objOK                      // ParseComplete / BindComplete received
	objFailed                  // rejected, or skipped after an earlier error
)

// prepared is a statement created with Parse.
type prepared struct {
	cmd       gate.Command             // Text, Class, Request; Params unset
	mask      *maskState               // masking of its results, computed at Parse
	rowDesc   *pgproto3.RowDescription // from the client's Describe, for previews
	paramOIDs []uint32                 // from Parse, completed by ParameterDescription
	batch     uint64                   // the client's sync-batch when it was parsed
	state     objState
	prev      *prepared
}

// portal is a bound statement created with Bind.
type portal struct {
	stmt   *prepared
	params []string
	nulls  []bool
	args   bindArgs // raw values, kept for writes only (impact estimates)
	// formats are the Bind's result format codes, for previews.
	formats []int16
	batch   uint64
	state   objState
	prev    *portal
}

// objects tracks statements and portals. The client loop reads and writes
// the maps; the upstream loop sets states. mu guards states, paramOIDs and
// prev links; cond wakes a client loop waiting for an answer.
type objects struct {
	mu      sync.Mutex
	cond    *sync.Cond
	stmts   map[string]*prepared
	portals map[string]*portal
	// sqlStmts holds statements prepared with SQL PREPARE, by name, as
	// the classes EXECUTE runs. They are added once the server completed
	// the PREPARE (applyPrepared).
	sqlStmts map[string]*gate.Class
	// cursors and prepLineage hold what FETCH from a cursor and EXECUTE of
	// a statement return, for masking (added once their DECLARE or PREPARE
	// completed).
	cursors     map[string]*sqlpg.StatementLineage
	prepLineage map[string]*sqlpg.StatementLineage
	closed      bool
}

func newObjects() *objects {
	o := &objects{stmts: map[string]*prepared{}, portals: map[string]*portal{}, sqlStmts: map[string]*gate.Class{},
		cursors: map[string]*sqlpg.StatementLineage{}, prepLineage: map[string]*sqlpg.StatementLineage{}}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// setStmt records the upstream's answer to a Parse.
func (o *objects) setStmt(p *prepared, s objState) {
	o.mu.Lock()
	p.state = s
	if s == objOK {
		p.prev = nil
	}
	o.mu.Unlock()
	o.cond.Broadcast()
}

// setPortal records the upstream's answer to a Bind.
func (o *objects) setPortal(p *portal, s objState) {
	o.mu.Lock()
	p.state = s
	if s == objOK {
		p.prev = nil
	}
	o.mu.Unlock()
	o.cond.Broadcast()
}

// setParamOIDs stores a statement's parameter types from
// ParameterDescription.
func (o *objects) setParamOIDs(p *prepared, oids []uint32) {
	o.mu.Lock()
	p.paramOIDs = oids
	o.mu.Unlock()
}

// close wakes waiters for good: the connection is ending.
func (o *objects) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.cond.Broadcast()
}

// resolveStmt returns the statement the upstream will use for name in the
// current batch; nil: no such statement. When that depends on the answer to
// a Parse sent in an earlier batch, it calls flush (outside the lock, so the
// upstream loop can keep reading while the write blocks) and waits for the
// answer: the common case, an answered or same-batch object, writes
// nothing and waits for nothing.
func (o *objects) resolveStmt(name string, batch uint64, flush func() error) (*prepared, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	flushed := false
	p := o.stmts[name]
	for p != nil && !o.closed {
		switch {
		case p.state == objOK, p.state == objPending && p.batch == batch:
			// Same batch: if the Parse fails, the upstream skips
			// everything up to Sync, this message included.
			return p, nil
		case p.state == objFailed:
			p = p.prev
		case !flushed:
			if err := o.unlocked(flush); err != nil {
				return nil, err
			}
			flushed = true
			p = o.stmts[name] // the maps may have changed meanwhile
		default:
			o.cond.Wait()
		}
	}
	return p, nil
}

// resolvePortal is resolveStmt for portals.
func (o *objects) resolvePortal(name string, batch uint64, flush func() error) (*portal, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	flushed := false
	p := o.portals[name]
	for p != nil && !o.closed {
		switch {
		case p.state == objOK, p.state == objPending && p.batch == batch:
			return p, nil
		case p.state == objFailed:
			p = p.prev
		case !flushed:
			if err := o.unlocked(flush); err != nil {
				return nil, err
			}
			flushed = true
			p = o.portals[name]
		default:
			o.cond.Wait()
		}
	}
	return p, nil
}

// unlocked runs f with o.mu released.
func (o *objects) unlocked(f func() error) error {
	o.mu.Unlock()
	defer o.mu.Lock()
	return f()
}

// addStmt registers a Parse, keeping the statement it may replace.
func (o *objects) addStmt(name string, p *prepared) {
	o.mu.Lock()
	p.prev = o.stmts[name]
	for p.prev != nil && p.prev.state == objFailed {
		p.prev = p.prev.prev
	}
	o.stmts[name] = p
	o.mu.Unlock()
}

// addPortal registers a Bind, keeping the portal it may replace.
func (o *objects) addPortal(name string, p *portal) {
	o.mu.Lock()
	p.prev = o.portals[name]
	for p.prev != nil && p.prev.state == objFailed {
		p.prev = p.prev.prev
	}
	o.portals[name] = p
	o.mu.Unlock()
}

// dropStmt forgets a statement (Close, or a simple Query for the unnamed
// statement).
func (o *objects) dropStmt(name string) {
	o.mu.Lock()
	delete(o.stmts, name)
	o.mu.Unlock()
}

func (o *objects) dropPortal(name string) {
	o.mu.Lock()
	delete(o.portals, name)
	o.mu.Unlock()
}

// resolve returns the class EXECUTE name runs: a statement prepared with
// SQL PREPARE or with Parse (the server keeps both in one namespace).
func (o *objects) resolve(name string) (*gate.Class, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, ok := o.sqlStmts[name]; ok {
		return c, true
	}
	if p, ok := o.stmts[name]; ok && name != "" && p.state == objOK {
		return &p.cmd.Class, true
	}
	return nil, false
}

// resolveLineage is the sqlpg.LineageResolver of the session: FETCH and
// EXECUTE name one namespace each, but the resolver gets only a name, so a
// name declared both as a cursor and as a prepared statement resolves to
// nothing (its columns are then masked whole).
func (o *objects) resolveLineage(name string) (*sqlpg.StatementLineage, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c, okc := o.cursors[name]
	p, okp := o.prepLineage[name]
	switch {
	case okc && okp:
		return nil, false
	case okc:
		return c, true
	case okp:
		return p, true
	}
	return nil, false
}

// applyLineage records the cursors and prepared statements that completed
// statements (index < completed) declared.
func (o *objects) applyLineage(sts []sqlpg.StatementLineage, completed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := 0; i < completed && i < len(sts); i++ {
		st := &sts[i]
		if st.DeclaresCursor != "" {
			o.cursors[st.DeclaresCursor] = st
		}
		if st.Prepares != "" {
			o.prepLineage[st.Prepares] = st
		}
	}
}

// applyPrepared applies the changes of the statements the server
// completed (those with Index < completed): PREPARE adds, DEALLOCATE name
// removes from both namespaces, DEALLOCATE ALL and DISCARD ALL clear them.
func (o *objects) applyPrepared(changes []sqlpg.PreparedChange, completed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ch := range changes {
		if ch.Index >= completed {
			return
		}
		switch {
		case ch.Class != nil:
			o.sqlStmts[ch.Name] = ch.Class
		case ch.Name == "":
			o.sqlStmts = map[string]*gate.Class{}
			o.stmts = map[string]*prepared{}
			o.portals = map[string]*portal{}
			o.prepLineage = map[string]*sqlpg.StatementLineage{}
		default:
			delete(o.sqlStmts, ch.Name)
			delete(o.stmts, ch.Name)
			delete(o.prepLineage, ch.Name)
		}
	}
}
