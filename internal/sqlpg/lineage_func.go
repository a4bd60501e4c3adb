package sqlpg

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// funcCall is the lineage of a function call: it derives from its
// arguments, its aggregate ORDER BY and FILTER, and its window's
// partitioning and ordering; or it is unresolved when the function can
// read what its arguments do not show (dynamic SQL, server files, a user
// function whose body may read protected columns).
func (a *analyzer) funcCall(fc *pg.FuncCall, lvl *level) val {
	schema, name := qualifiedName(fc.Funcname)
	args := make([]val, len(fc.Args))
	for i, arg := range fc.Args {
		args[i] = a.expr(arg, lvl)
	}
	var extra taint
	for _, o := range fc.AggOrder {
		extra = union(extra, a.expr(o, lvl).taint)
	}
	extra = union(extra, a.expr(fc.AggFilter, lvl).taint)
	if fc.Over != nil {
		extra = union(extra, a.windowDef(fc.Over, lvl))
	}
	var fs []*function
	if a.cat != nil {
		fs = a.cat.lookupFuncs(schema, name, a.path)
	}
	v := a.callValue(schema, name, fs, args, len(fc.Args))
	return val{taint: union(v.taint, extra)}
}

// callValue is the lineage of calling schema.name (candidates fs, from
// the catalog) with args.
func (a *analyzer) callValue(schema, name string, fs []*function, args []val, nargs int) val {
	var t taint
	for _, v := range args {
		t = union(t, v.taint)
	}
	if a.prot == nil {
		return val{taint: t}
	}
	display := joinName(schema, name)
	if why := opaqueFunction(schema, name); why != "" {
		return val{taint: union(t, a.unresolved("calls "+display+": "+why))}
	}
	if isCatalogSchema(schema) {
		_, ok := sideEffects[name]
		if !ok {
			_, ok = sideEffectFamily(name)
		}
		if ok && !has(readFunctions, name) {
			// Its arguments go somewhere a later read is not masked.
			a.write(t)
		}
	}
	fs = matchArity(fs, nargs)
	if len(fs) == 0 {
		if a.cat == nil && isCatalogSchema(schema) && has(readFunctions, name) {
			return val{taint: t}
		}
		return val{taint: union(t, a.unresolved("calls unknown function "+display))}
	}
	for _, f := range fs {
		if why := a.prot.funcVerdict(f, a); why != "" {
			t = union(t, a.unresolved(why))
			break
		}
	}
	return val{taint: t}
}

// opaqueFunction says why a function's result cannot be tied to its
// arguments whatever the catalog says: it runs SQL text, reads server
// files, raw pages, WAL or decoded changes, or large objects. "" for
// other functions.
func opaqueFunction(schema, name string) string {
	if isCatalogSchema(schema) {
		e, ok := sideEffects[name]
		if !ok {
			e, ok = sideEffectFamily(name)
		}
		if ok {
			switch e.why {
			case whyDynamicSQL, whyServerFile:
				return e.why
			}
			if strings.HasPrefix(name, "pg_logical_slot_") {
				return "decodes changes, which carry row data"
			}
		}
		switch name {
		case "lo_get", "loread":
			return "reads large object contents, which lineage cannot trace"
		}
	}
	// Extension functions, in whatever schema they were installed.
	for _, p := range opaqueExtensionFuncs {
		if strings.HasPrefix(name, p.prefix) {
			return p.why
		}
	}
	return ""
}

// opaqueExtensionFuncs are functions of contrib extensions that return
// data lineage cannot trace, by name prefix.
var opaqueExtensionFuncs = []struct{ prefix, why string }{
	{"dblink", "runs SQL text on a connection"},
	{"crosstab", "runs SQL text the analysis cannot see"},
	{"connectby", "reads a table named by its arguments"},
	{"xpath_table", "runs SQL text the analysis cannot see"},
	{"get_raw_page", "reads raw table pages"},
	{"heap_page_item", "reads raw table pages"},
	{"tuple_data_split", "reads raw table pages"},
	{"bt_page_items", "reads raw index pages"},
	{"brin_page_items", "reads raw index pages"},
	{"gist_page_items", "reads raw index pages"},
	{"gin_leafpage_items", "reads raw index pages"},
	{"hash_page_items", "reads raw index pages"},
	{"pg_get_wal_", "reads WAL records, which carry row data"},
}

// funcVerdict says why calling f may return protected data its arguments
// do not show; "" when its result derives from its arguments only.
// Built-in (pg_catalog, information_schema) and C functions are taken to
// compute from their arguments (opaqueFunction lists those that do not);
// a SQL function is when its body reads nothing protected (see
// Protected.sqlVerdict); anything else (PL/pgSQL and other languages,
// aggregates and procedures defined outside pg_catalog) may read
// anything.
func (p *Protected) funcVerdict(f *function, a *analyzer) string {
	display := quoteIdent(f.schema) + "." + quoteIdent(f.name)
	switch {
	case f.schema == "pg_catalog" || f.schema == "information_schema":
		return ""
	case f.kind == 'a':
		return "calls aggregate " + display + ", defined outside pg_catalog, whose transition function may read protected columns"
	case f.lang == "c" || f.lang == "internal":
		return ""
	case f.lang == "sql":
		return p.sqlVerdict(f)
	}
	return "calls " + display + " (" + f.lang + "), whose body may read protected columns"
}
