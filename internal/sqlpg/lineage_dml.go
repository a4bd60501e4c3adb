package sqlpg

import (
	pg "github.com/pganalyze/pg_query_go/v6"
)

// The DML statements: their WHERE (and ON CONFLICT target, MERGE join
// condition) are predicates; the values they store are writes; RETURNING
// sees the target's columns with the lineage of what was stored in them
// added to what was there.

// assigned accumulates the taint of values stored per target column.
type assigned map[string]taint

func (m assigned) add(name string, t taint) { m[name] = union(m[name], t) }

// store records that t is stored into column name of target it: a write,
// unless the column is itself masked (protected, or of unknown lineage),
// so that reading it back is masked anyway.
func (a *analyzer) store(it *nsItem, as assigned, name string, t taint) {
	as.add(name, t)
	if it.unknown == "" {
		for _, c := range it.cols {
			if c.name == name && !c.v.clean() {
				return
			}
		}
	}
	a.write(t)
}

// target resolves a DML target relation and returns its item and a
// function that builds the item RETURNING sees.
func (a *analyzer) target(rv *pg.RangeVar) *nsItem {
	if rv == nil {
		return &nsItem{unknown: "a statement without a target", colsVisible: true}
	}
	return a.rangeVar(rv)
}

// afterWrite is it with each column's lineage extended by what was stored.
func afterWrite(it *nsItem, as assigned) *nsItem {
	out := *it
	out.cols = make([]col, len(it.cols))
	for i, c := range it.cols {
		out.cols[i] = col{name: c.name, v: addTaint(c.v, as[c.name])}
	}
	return &out
}

// returning analyzes a RETURNING list at lvl.
func (a *analyzer) returning(list []*pg.Node, lvl *level) query {
	if len(list) == 0 {
		return query{}
	}
	var q query
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil {
			continue
		}
		if cols, opaque, ok := a.starTarget(rt.Val, lvl); ok {
			q.cols = append(q.cols, cols...)
			if opaque != "" {
				q.opaque = opaque
			}
			continue
		}
		name := rt.Name
		if name == "" {
			name = figureColname(rt.Val)
		}
		q.cols = append(q.cols, col{name: name, v: a.expr(rt.Val, lvl)})
	}
	if q.cols == nil {
		q.cols = []col{}
	}
	return q
}

func (a *analyzer) insert(s *pg.InsertStmt, parent *level) query {
	mark := len(a.ctes)
	defer func() { a.ctes = a.ctes[:mark] }()
	a.withClause(s.WithClause, parent)
	it := a.target(s.Relation)
	as := assigned{}
	var names []string
	for _, c := range s.Cols {
		names = append(names, c.GetResTarget().GetName())
	}
	if names == nil {
		for _, c := range it.cols {
			names = append(names, c.name)
		}
	}
	if s.SelectStmt != nil {
		src := a.stmtQuery(s.SelectStmt, parent)
		for i, c := range src.cols {
			t := union(c.v.taint, src.corr)
			if i < len(names) {
				a.store(it, as, names[i], t)
			} else {
				a.write(t)
			}
		}
		if src.opaque != "" {
			a.write(a.unresolved(src.opaque))
		}
	}
	lvl := &level{parent: parent}
	if oc := s.OnConflictClause; oc != nil {
		excluded := afterWrite(it, as)
		excluded.alias, excluded.rel, excluded.colsVisible = "excluded", nil, false
		a.addItem(lvl, it)
		a.addItem(lvl, excluded)
		if inf := oc.Infer; inf != nil {
			for _, e := range inf.IndexElems {
				a.pred(a.expr(e.GetIndexElem().GetExpr(), lvl).taint)
				if name := e.GetIndexElem().GetName(); name != "" {
					a.pred(a.itemColumn(it, name).taint)
				}
			}
			a.pred(a.expr(inf.WhereClause, lvl).taint)
		}
		a.setList(oc.TargetList, lvl, it, as)
		a.pred(a.expr(oc.WhereClause, lvl).taint)
	}
	rlvl := &level{parent: parent, items: []*nsItem{afterWrite(it, as)}}
	return a.returning(s.ReturningList, rlvl)
}

// setList analyzes UPDATE's (or MERGE's) SET list.
func (a *analyzer) setList(list []*pg.Node, lvl *level, it *nsItem, as assigned) {
	for _, n := range list {
		a.store(it, as, n.GetResTarget().GetName(), a.expr(n, lvl).taint)
	}
}

// withTarget adds the target item to lvl and returns its index there.
func withTarget(lvl *level, it *nsItem) int {
	lvl.items = append(lvl.items, it)
	return len(lvl.items) - 1
}

func (a *analyzer) update(s *pg.UpdateStmt, parent *level) query {
	mark := len(a.ctes)
	defer func() { a.ctes = a.ctes[:mark] }()
	a.withClause(s.WithClause, parent)
	lvl := &level{parent: parent}
	i := withTarget(lvl, a.target(s.Relation))
	a.fromItems(s.FromClause, lvl)
	as := assigned{}
	a.setList(s.TargetList, lvl, lvl.items[i], as)
	a.pred(a.expr(s.WhereClause, lvl).taint)
	lvl.items[i] = afterWrite(lvl.items[i], as)
	q := a.returning(s.ReturningList, lvl)
	q.corr = union(q.corr, lvl.corr)
	return q
}

func (a *analyzer) deleteStmt(s *pg.DeleteStmt, parent *level) query {
	mark := len(a.ctes)
	defer func() { a.ctes = a.ctes[:mark] }()
	a.withClause(s.WithClause, parent)
	lvl := &level{parent: parent}
	withTarget(lvl, a.target(s.Relation))
	a.fromItems(s.UsingClause, lvl)
	a.pred(a.expr(s.WhereClause, lvl).taint)
	q := a.returning(s.ReturningList, lvl)
	q.corr = union(q.corr, lvl.corr)
	return q
}

func (a *analyzer) merge(s *pg.MergeStmt, parent *level) query {
	mark := len(a.ctes)
	defer func() { a.ctes = a.ctes[:mark] }()
	a.withClause(s.WithClause, parent)
	lvl := &level{parent: parent}
	i := withTarget(lvl, a.target(s.Relation))
	a.fromItem(s.SourceRelation, lvl)
	a.pred(a.expr(s.JoinCondition, lvl).taint)
	as := assigned{}
	it := lvl.items[i]
	for _, n := range s.MergeWhenClauses {
		c := n.GetMergeWhenClause()
		if c == nil {
			continue
		}
		a.pred(a.expr(c.Condition, lvl).taint)
		switch c.CommandType {
		case pg.CmdType_CMD_UPDATE:
			a.setList(c.TargetList, lvl, it, as)
		case pg.CmdType_CMD_INSERT:
			var names []string
			for _, t := range c.TargetList {
				names = append(names, t.GetResTarget().GetName())
			}
			if names == nil {
				for _, col := range it.cols {
					names = append(names, col.name)
				}
			}
			for j, v := range c.Values {
				t := a.expr(v, lvl).taint
				if j < len(names) {
					a.store(it, as, names[j], t)
				} else {
					a.write(t)
				}
			}
		}
	}
	lvl.items[i] = afterWrite(it, as)
	q := a.returning(s.ReturningList, lvl)
	q.corr = union(q.corr, lvl.corr)
	return q
}
