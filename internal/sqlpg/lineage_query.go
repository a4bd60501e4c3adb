package sqlpg

import (
	"strconv"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// query is the lineage of one analyzed query: its output columns and the
// taint of its references to enclosing queries (correlation).
type query struct {
	cols []col
	corr taint
	// opaque, when not empty, says why the columns cannot be listed
	// (a * over a FROM item of unknown shape).
	opaque string
}

// selectStmt analyzes a SELECT, VALUES, TABLE or set operation whose
// enclosing query level is parent (nil at top level).
func (a *analyzer) selectStmt(s *pg.SelectStmt, parent *level) query {
	if s == nil {
		return query{}
	}
	if !a.enter() {
		a.leave()
		return query{cols: []col{{name: "?column?", v: val{taint: a.unresolved("nests too deeply to analyze")}}}}
	}
	defer a.leave()
	mark := len(a.ctes)
	defer func() { a.ctes = a.ctes[:mark] }()
	a.withClause(s.WithClause, parent)

	var q query
	switch {
	case s.Op != pg.SetOperation_SETOP_NONE && s.Op != pg.SetOperation_SET_OPERATION_UNDEFINED:
		l := a.selectStmt(s.Larg, parent)
		r := a.selectStmt(s.Rarg, parent)
		q = query{cols: unionCols(l.cols, r.cols), corr: union(l.corr, r.corr), opaque: l.opaque + r.opaque}
		// ORDER BY and LIMIT of a set operation see its output columns.
		lvl := &level{parent: parent, items: []*nsItem{{cols: q.cols, colsVisible: true}}}
		a.sortClause(s.SortClause, lvl, q.cols)
		a.pred(a.expr(s.LimitOffset, lvl).taint)
		a.pred(a.expr(s.LimitCount, lvl).taint)
		q.corr = union(q.corr, lvl.corr)
	case len(s.ValuesLists) > 0:
		lvl := &level{parent: parent}
		for _, row := range s.ValuesLists {
			var cols []col
			for i, e := range row.GetList().GetItems() {
				cols = append(cols, col{name: "column" + strconv.Itoa(i+1), v: a.expr(e, lvl)})
			}
			if q.cols == nil {
				q.cols = cols
			} else {
				q.cols = unionCols(q.cols, cols)
			}
		}
		olvl := &level{parent: parent, items: []*nsItem{{cols: q.cols, colsVisible: true}}}
		a.sortClause(s.SortClause, olvl, q.cols)
		a.pred(a.expr(s.LimitOffset, olvl).taint)
		a.pred(a.expr(s.LimitCount, olvl).taint)
		q.corr = union(lvl.corr, olvl.corr)
	default:
		q = a.simpleSelect(s, parent)
	}
	return q
}

// simpleSelect analyzes SELECT ... FROM ... (no set operation).
func (a *analyzer) simpleSelect(s *pg.SelectStmt, parent *level) query {
	lvl := &level{parent: parent}
	a.fromItems(s.FromClause, lvl)
	a.pred(a.expr(s.WhereClause, lvl).taint)
	a.windowClause(s.WindowClause, lvl)

	var q query
	for _, n := range s.TargetList {
		rt := n.GetResTarget()
		if rt == nil {
			q.cols = append(q.cols, col{name: "?column?", v: val{taint: a.unresolved("contains a select-list item the analysis does not understand")}})
			continue
		}
		if cols, opaque, ok := a.starTarget(rt.Val, lvl); ok {
			q.cols = append(q.cols, cols...)
			if opaque != "" && q.opaque == "" {
				q.opaque = opaque
			}
			continue
		}
		v := a.expr(rt.Val, lvl)
		name := rt.Name
		if name == "" {
			name = figureColname(rt.Val)
		}
		q.cols = append(q.cols, col{name: name, v: v})
	}

	// GROUP BY, HAVING, DISTINCT, ORDER BY, LIMIT decide which rows come
	// back and in which order: predicates. Names and ordinals may refer
	// to output columns.
	for _, g := range s.GroupClause {
		a.pred(a.clauseExpr(g, lvl, q.cols))
	}
	a.pred(a.expr(s.HavingClause, lvl).taint)
	if len(s.DistinctClause) > 0 {
		if len(s.DistinctClause) == 1 && s.DistinctClause[0].GetNode() == nil {
			// Plain DISTINCT compares whole output rows.
			for _, c := range q.cols {
				a.pred(c.v.taint)
			}
		} else {
			for _, d := range s.DistinctClause {
				a.pred(a.clauseExpr(d, lvl, q.cols))
			}
		}
	}
	a.sortClause(s.SortClause, lvl, q.cols)
	a.pred(a.expr(s.LimitOffset, lvl).taint)
	a.pred(a.expr(s.LimitCount, lvl).taint)
	q.corr = lvl.corr
	return q
}

// starTarget expands a select-list * (all columns), rel.* or (expr).*;
// ok is false for any other item.
func (a *analyzer) starTarget(n *pg.Node, lvl *level) (cols []col, opaque string, ok bool) {
	switch x := n.GetNode().(type) {
	case *pg.Node_ColumnRef:
		f := x.ColumnRef.Fields
		if len(f) == 0 || f[len(f)-1].GetAStar() == nil {
			return nil, "", false
		}
		if len(f) == 1 {
			for _, it := range lvl.items {
				if !it.colsVisible {
					continue
				}
				if it.unknown != "" {
					opaque = "* covers " + it.unknown
					continue
				}
				cols = append(cols, it.cols...)
			}
			return cols, opaque, true
		}
		var q []string
		for _, p := range f[:len(f)-1] {
			q = append(q, p.GetString_().GetSval())
		}
		it, at := a.lookupItem(lvl, q)
		switch {
		case it == nil:
			// A composite column: col.*.
			v := a.columnRef(&pg.ColumnRef{Fields: f[:len(f)-1]}, lvl)
			return a.expandComposite(v, joinNames(q))
		case it.unknown != "":
			return nil, joinNames(q) + ".* covers " + it.unknown, true
		}
		for _, c := range it.cols {
			correlate(lvl, at, c.v.taint)
		}
		return it.cols, "", true
	case *pg.Node_AIndirection:
		ind := x.AIndirection.Indirection
		if len(ind) == 0 || ind[len(ind)-1].GetAStar() == nil {
			return nil, "", false
		}
		v := a.expr(&pg.Node{Node: &pg.Node_AIndirection{AIndirection: &pg.A_Indirection{Arg: x.AIndirection.Arg, Indirection: ind[:len(ind)-1]}}}, lvl)
		if len(ind) == 1 {
			v = a.expr(x.AIndirection.Arg, lvl)
		}
		return a.expandComposite(v, "(...).*")
	}
	return nil, "", false
}

// expandComposite lists the fields of a composite value for (x).*.
func (a *analyzer) expandComposite(v val, what string) ([]col, string, bool) {
	if v.fields != nil {
		return withTaint(v.fields, taint{why: v.why}), "", true
	}
	return nil, what + ".* expands a composite of unknown shape", true
}

// sortClause records ORDER BY (and DISTINCT ON-like) items as predicates.
func (a *analyzer) sortClause(items []*pg.Node, lvl *level, out []col) {
	for _, n := range items {
		a.pred(a.clauseExpr(n, lvl, out))
	}
}

// clauseExpr is the taint of a GROUP BY, ORDER BY or DISTINCT ON item: an
// ordinal names an output column; a plain name may name an output column
// or an input column (the server prefers one or the other by clause; both
// are counted).
func (a *analyzer) clauseExpr(n *pg.Node, lvl *level, out []col) taint {
	if sb := n.GetSortBy(); sb != nil {
		n = sb.Node
	}
	if c := n.GetAConst(); c != nil && c.GetIval() != nil {
		i := int(c.GetIval().Ival)
		if i >= 1 && i <= len(out) {
			return out[i-1].v.taint
		}
		return taint{}
	}
	if cr := n.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
		name := cr.Fields[0].GetString_().GetSval()
		var t taint
		found := false
		for _, c := range out {
			if c.name == name {
				t = union(t, c.v.taint)
				found = true
			}
		}
		if v, ok := a.unqualifiedOK(name, lvl); ok {
			return union(t, v.taint)
		}
		if found {
			return t
		}
	}
	return a.expr(n, lvl).taint
}

