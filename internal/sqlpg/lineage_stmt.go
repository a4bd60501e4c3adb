package sqlpg

import (
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// tagger names statements the way Classify does.
var tagger = New(Config{CacheSize: -1})

// statementTag is the command tag Classify reports for n.
func statementTag(n *pg.Node) string { return tagger.newWalker(nil).stmt(n) }

// topStmt analyzes one statement of the text.
func (a *analyzer) topStmt(n *pg.Node) StatementLineage {
	sl := StatementLineage{Tag: statementTag(n)}
	saved, savedW := a.preds, a.writes
	a.preds, a.writes = idSet{}, idSet{}
	a.stmt(n, &sl)
	if sl.DeclaresCursor != "" || sl.Prepares != "" {
		sl.preds, sl.writes = a.preds.strings(a), a.writes.strings(a)
	}
	a.preds, a.writes = mergeSets(saved, a.preds), mergeSets(savedW, a.writes)
	return sl
}

func mergeSets(a, b idSet) idSet {
	return idSet{ids: mergeIDs(a.ids, b.ids), unresolved: a.unresolved || b.unresolved, extra: append(slices.Clip(a.extra), b.extra...)}
}

// stmt fills sl for statement n.
func (a *analyzer) stmt(n *pg.Node, sl *StatementLineage) {
	switch x := n.GetNode().(type) {
	case *pg.Node_SelectStmt:
		q := a.selectStmt(x.SelectStmt, nil)
		if x.SelectStmt.IntoClause != nil {
			a.writeQuery(q)
			return
		}
		a.setColumns(sl, q)
	case *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt:
		q := a.stmtQuery(n, nil)
		if q.cols != nil || q.opaque != "" {
			a.setColumns(sl, q)
		}
	case *pg.Node_CopyStmt:
		a.copyStmt(x.CopyStmt, sl)
	case *pg.Node_DeclareCursorStmt:
		inner := StatementLineage{}
		a.stmt(x.DeclareCursorStmt.Query, &inner)
		sl.Columns, sl.Opaque = inner.Columns, inner.Opaque
		sl.DeclaresCursor = x.DeclareCursorStmt.Portalname
		if a.cursors == nil {
			a.cursors = map[string]*StatementLineage{}
		}
		a.cursors[sl.DeclaresCursor] = sl
	case *pg.Node_FetchStmt:
		if x.FetchStmt.Ismove {
			return
		}
		a.resolved(sl, x.FetchStmt.Portalname, a.cursors, taint{}, "fetches from cursor "+quoteIdent(x.FetchStmt.Portalname)+", which the gateway has not seen declared")
	case *pg.Node_PrepareStmt:
		inner := StatementLineage{}
		a.stmt(x.PrepareStmt.Query, &inner)
		sl.Columns, sl.Opaque = inner.Columns, inner.Opaque
		sl.Prepares = x.PrepareStmt.Name
		if a.prepared == nil {
			a.prepared = map[string]*StatementLineage{}
		}
		a.prepared[sl.Prepares] = sl
	case *pg.Node_ExecuteStmt:
		var p taint
		for _, e := range x.ExecuteStmt.Params {
			p = union(p, a.expr(e, nil).taint)
		}
		a.resolved(sl, x.ExecuteStmt.Name, a.prepared, p, "executes prepared statement "+quoteIdent(x.ExecuteStmt.Name)+", which the gateway has not seen prepared")
	case *pg.Node_ExplainStmt:
		a.explain(x.ExplainStmt)
		sl.Columns = []OutputColumn{{Name: "QUERY PLAN"}}
	case *pg.Node_CreateTableAsStmt:
		inner := StatementLineage{}
		a.stmt(x.CreateTableAsStmt.Query, &inner)
		if x.CreateTableAsStmt.Objtype != pg.ObjectType_OBJECT_MATVIEW {
			a.writeColumns(inner)
		}
	case *pg.Node_VariableShowStmt:
		if strings.EqualFold(x.VariableShowStmt.Name, "all") {
			sl.Columns = []OutputColumn{{Name: "name"}, {Name: "setting"}, {Name: "description"}}
		} else {
			sl.Columns = []OutputColumn{{Name: x.VariableShowStmt.Name}}
		}
	case *pg.Node_VariableSetStmt:
		a.setStmt(x.VariableSetStmt)
	case *pg.Node_DiscardStmt:
		if x.DiscardStmt.Target == pg.DiscardMode_DISCARD_ALL {
			a.path, a.pathKnown = a.catalogPath(), true
		}
	case *pg.Node_CallStmt:
		if fc := x.CallStmt.Funccall; fc != nil {
			a.write(a.funcCall(fc, nil).taint)
		}
		_, name := qualifiedName(x.CallStmt.GetFunccall().GetFuncname())
		sl.Opaque = "CALL returns the output parameters of procedure " + quoteIdent(name) + ", which lineage cannot trace"
	}
}

// setColumns renders q as sl's columns.
func (a *analyzer) setColumns(sl *StatementLineage, q query) {
	if q.opaque != "" {
		sl.Opaque = q.opaque
		return
	}
	sl.Columns = a.outputColumns(withTaint(q.cols, q.corr))
}

// resolved fills sl from a statement or cursor declared earlier in the
// text (in) or by the resolver; p is the taint of EXECUTE's parameters.
func (a *analyzer) resolved(sl *StatementLineage, name string, in map[string]*StatementLineage, p taint, opaque string) {
	src, ok := in[name]
	if !ok && a.resolver != nil {
		a.usedResolver = true
		src, ok = a.resolver(name)
	}
	if !ok || src == nil {
		sl.Opaque = opaque
		return
	}
	sl.Opaque = src.Opaque
	a.preds.extra = append(a.preds.extra, src.preds...)
	a.writes.extra = append(a.writes.extra, src.writes...)
	if src.Columns == nil {
		return
	}
	sl.Columns = slices.Clone(src.Columns)
	if p.clean() || a.prot == nil {
		return
	}
	// EXECUTE's parameters may flow into any column.
	for i := range sl.Columns {
		c := &sl.Columns[i]
		for _, id := range p.src {
			if ref := a.prot.cols[id]; !slices.Contains(c.Sources, ref) {
				c.Sources = append(c.Sources, ref)
			}
		}
		slices.SortFunc(c.Sources, func(x, y ColumnRef) int { return strings.Compare(x.String(), y.String()) })
		if p.why != "" && !c.Unresolved {
			c.Unresolved, c.Why = true, p.why
		}
	}
}

// writeQuery records every column of q as written.
func (a *analyzer) writeQuery(q query) {
	a.write(q.corr)
	for _, c := range q.cols {
		a.write(c.v.taint)
	}
	if q.opaque != "" {
		a.write(a.unresolved(q.opaque))
	}
}

// writeColumns records rendered columns as written.
func (a *analyzer) writeColumns(sl StatementLineage) {
	if a.prot == nil {
		return
	}
	for _, c := range sl.Columns {
		for _, s := range c.Sources {
			if id, ok := a.prot.byAtt[attKey{s.TableOID, s.AttNum}]; ok {
				a.writes.ids = mergeIDs(a.writes.ids, []int32{id})
			}
		}
		if c.Unresolved {
			a.writes.unresolved = true
		}
	}
	if sl.Opaque != "" {
		a.writes.unresolved = true
	}
}

// explain analyzes the statement under EXPLAIN for its predicates (the
// planner's estimates, and with ANALYZE the actual row counts, answer
// them); its writes count only when ANALYZE runs it.
func (a *analyzer) explain(s *pg.ExplainStmt) {
	analyze := false
	for _, o := range s.Options {
		if d := o.GetDefElem(); d != nil && strings.EqualFold(d.Defname, "analyze") && defTrue(d.Arg) {
			analyze = true
		}
	}
	cursors, prepared, writes := a.cursors, a.prepared, a.writes
	a.cursors, a.prepared = maps(cursors), maps(prepared)
	var inner StatementLineage
	a.stmt(s.Query, &inner)
	a.cursors, a.prepared = cursors, prepared
	if !analyze {
		a.writes = writes
	}
}

func maps(m map[string]*StatementLineage) map[string]*StatementLineage {
	out := make(map[string]*StatementLineage, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// copyStmt analyzes COPY: TO STDOUT returns the copied columns; TO a file
// or program writes them.
func (a *analyzer) copyStmt(s *pg.CopyStmt, sl *StatementLineage) {
	if s.IsFrom {
		return
	}
	var q query
	if s.Query != nil {
		q = a.stmtQuery(s.Query, nil)
	} else if s.Relation != nil {
		lvl := &level{}
		it := a.addItem(lvl, a.rangeVar(s.Relation))
		if it.unknown != "" {
			q.opaque = it.unknown
		} else if len(s.Attlist) == 0 {
			q.cols = it.cols
		} else {
			for _, n := range s.Attlist {
				name := n.GetString_().GetSval()
				q.cols = append(q.cols, col{name: name, v: a.itemColumn(it, name)})
			}
		}
	}
	if s.Filename != "" || s.IsProgram {
		a.writeQuery(q)
		return
	}
	sl.Copy = true
	a.setColumns(sl, q)
}

// setStmt follows SET search_path within the text.
func (a *analyzer) setStmt(s *pg.VariableSetStmt) {
	if s.Kind == pg.VariableSetKind_VAR_RESET_ALL {
		a.path, a.pathKnown = a.catalogPath(), true
		return
	}
	if !strings.EqualFold(s.Name, "search_path") {
		return
	}
	switch s.Kind {
	case pg.VariableSetKind_VAR_SET_DEFAULT, pg.VariableSetKind_VAR_RESET:
		a.path, a.pathKnown = a.catalogPath(), true
	case pg.VariableSetKind_VAR_SET_VALUE:
		var path []string
		for _, arg := range s.Args {
			v, ok := constString(arg)
			if !ok {
				a.path, a.pathKnown = nil, false
				return
			}
			for _, part := range strings.Split(v, ",") {
				part = strings.TrimSpace(part)
				switch {
				case part == "$user" || part == `"$user"`:
					if a.cat != nil {
						path = append(path, a.cat.user)
					}
				case strings.HasPrefix(part, `"`) && strings.HasSuffix(part, `"`) && len(part) >= 2:
					path = append(path, strings.ReplaceAll(part[1:len(part)-1], `""`, `"`))
				case part != "":
					path = append(path, part)
				}
			}
		}
		if !slices.Contains(path, "pg_catalog") {
			path = append([]string{"pg_catalog"}, path...)
		}
		a.path, a.pathKnown = path, true
	case pg.VariableSetKind_VAR_SET_CURRENT:
	default:
		a.path, a.pathKnown = nil, false
	}
}

func (a *analyzer) catalogPath() []string {
	if a.cat == nil {
		return nil
	}
	return a.cat.searchPath
}

// stmtQuery analyzes a statement that yields rows inside another (a CTE,
// a subquery, COPY's query): SELECT, or DML with RETURNING.
func (a *analyzer) stmtQuery(n *pg.Node, parent *level) query {
	switch x := n.GetNode().(type) {
	case *pg.Node_SelectStmt:
		return a.selectStmt(x.SelectStmt, parent)
	case *pg.Node_InsertStmt:
		return a.insert(x.InsertStmt, parent)
	case *pg.Node_UpdateStmt:
		return a.update(x.UpdateStmt, parent)
	case *pg.Node_DeleteStmt:
		return a.deleteStmt(x.DeleteStmt, parent)
	case *pg.Node_MergeStmt:
		return a.merge(x.MergeStmt, parent)
	}
	return query{opaque: "a statement the analysis does not understand"}
}
