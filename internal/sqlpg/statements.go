package sqlpg

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// stmt walks one statement (top level, or nested: a CTE, a subquery, the
// statement under EXPLAIN, PREPARE, DECLARE, COPY or CREATE TABLE AS),
// raising the walker's kind, and returns its command tag. Utility
// statements are in utility.go.
func (w *walker) stmt(n *pg.Node) string {
	if n == nil || n.Node == nil {
		w.unknown("contains an empty statement node")
		return "???"
	}
	if !w.enter() {
		return "???"
	}
	defer w.leave()
	switch x := n.Node.(type) {
	case *pg.Node_SelectStmt:
		return w.selectStmt(x.SelectStmt)
	case *pg.Node_InsertStmt:
		w.insert(x.InsertStmt)
		return "INSERT"
	case *pg.Node_UpdateStmt:
		w.update(x.UpdateStmt)
		return "UPDATE"
	case *pg.Node_DeleteStmt:
		w.delete(x.DeleteStmt)
		return "DELETE"
	case *pg.Node_MergeStmt:
		w.merge(x.MergeStmt)
		return "MERGE"
	case *pg.Node_ExplainStmt:
		w.explain(x.ExplainStmt)
		return "EXPLAIN"
	case *pg.Node_CopyStmt:
		w.copy(x.CopyStmt)
		return "COPY"
	case *pg.Node_PrepareStmt:
		// PREPARE runs nothing, but its kind is what EXECUTE will run, so
		// that a policy sees a prepared DELETE as a write.
		w.raise(gate.KindRead, "")
		w.stmt(x.PrepareStmt.Query)
		return "PREPARE"
	case *pg.Node_ExecuteStmt:
		w.execute(x.ExecuteStmt)
		return "EXECUTE"
	case *pg.Node_DeallocateStmt:
		w.raise(gate.KindSession, "")
		if x.DeallocateStmt.Isall {
			return "DEALLOCATE ALL"
		}
		return "DEALLOCATE"
	case *pg.Node_DeclareCursorStmt:
		// The query runs as rows are fetched: DECLARE takes its kind.
		w.raise(gate.KindRead, "")
		w.stmt(x.DeclareCursorStmt.Query)
		return "DECLARE CURSOR"
	case *pg.Node_FetchStmt:
		w.raise(gate.KindRead, "")
		if x.FetchStmt.Ismove {
			return "MOVE"
		}
		return "FETCH"
	case *pg.Node_ClosePortalStmt:
		w.raise(gate.KindRead, "")
		if x.ClosePortalStmt.Portalname == "" {
			return "CLOSE CURSOR ALL"
		}
		return "CLOSE CURSOR"
	case *pg.Node_CreateTableAsStmt:
		return w.createTableAs(x.CreateTableAsStmt)
	case *pg.Node_VariableSetStmt:
		return w.set(x.VariableSetStmt)
	case *pg.Node_VariableShowStmt:
		w.raise(gate.KindRead, "")
		return "SHOW"
	case *pg.Node_CallStmt:
		fc := x.CallStmt.Funccall
		if fc == nil {
			w.unknown("CALL without a procedure")
			return "CALL"
		}
		schema, name := qualifiedName(fc.Funcname)
		w.funcs = append(w.funcs, joinName(schema, name))
		w.exprs(fc.Args)
		w.raise(gate.KindAdmin, "CALL runs procedure "+joinName(schema, name)+", whose contents are unknown")
		return "CALL"
	case *pg.Node_DoStmt:
		w.raise(gate.KindAdmin, "DO runs an anonymous code block, whose contents are unknown")
		return "DO"
	default:
		return w.utility(n)
	}
}

