package sqlpg

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Resolver returns the class of the statement prepared in the session under
// name (by SQL PREPARE or a protocol-level Parse; both share one namespace
// in the server), and false when the session has no such statement. Classify
// calls it for EXECUTE; it must not retain or modify the class it returns.
type Resolver func(name string) (*gate.Class, bool)

// PreparedChange is how one statement of a text changes the session's
// prepared statements, for a caller that maintains the map behind a
// Resolver. Apply it only once the server has completed statement Index
// (a failed PREPARE leaves an older statement of the same name in place).
type PreparedChange struct {
	// Index is the statement's position in the text, from 0.
	Index int
	// Name is the prepared statement's name; "" with Class nil means all
	// prepared statements were deallocated (DEALLOCATE ALL, DISCARD ALL).
	Name string
	// Class is what EXECUTE Name will run; nil means Name was deallocated.
	Class *gate.Class
}

// PreparedChanges lists the PREPARE, DEALLOCATE and DISCARD ALL statements
// of sql, in order. Each PREPARE carries the class of its inner statement,
// the one EXECUTE should be given by a Resolver. The only error is a
// *ParseError. The result is not cached.
func (c *Classifier) PreparedChanges(sql string) ([]PreparedChange, error) {
	tree, err := parse(sql)
	if err != nil {
		return nil, err
	}
	var out []PreparedChange
	for i, raw := range tree.Stmts {
		switch x := raw.Stmt.GetNode().(type) {
		case *pg.Node_PrepareStmt:
			w := c.newWalker(nil)
			w.tags = append(w.tags, w.stmt(x.PrepareStmt.Query))
			w.raise(gate.KindRead, "")
			out = append(out, PreparedChange{Index: i, Name: x.PrepareStmt.Name, Class: w.class()})
		case *pg.Node_DeallocateStmt:
			name := x.DeallocateStmt.Name
			if x.DeallocateStmt.Isall {
				name = ""
			}
			out = append(out, PreparedChange{Index: i, Name: name})
		case *pg.Node_DiscardStmt:
			if x.DiscardStmt.Target == pg.DiscardMode_DISCARD_ALL {
				out = append(out, PreparedChange{Index: i})
			}
		}
	}
	return out, nil
}