// pred records a taint used as a predicate.
func (a *analyzer) pred(t taint) { a.preds.add(t) }

// write records a taint stored where masking will not see it.
func (a *analyzer) write(t taint) { a.writes.add(t) }

// windowClause analyzes WINDOW name AS (...): its PARTITION BY and ORDER
// BY are predicates, and taint the window functions over it.
func (a *analyzer) windowClause(defs []*pg.Node, lvl *level) {
	for _, n := range defs {
		wd := n.GetWindowDef()
		if wd == nil {
			continue
		}
		t := a.windowDef(wd, lvl)
		if lvl.windows == nil {
			lvl.windows = map[string]taint{}
		}
		lvl.windows[wd.Name] = t
	}
}

// windowDef is the taint of a window's partitioning, ordering and frame
// (which decide what a window function returns), recorded as predicates.
func (a *analyzer) windowDef(wd *pg.WindowDef, lvl *level) taint {
	var t taint
	if wd.Refname != "" {
		for l := lvl; l != nil; l = l.parent {
			if wt, ok := l.windows[wd.Refname]; ok {
				t = union(t, wt)
				break
			}
		}
	}
	for _, p := range wd.PartitionClause {
		t = union(t, a.expr(p, lvl).taint)
	}
	for _, o := range wd.OrderClause {
		t = union(t, a.expr(o, lvl).taint)
	}
	t = union(t, a.expr(wd.StartOffset, lvl).taint)
	t = union(t, a.expr(wd.EndOffset, lvl).taint)
	a.pred(t)
	return t
}

