package sqlpg

import (
	"slices"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// fromItems analyzes a FROM list into lvl, item by item, so that LATERAL
// items and functions see the items before them.
func (a *analyzer) fromItems(items []*pg.Node, lvl *level) {
	for _, n := range items {
		a.fromItem(n, lvl)
	}
}

// fromItem analyzes one FROM item, adds what name resolution sees of it to
// lvl, and returns the item that stands for all its columns (for a join,
// the join's own item).
func (a *analyzer) fromItem(n *pg.Node, lvl *level) *nsItem {
	if !a.enter() {
		a.leave()
		return a.addItem(lvl, &nsItem{unknown: "a FROM item nested too deeply to analyze", colsVisible: true})
	}
	defer a.leave()
	switch x := n.GetNode().(type) {
	case *pg.Node_RangeVar:
		return a.addItem(lvl, a.rangeVar(x.RangeVar))
	case *pg.Node_RangeSubselect:
		rs := x.RangeSubselect
		parent := lvl.parent
		if rs.Lateral {
			parent = lvl
		}
		q := a.stmtQuery(rs.Subquery, parent)
		it := &nsItem{cols: renameCols(q.cols, rs.Alias), relVisible: true, colsVisible: true}
		if rs.Alias != nil {
			it.alias = rs.Alias.Aliasname
		}
		if q.opaque != "" {
			it.unknown = "a subquery whose columns cannot be listed (" + q.opaque + ")"
		}
		return a.addItem(lvl, it)
	case *pg.Node_RangeFunction:
		return a.addItem(lvl, a.rangeFunction(x.RangeFunction, lvl))
	case *pg.Node_JoinExpr:
		return a.join(x.JoinExpr, lvl)
	case *pg.Node_RangeTableSample:
		s := x.RangeTableSample
		it := a.fromItem(s.Relation, lvl)
		for _, arg := range s.Args {
			a.pred(a.expr(arg, lvl).taint)
		}
		a.pred(a.expr(s.Repeatable, lvl).taint)
		return it
	case *pg.Node_RangeTableFunc: // XMLTABLE
		f := x.RangeTableFunc
		t := union(a.expr(f.Docexpr, lvl).taint, a.expr(f.Rowexpr, lvl).taint)
		var cols []col
		for _, c := range f.Columns {
			fc := c.GetRangeTableFuncCol()
			if fc == nil {
				continue
			}
			ct := union(a.expr(fc.Colexpr, lvl).taint, a.expr(fc.Coldefexpr, lvl).taint)
			cols = append(cols, col{name: fc.Colname, v: val{taint: ct}})
		}
		it := &nsItem{cols: renameCols(withTaint(cols, t), f.Alias), relVisible: true, colsVisible: true}
		if f.Alias != nil {
			it.alias = f.Alias.Aliasname
		}
		return a.addItem(lvl, it)
	case *pg.Node_JsonTable:
		t := a.jsonTableInput(x.JsonTable, lvl)
		var cols []col
		jsonTableCols(x.JsonTable.Columns, &cols)
		it := &nsItem{cols: renameCols(withTaint(cols, t), x.JsonTable.Alias), relVisible: true, colsVisible: true}
		if x.JsonTable.Alias != nil {
			it.alias = x.JsonTable.Alias.Aliasname
		}
		return a.addItem(lvl, it)
	}
	return a.addItem(lvl, &nsItem{unknown: "a FROM item the analysis does not understand", colsVisible: true})
}

func (a *analyzer) addItem(lvl *level, it *nsItem) *nsItem {
	lvl.items = append(lvl.items, it)
	return it
}

// rangeVar resolves a relation name: a CTE in scope, else the catalog.
func (a *analyzer) rangeVar(rv *pg.RangeVar) *nsItem {
	it := &nsItem{alias: rv.Relname, relVisible: true, colsVisible: true}
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		it.alias = rv.Alias.Aliasname
	}
	if rv.Schemaname == "" && rv.Catalogname == "" {
		if d := a.lookupCTE(rv.Relname); d != nil {
			if d.pending && d.cols == nil {
				it.unknown = "recursive CTE " + quoteIdent(d.name)
				return it
			}
			it.cols = renameCols(d.cols, rv.Alias)
			return it
		}
	}
	rel := a.relation(rv.Schemaname, rv.Relname)
	if rel == nil {
		it.unknown = "unknown relation " + joinName(quoteIdentOpt(rv.Schemaname), quoteIdent(rv.Relname))
		if !a.pathKnown && rv.Schemaname == "" {
			it.unknown = "relation " + quoteIdent(rv.Relname) + " after a search_path change the analysis cannot follow"
		}
		return it
	}
	it.rel, it.schema = rel, rel.Schema
	it.cols = renameCols(a.relCols(rel), rv.Alias)
	return it
}