// selectStmt walks SELECT, VALUES, TABLE and set operations, and returns
// the tag PostgreSQL gives it.
func (w *walker) selectStmt(s *pg.SelectStmt) string {
	if s == nil {
		return "SELECT"
	}
	w.raise(gate.KindRead, "")
	mark := w.withClause(s.WithClause)
	if s.Larg != nil || s.Rarg != nil {
		w.selectStmt(s.Larg)
		w.selectStmt(s.Rarg)
	}
	w.exprs(s.DistinctClause)
	w.exprs(s.TargetList)
	w.fromItems(s.FromClause)
	w.expr(s.WhereClause)
	w.exprs(s.GroupClause)
	w.expr(s.HavingClause)
	w.exprs(s.WindowClause)
	w.exprs(s.ValuesLists)
	w.exprs(s.SortClause)
	w.expr(s.LimitOffset)
	w.expr(s.LimitCount)
	w.popCTEs(mark)

	tag := "SELECT"
	for i, n := range s.LockingClause {
		lc := n.GetLockingClause()
		if lc == nil {
			w.unknownNode(n)
			continue
		}
		t := lockTag(lc.Strength)
		if i == 0 {
			tag = t
		}
		w.raise(gate.KindWrite, "locks rows ("+strings.TrimPrefix(t, "SELECT ")+")")
	}
	if into := s.IntoClause; into != nil {
		w.raise(gate.KindDDL, "SELECT INTO creates a table")
		w.table(into.Rel)
		tag = "SELECT INTO"
	}
	return tag
}

func lockTag(s pg.LockClauseStrength) string {
	switch s {
	case pg.LockClauseStrength_LCS_FORKEYSHARE:
		return "SELECT FOR KEY SHARE"
	case pg.LockClauseStrength_LCS_FORSHARE:
		return "SELECT FOR SHARE"
	case pg.LockClauseStrength_LCS_FORNOKEYUPDATE:
		return "SELECT FOR NO KEY UPDATE"
	default:
		return "SELECT FOR UPDATE"
	}
}

func (w *walker) insert(s *pg.InsertStmt) {
	w.raise(gate.KindWrite, "")
	mark := w.withClause(s.WithClause)
	w.table(s.Relation)
	w.exprs(s.Cols)
	if s.SelectStmt != nil {
		w.stmt(s.SelectStmt)
	}
	if oc := s.OnConflictClause; oc != nil {
		if inf := oc.Infer; inf != nil {
			w.exprs(inf.IndexElems)
			w.expr(inf.WhereClause)
		}
		w.exprs(oc.TargetList)
		w.expr(oc.WhereClause)
	}
	w.exprs(s.ReturningList)
	w.popCTEs(mark)
}

func (w *walker) update(s *pg.UpdateStmt) {
	w.raise(gate.KindWrite, "")
	mark := w.withClause(s.WithClause)
	w.table(s.Relation)
	w.exprs(s.TargetList)
	w.fromItems(s.FromClause)
	w.expr(s.WhereClause)
	w.exprs(s.ReturningList)
	w.popCTEs(mark)
	if !bounded(s.WhereClause, targetNames(s.Relation)) {
		w.noWhere()
	}
}

func (w *walker) delete(s *pg.DeleteStmt) {
	w.raise(gate.KindWrite, "")
	mark := w.withClause(s.WithClause)
	w.table(s.Relation)
	w.fromItems(s.UsingClause)
	w.expr(s.WhereClause)
	w.exprs(s.ReturningList)
	w.popCTEs(mark)
	if !bounded(s.WhereClause, targetNames(s.Relation)) {
		w.noWhere()
	}
}

// merge walks MERGE. For has_where its join condition plays the part of
// WHERE when it updates or deletes; WHEN NOT MATCHED BY SOURCE without a
// condition updates or deletes every target row the source lacks, so it
// counts as unbounded.
func (w *walker) merge(s *pg.MergeStmt) {
	w.raise(gate.KindWrite, "")
	mark := w.withClause(s.WithClause)
	w.table(s.Relation)
	w.fromItem(s.SourceRelation)
	w.expr(s.JoinCondition)
	changes, unbounded := false, false
	for _, n := range s.MergeWhenClauses {
		c := n.GetMergeWhenClause()
		if c == nil {
			w.unknownNode(n)
			continue
		}
		w.expr(c.Condition)
		w.exprs(c.TargetList)
		w.exprs(c.Values)
		if c.CommandType == pg.CmdType_CMD_UPDATE || c.CommandType == pg.CmdType_CMD_DELETE {
			changes = true
			if c.MatchKind == pg.MergeMatchKind_MERGE_WHEN_NOT_MATCHED_BY_SOURCE && c.Condition == nil {
				unbounded = true
			}
		}
	}
	w.exprs(s.ReturningList)
	w.popCTEs(mark)
	if changes && (unbounded || !bounded(s.JoinCondition, targetNames(s.Relation))) {
		w.noWhere()
	}
}