// withClause brings the CTEs of wc into scope (the caller pops them).
// A plain CTE sees the ones before it; a recursive clause's CTEs see all
// of the clause, and a recursive CTE's columns are computed to a fixed
// point (lineage only grows, so it converges).
func (a *analyzer) withClause(wc *pg.WithClause, parent *level) {
	if wc == nil {
		return
	}
	var defs []*cteDef
	if wc.Recursive {
		for _, n := range wc.Ctes {
			if cte := n.GetCommonTableExpr(); cte != nil {
				d := &cteDef{name: cte.Ctename, pending: true}
				defs = append(defs, d)
				a.ctes = append(a.ctes, d)
			}
		}
	}
	i := 0
	for _, n := range wc.Ctes {
		cte := n.GetCommonTableExpr()
		if cte == nil {
			continue
		}
		var d *cteDef
		if wc.Recursive {
			d = defs[i]
			i++
		} else {
			d = &cteDef{name: cte.Ctename}
		}
		d.cols = a.cteQuery(cte, d, parent)
		d.pending = false
		if !wc.Recursive {
			a.ctes = append(a.ctes, d)
		}
	}
}

// maxFixpoint bounds the iterations of a recursive CTE's lineage.
const maxFixpoint = 64

// cteQuery computes a CTE's columns (renamed by its column list, extended
// by SEARCH and CYCLE columns).
func (a *analyzer) cteQuery(cte *pg.CommonTableExpr, d *cteDef, parent *level) []col {
	rename := func(cols []col) []col {
		return renameCols(cols, &pg.Alias{Colnames: cte.Aliascolnames})
	}
	var cols []col
	if s := cte.Ctequery.GetSelectStmt(); d.pending && d.cols == nil && s != nil && s.Larg != nil {
		// Seed a recursive CTE with its non-recursive term.
		seed := a.selectStmt(s.Larg, parent)
		d.cols = withTaint(rename(seed.cols), seed.corr)
	}
	for iter := 0; ; iter++ {
		q := a.stmtQuery(cte.Ctequery, parent)
		cols = rename(q.cols)
		if q.opaque != "" {
			for i := range cols {
				cols[i].v = addTaint(cols[i].v, a.unresolved(q.opaque))
			}
		}
		cols = withTaint(cols, q.corr)
		if !d.pending || sameLineage(cols, d.cols) {
			break
		}
		if iter >= maxFixpoint {
			cols = withTaint(cols, a.unresolved("recursive CTE "+quoteIdent(cte.Ctename)+" too complex to analyze"))
			break
		}
		d.cols = cols
	}
	if sc := cte.SearchClause; sc != nil {
		cols = append(cols, col{name: sc.SearchSeqColumn, v: val{taint: colsTaint(cols, sc.SearchColList)}})
	}
	if cc := cte.CycleClause; cc != nil {
		t := colsTaint(cols, cc.CycleColList)
		cols = append(cols, col{name: cc.CycleMarkColumn, v: val{taint: t}}, col{name: cc.CyclePathColumn, v: val{taint: t}})
	}
	return cols
}

// colsTaint is the taint of the named columns.
func colsTaint(cols []col, names []*pg.Node) taint {
	var t taint
	for _, n := range names {
		name := n.GetString_().GetSval()
		for _, c := range cols {
			if c.name == name {
				t = union(t, c.v.taint)
			}
		}
	}
	return t
}

// sameLineage reports whether two column lists have the same names and
// the same protected sources and unresolved state.
func sameLineage(a, b []col) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].name != b[i].name || !sameTaint(a[i].v, b[i].v) {
			return false
		}
	}
	return true
}

func sameTaint(a, b val) bool {
	if (a.why == "") != (b.why == "") || len(a.src) != len(b.src) || len(a.fields) != len(b.fields) {
		return false
	}
	for i := range a.src {
		if a.src[i] != b.src[i] {
			return false
		}
	}
	for i := range a.fields {
		if !sameTaint(a.fields[i].v, b.fields[i].v) {
			return false
		}
	}
	return true
}
