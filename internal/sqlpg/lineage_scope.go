package sqlpg

import (
	"slices"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// analyzer computes the lineage of one text. It is used by one goroutine
// for one Analyze call (or, inside Protect, for one view or function).
type analyzer struct {
	cat      *Catalog
	prot     *Protected // nil: nothing is protected
	resolver LineageResolver
	// path is the search_path unqualified names resolve in; nil after a
	// SET search_path the analysis cannot read.
	path      []string
	pathKnown bool

	ctes     []*cteDef // in scope, innermost last
	preds    idSet
	writes   idSet
	cursors  map[string]*StatementLineage // declared earlier in the text
	prepared map[string]*StatementLineage // prepared earlier in the text

	usedResolver bool
	depth        int
	// paramNames are the parameter names of the SQL function whose body
	// is analyzed: references to them are the caller's values.
	paramNames []string
	// mismatch is set when prot belongs to another catalog: everything
	// is unresolved.
	mismatch bool
}

// maxLineageDepth bounds query and expression nesting; deeper input is
// unresolved rather than a stack overflow.
const maxLineageDepth = 1000

func newAnalyzer(cat *Catalog, prot *Protected, resolver LineageResolver) *analyzer {
	a := &analyzer{cat: cat, prot: prot, resolver: resolver, pathKnown: true}
	if cat != nil {
		a.path = cat.searchPath
	}
	if prot != nil && prot.cat != cat {
		a.mismatch = true
	}
	return a
}

// unresolved is the taint of a value whose lineage is unknown; nothing is
// unknown when nothing is protected.
func (a *analyzer) unresolved(why string) taint {
	if a.prot == nil {
		return taint{}
	}
	return taint{why: why}
}

func (a *analyzer) enter() bool {
	a.depth++
	return a.depth <= maxLineageDepth
}

func (a *analyzer) leave() { a.depth-- }

// level is one query level's FROM scope.
type level struct {
	parent *level
	items  []*nsItem
	// corr accumulates the taint of references from this level (or a
	// level nested in it) to columns of enclosing levels: a subquery's
	// value depends on them.
	corr taint
	// windows holds the taints of the WINDOW clause's named windows.
	windows map[string]taint
}

// nsItem is a FROM item as name resolution sees it (PostgreSQL's
// ParseNamespaceItem).
type nsItem struct {
	// alias is the name qualified references use: the alias, or the
	// relation (or CTE) name; "" for an unaliased join or subquery.
	alias string
	// schema is the relation's schema, for schema.table.column references
	// to an unaliased relation.
	schema string
	cols   []col
	rel    *Relation // the catalog relation, when the item is one
	// relVisible: qualified references reach it; colsVisible: unqualified
	// column names reach its columns.
	relVisible, colsVisible bool
	// unknown, when not empty, says why the item's columns are not known
	// (an unknown relation, a function of unknown shape): references that
	// may reach it are unresolved.
	unknown string
}

// wholeRow is the value of a whole-row reference to the item.
func (it *nsItem) wholeRow(a *analyzer) val {
	if it.unknown != "" {
		return val{taint: a.unresolved(it.unknown)}
	}
	note := ""
	if it.rel != nil {
		note = "whole-row reference to " + it.rel.qualifiedName()
	} else if it.alias != "" {
		note = "whole-row reference to " + quoteIdent(it.alias)
	}
	return composite(it.cols, note)
}

// findCols returns the value of the columns named name among the items of
// l whose columns are visible unqualified; found is false when none has
// one. An unknown item at the level makes an unmatched name unresolved.
func (a *analyzer) findCols(l *level, name string) (val, bool) {
	var v val
	found := false
	unknown := ""
	for _, it := range l.items {
		if !it.colsVisible {
			continue
		}
		if it.unknown != "" {
			unknown = it.unknown
			continue
		}
		for _, c := range it.cols {
			if c.name == name {
				if found {
					// Ambiguous: the server refuses it; keep both.
					v = unionVal(v, c.v)
				} else {
					v = c.v
				}
				found = true
			}
		}
	}
	if !found && unknown != "" {
		return val{taint: a.unresolved("column " + quoteIdent(name) + " may come from " + unknown)}, true
	}
	return v, found
}

// findItem returns the item a qualified reference schema.name reaches in l.
func findItem(l *level, schema, name string) *nsItem {
	for i := len(l.items) - 1; i >= 0; i-- {
		it := l.items[i]
		if !it.relVisible || it.alias != name {
			continue
		}
		if schema != "" && (it.rel == nil || it.schema != schema) {
			continue
		}
		return it
	}
	return nil
}

// correlate records that a reference from l resolved in the enclosing
// level at: every level in between depends on it.
func correlate(l, at *level, t taint) {
	if t.clean() {
		return
	}
	for ; l != nil && l != at; l = l.parent {
		l.corr = union(l.corr, t)
	}
}

// columnRef resolves a column reference as PostgreSQL's
// transformColumnRef does: a column of the innermost level that has one,
// then a whole-row reference to a relation of that name; qualified names
// are relation.column (or relation.function, attribute notation), then
// column.field.
func (a *analyzer) columnRef(cr *pg.ColumnRef, l *level) val {
	var names []string
	star := false
	for i, f := range cr.Fields {
		switch x := f.Node.(type) {
		case *pg.Node_String_:
			names = append(names, x.String_.Sval)
		case *pg.Node_AStar:
			if i != len(cr.Fields)-1 {
				return val{taint: a.unresolved("contains a misplaced *")}
			}
			star = true
		default:
			return val{taint: a.unresolved("contains a column reference the analysis does not understand")}
		}
	}
	if star {
		// rel.* in an expression: the whole row.
		if len(names) == 0 {
			return a.allColumns(l)
		}
		if it, at := a.lookupItem(l, names); it != nil {
			v := it.wholeRow(a)
			correlate(l, at, v.taint)
			return v
		}
		return val{taint: a.unresolved("refers to unknown relation " + joinNames(names))}
	}
	switch len(names) {
	case 0:
		return val{}
	case 1:
		return a.unqualified(names[0], l)
	}
	// rel.col, schema.rel.col, db.schema.rel.col.
	if n := len(names) - 1; n <= 3 {
		if it, at := a.lookupItem(l, names[:n]); it != nil {
			v := a.itemColumn(it, names[n])
			correlate(l, at, v.taint)
			return v
		}
	}
	// col.field..., rel.col.field...: resolve the head, select fields.
	for head := 1; head <= min(3, len(names)-1); head++ {
		var v val
		ok := false
		if head == 1 {
			v, ok = a.unqualifiedOK(names[0], l)
		} else if it, at := a.lookupItem(l, names[:head-1]); it != nil {
			v, ok = a.itemColumn(it, names[head-1]), true
			correlate(l, at, v.taint)
		}
		if ok {
			for _, f := range names[head:] {
				v = selectField(v, f)
			}
			return v
		}
	}
	return val{taint: a.unresolved("refers to unknown column " + joinNames(names))}
}

// lookupItem finds the item named by a qualifier (name, schema.name or
// db.schema.name), innermost level first, and the level it is in.
func (a *analyzer) lookupItem(l *level, q []string) (*nsItem, *level) {
	var schema, name string
	switch len(q) {
	case 1:
		name = q[0]
	case 2:
		schema, name = q[0], q[1]
	case 3:
		schema, name = q[1], q[2]
	default:
		return nil, nil
	}
	for at := l; at != nil; at = at.parent {
		if it := findItem(at, schema, name); it != nil {
			return it, at
		}
	}
	return nil, nil
}

// itemColumn is column name of item it, or a function name(it) called in
// attribute notation, or unresolved.
func (a *analyzer) itemColumn(it *nsItem, name string) val {
	if it.unknown != "" {
		return val{taint: a.unresolved(it.unknown)}
	}
	for _, c := range it.cols {
		if c.name == name {
			return c.v
		}
	}
	if _, ok := systemColumns[name]; ok && it.rel != nil {
		return val{}
	}
	// Attribute notation: it.f is f(it).
	if fs := a.cat.lookupFuncs("", name, a.path); len(fs) > 0 {
		return a.callValue("", name, fs, []val{it.wholeRow(a)}, 1)
	}
	return val{taint: a.unresolved("refers to unknown column " + quoteIdent(it.alias) + "." + quoteIdent(name))}
}

// systemColumns are the hidden columns every table has; they hold no user
// data.
var systemColumns = nameSet(`tableoid xmin xmax cmin cmax ctid oid`)

// unqualified resolves a one-part name.
func (a *analyzer) unqualified(name string, l *level) val {
	if v, ok := a.unqualifiedOK(name, l); ok {
		return v
	}
	return val{taint: a.unresolved("refers to unknown column " + quoteIdent(name))}
}

func (a *analyzer) unqualifiedOK(name string, l *level) (val, bool) {
	for at := l; at != nil; at = at.parent {
		if v, ok := a.findCols(at, name); ok {
			correlate(l, at, v.taint)
			return v, true
		}
	}
	for at := l; at != nil; at = at.parent {
		if it := findItem(at, "", name); it != nil {
			v := it.wholeRow(a)
			correlate(l, at, v.taint)
			return v, true
		}
	}
	if slices.Contains(a.paramNames, name) {
		return val{}, true
	}
	return val{}, false
}

// allColumns is the value of every column in scope at l (a bare * inside
// an expression, as in count(*)-like calls that are not count(*)).
func (a *analyzer) allColumns(l *level) val {
	var t taint
	for _, it := range l.items {
		if it.colsVisible {
			t = union(t, it.wholeRow(a).taint)
		}
	}
	return val{taint: t}
}

// selectField is field f of v: that field's lineage when v is a known
// composite that has it, all of v otherwise.
func selectField(v val, f string) val {
	for _, c := range v.fields {
		if c.name == f {
			return c.v
		}
	}
	return v.scalar()
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += "."
		}
		out += quoteIdent(n)
	}
	return out
}

// cteDef is a common table expression in scope.
type cteDef struct {
	name string
	cols []col
	// pending is set while a recursive CTE's columns are being computed.
	pending bool
}

// lookupCTE finds the CTE an unqualified relation name refers to.
func (a *analyzer) lookupCTE(name string) *cteDef {
	for i := len(a.ctes) - 1; i >= 0; i-- {
		if a.ctes[i].name == name {
			return a.ctes[i]
		}
	}
	return nil
}

// renameCols applies an alias's column names to the first columns.
func renameCols(cols []col, alias *pg.Alias) []col {
	if alias == nil || len(alias.Colnames) == 0 {
		return cols
	}
	out := slices.Clone(cols)
	for i, n := range alias.Colnames {
		if i < len(out) {
			out[i].name = n.GetString_().GetSval()
		}
	}
	return out
}