// explain walks EXPLAIN. Without ANALYZE the statement is only planned:
// read, except for what the planner itself may run (see walker.planOnly).
// With ANALYZE it runs, and EXPLAIN takes its kind.
func (w *walker) explain(s *pg.ExplainStmt) {
	analyze := false
	for _, o := range s.Options {
		if d := o.GetDefElem(); d != nil && strings.EqualFold(d.Defname, "analyze") && defTrue(d.Arg) {
			analyze = true
		}
	}
	w.raise(gate.KindRead, "")
	if analyze {
		w.note("EXPLAIN ANALYZE runs the statement")
		w.stmt(s.Query)
		return
	}
	w.planOnly++
	w.stmt(s.Query)
	w.planOnly--
}

// defTrue reads a boolean option the way the server's parse_bool does; an
// absent value means true, and anything unreadable is taken as true so that
// EXPLAIN (ANALYZE <odd>) counts as running the statement.
func defTrue(arg *pg.Node) bool {
	switch x := arg.GetNode().(type) {
	case nil:
		return true
	case *pg.Node_Boolean:
		return x.Boolean.Boolval
	case *pg.Node_Integer:
		return x.Integer.Ival != 0
	case *pg.Node_String_:
		v := strings.ToLower(x.String_.Sval)
		falsy := v == "0" || v == "of" || v == "off" ||
			v != "" && (strings.HasPrefix("false", v) || strings.HasPrefix("no", v))
		return !falsy
	}
	return true
}

// copy walks COPY. PROGRAM and server files are admin; FROM STDIN writes
// the table; TO STDOUT reads it, or has the kind of its query.
func (w *walker) copy(s *pg.CopyStmt) {
	switch {
	case s.IsProgram:
		w.raise(gate.KindAdmin, "COPY PROGRAM runs a command on the database server")
	case s.Filename != "":
		w.raise(gate.KindAdmin, "COPY reads or writes a file on the database server")
	case s.IsFrom:
		w.raise(gate.KindWrite, "")
	default:
		w.raise(gate.KindRead, "")
	}
	w.table(s.Relation)
	if s.Query != nil {
		w.stmt(s.Query)
	}
	w.expr(s.WhereClause)
}

// execute resolves EXECUTE name through the caller's Resolver. Results
// that involved EXECUTE are never cached.
func (w *walker) execute(s *pg.ExecuteStmt) {
	w.cacheable = false
	w.exprs(s.Params)
	if w.prepared != nil {
		if cl, ok := w.prepared(s.Name); ok && cl != nil {
			w.mergeResolved(cl)
			return
		}
	}
	w.unknown("executes prepared statement " + s.Name + ", which the gateway has not seen prepared")
}

// mergeResolved folds the class of a resolved prepared statement into the walk.
func (w *walker) mergeResolved(cl *gate.Class) {
	w.tables = append(w.tables, cl.Tables...)
	w.funcs = append(w.funcs, cl.Functions...)
	if w.planOnly > 0 {
		if cl.Kind == gate.KindAdmin {
			w.unknown("plans a prepared statement that is admin")
		}
		return
	}
	w.raise(gate.Max(gate.KindRead, cl.Kind), "")
	for _, n := range cl.Notes {
		w.note(n)
	}
	if !cl.HasWhere {
		w.noWhere()
	}
}

// createTableAs walks CREATE TABLE AS, CREATE MATERIALIZED VIEW and the
// SELECT INTO form: ddl, and the query runs (unless WITH NO DATA, which is
// not worth the distinction).
func (w *walker) createTableAs(s *pg.CreateTableAsStmt) string {
	w.raise(gate.KindDDL, "")
	if s.Into != nil {
		w.table(s.Into.Rel)
	}
	w.stmt(s.Query)
	switch {
	case s.Objtype == pg.ObjectType_OBJECT_MATVIEW:
		return "CREATE MATERIALIZED VIEW"
	case s.IsSelectInto:
		return "SELECT INTO"
	}
	return "CREATE TABLE AS"
}