func quoteIdentOpt(s string) string {
	if s == "" {
		return ""
	}
	return quoteIdent(s)
}

// relation resolves a relation name through the catalog.
func (a *analyzer) relation(schema, name string) *Relation {
	if schema == "" && !a.pathKnown {
		return nil
	}
	if schema == "pg_temp" || hasPrefix(schema, "pg_temp_") {
		return nil
	}
	return a.cat.lookupRel(schema, name, a.path)
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// relCols is the lineage of a relation's columns: protected columns are
// their own sources; a view's columns are what its definition computes.
func (a *analyzer) relCols(rel *Relation) []col {
	if a.prot == nil {
		cols := make([]col, len(rel.Columns))
		for i, c := range rel.Columns {
			cols[i] = col{name: c.Name}
		}
		return cols
	}
	return a.prot.relCols(rel, a)
}

// join analyzes a JOIN: its inputs, its ON or USING condition (a
// predicate), and the columns it exposes: USING and NATURAL columns
// merged first (their lineage is both sides'), then the others.
func (a *analyzer) join(j *pg.JoinExpr, lvl *level) *nsItem {
	start := len(lvl.items)
	l := a.fromItem(j.Larg, lvl)
	r := a.fromItem(j.Rarg, lvl)
	a.pred(a.expr(j.Quals, lvl).taint)

	var using []string
	for _, u := range j.UsingClause {
		using = append(using, u.GetString_().GetSval())
	}
	if j.IsNatural && l.unknown == "" && r.unknown == "" {
		for _, lc := range l.cols {
			if slices.ContainsFunc(r.cols, func(rc col) bool { return rc.name == lc.name }) {
				using = append(using, lc.name)
			}
		}
	}
	it := &nsItem{colsVisible: true}
	switch {
	case l.unknown != "":
		it.unknown = l.unknown
	case r.unknown != "":
		it.unknown = r.unknown
	}
	var merged []col
	for _, name := range using {
		var v val
		for _, side := range []*nsItem{l, r} {
			if side.unknown != "" {
				v = unionVal(v, val{taint: a.unresolved(side.unknown)})
			}
			for _, c := range side.cols {
				if c.name == name {
					v = unionVal(v, c.v)
				}
			}
		}
		a.pred(v.taint)
		merged = append(merged, col{name: name, v: v})
	}
	it.cols = append(it.cols, merged...)
	for _, side := range []*nsItem{l, r} {
		for _, c := range side.cols {
			if !slices.Contains(using, c.name) {
				it.cols = append(it.cols, c)
			}
		}
	}
	// The inputs' columns are now reached through the join (unqualified)
	// or through the inputs' names (qualified), unless the join has an
	// alias, which hides the inputs.
	for _, in := range lvl.items[start:] {
		in.colsVisible = false
		if j.Alias != nil {
			in.relVisible = false
		}
	}
	if j.Alias != nil {
		it.alias, it.relVisible = j.Alias.Aliasname, true
		it.cols = renameCols(it.cols, j.Alias)
	}
	if ua := j.JoinUsingAlias; ua != nil {
		a.addItem(lvl, &nsItem{alias: ua.Aliasname, cols: merged, relVisible: true})
	}
	return a.addItem(lvl, it)
}

// rangeFunction analyzes a function (or ROWS FROM) in FROM: every column
// derives from every argument.
func (a *analyzer) rangeFunction(rf *pg.RangeFunction, lvl *level) *nsItem {
	it := &nsItem{relVisible: true, colsVisible: true}
	var t taint
	single := len(rf.Functions) == 1 && !rf.IsRowsfrom
	for _, f := range rf.Functions {
		items := f.GetList().GetItems()
		if len(items) == 0 {
			it.unknown = "a function in FROM the analysis does not understand"
			continue
		}
		v := a.expr(items[0], lvl)
		t = union(t, v.taint)
		var coldefs []*pg.Node
		if len(items) > 1 {
			coldefs = items[1].GetList().GetItems()
		}
		if len(coldefs) == 0 && single {
			coldefs = rf.Coldeflist
		}
		names, unknown := a.functionColumns(items[0], coldefs)
		if unknown != "" {
			it.unknown = unknown
		}
		for _, n := range names {
			it.cols = append(it.cols, col{name: n})
		}
	}
	if rf.Ordinality {
		it.cols = append(it.cols, col{name: "ordinality"})
	}
	it.cols = withTaint(it.cols, t)
	if it.unknown != "" {
		it.unknown = "function results of unknown shape: " + it.unknown
	}
	if rf.Alias != nil {
		it.alias = rf.Alias.Aliasname
		// A function returning a scalar names its one column after the
		// alias, unless a column alias is given.
		if single && len(it.cols) >= 1 && len(rf.Alias.Colnames) == 0 && a.scalarFunction(rf) {
			it.cols[0].name = rf.Alias.Aliasname
		}
		it.cols = renameCols(it.cols, rf.Alias)
	} else if len(rf.Functions) > 0 {
		if fc := rf.Functions[0].GetList().GetItems(); len(fc) > 0 {
			if call := fc[0].GetFuncCall(); call != nil {
				_, it.alias = qualifiedName(call.Funcname)
			}
		}
	}
	if it.unknown != "" && !t.clean() {
		it.cols = withTaint(it.cols, t)
	}
	return it
}

// scalarFunction reports whether rf's one function returns a scalar.
func (a *analyzer) scalarFunction(rf *pg.RangeFunction) bool {
	items := rf.Functions[0].GetList().GetItems()
	if len(items) == 0 || len(rf.Coldeflist) > 0 || len(items) > 1 && len(items[1].GetList().GetItems()) > 0 {
		return false
	}
	call := items[0].GetFuncCall()
	if call == nil {
		return true // a SQL value function or other expression
	}
	schema, name := qualifiedName(call.Funcname)
	if name == "unnest" && len(call.Args) > 1 {
		return false
	}
	fs := matchArity(a.cat.lookupFuncs(schema, name, a.path), len(call.Args))
	if len(fs) == 0 {
		return true
	}
	for _, f := range fs {
		if f.outCols == nil && !f.record {
			return true
		}
	}
	return false
}

// functionColumns names the columns a function in FROM produces: its
// column definition list, its OUT parameters or composite result, one
// column otherwise. unknown says why they cannot be named.
func (a *analyzer) functionColumns(call *pg.Node, coldefs []*pg.Node) (names []string, unknown string) {
	if len(coldefs) > 0 {
		for _, c := range coldefs {
			names = append(names, c.GetColumnDef().GetColname())
		}
		return names, ""
	}
	fc := call.GetFuncCall()
	if fc == nil {
		return []string{figureColname(call)}, ""
	}
	schema, name := qualifiedName(fc.Funcname)
	if name == "unnest" && isCatalogSchema(schema) && len(fc.Args) > 1 {
		for range fc.Args {
			names = append(names, "unnest")
		}
		return names, ""
	}
	fs := matchArity(a.cat.lookupFuncs(schema, name, a.path), len(fc.Args))
	if len(fs) == 0 {
		if a.cat == nil {
			return []string{name}, ""
		}
		return nil, "unknown function " + joinName(schema, name)
	}
	// Overloads may differ in shape (unnest(anyarray) returns a scalar,
	// unnest(tsvector) three columns) and lineage does not know argument
	// types: prefer a scalar. Every column carries the lineage of all the
	// arguments, so a wrong guess changes only the column count, which
	// the caller checks against the RowDescription.
	for _, f := range fs {
		if f.outCols == nil && !f.record {
			return []string{name}, ""
		}
	}
	for _, f := range fs {
		if f.outCols != nil {
			return f.outCols, ""
		}
	}
	return nil, "function " + joinName(schema, name) + " returns record without a column definition list"
}

// matchArity keeps the functions that can take n arguments (defaults and
// VARIADIC considered); all of them when none can.
func matchArity(fs []*function, n int) []*function {
	var out []*function
	for _, f := range fs {
		if n <= f.nargs && n >= f.nargs-f.ndefaults || f.variadic && n >= f.nargs-1 {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return fs
	}
	return out
}

// jsonTableInput is the taint of JSON_TABLE's input document and PASSING
// values, which every one of its columns derives from.
func (a *analyzer) jsonTableInput(t *pg.JsonTable, lvl *level) taint {
	var out taint
	if t.ContextItem != nil {
		out = union(out, a.expr(t.ContextItem.RawExpr, lvl).taint)
		out = union(out, a.expr(t.ContextItem.FormattedExpr, lvl).taint)
	}
	for _, p := range t.Passing {
		out = union(out, a.expr(p, lvl).taint)
	}
	return out
}

func jsonTableCols(cols []*pg.Node, out *[]col) {
	for _, c := range cols {
		jc := c.GetJsonTableColumn()
		if jc == nil {
			continue
		}
		if jc.Coltype == pg.JsonTableColumnType_JTC_NESTED {
			jsonTableCols(jc.Columns, out)
			continue
		}
		*out = append(*out, col{name: jc.Name})
	}
}
