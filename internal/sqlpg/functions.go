package sqlpg

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// funcCall classifies a function call and walks its arguments, aggregate
// ORDER BY and FILTER, and OVER clause.
//
// Resolution, in order, for a name called unqualified or in pg_catalog:
// sideEffects (its kind), readFunctions (read), sideEffectPrefixes (its
// kind). information_schema's own helpers are read. For everything else,
// the FunctionCatalog: IMMUTABLE or STABLE is read, VOLATILE is admin.
// Anything still unknown is admin, even under EXPLAIN (the planner may
// evaluate it).
func (w *walker) funcCall(fc *pg.FuncCall) {
	schema, name := qualifiedName(fc.Funcname)
	display := joinName(schema, name)
	w.funcs = append(w.funcs, display)
	w.exprs(fc.Args)
	w.exprs(fc.AggOrder)
	w.expr(fc.AggFilter)
	w.windowDef(fc.Over)

	if isCatalogSchema(schema) {
		if e, ok := sideEffects[name]; ok {
			if name == "set_config" {
				w.setConfig(fc)
				return
			}
			w.raise(e.kind, "calls "+display+": "+e.why)
			return
		}
		if has(readFunctions, name) {
			return
		}
		if e, ok := sideEffectFamily(name); ok {
			w.raise(e.kind, "calls "+display+": "+e.why)
			return
		}
	}
	if schema == "information_schema" && has(infoSchemaFunctions, name) {
		return
	}
	if w.c.catalog != nil {
		w.cacheable = false
		switch w.c.catalog.Volatility(schema, name) {
		case Immutable, Stable:
			return
		case Volatile:
			w.raise(gate.KindAdmin, "calls volatile function "+display+" whose side effects are unknown")
			return
		}
	}
	w.unknown("calls function " + display + " whose side effects are unknown")
}

// setConfig classifies set_config(name, value, is_local). With constant
// name and value it is exactly SET [LOCAL] name = value, classified by
// paramKind; otherwise the setting cannot be known and it is admin.
func (w *walker) setConfig(fc *pg.FuncCall) {
	if len(fc.Args) == 3 {
		name, ok1 := constString(fc.Args[0])
		value, ok2 := constString(fc.Args[1])
		if ok1 && ok2 {
			k, note := paramKind(name, value, false)
			if note == "" {
				note = "calls set_config: sets " + strings.ToLower(name)
			} else {
				note = "calls set_config: " + note
			}
			w.raise(k, note)
			return
		}
	}
	w.raise(gate.KindAdmin, "calls set_config with a setting the classifier cannot read")
}

// constString returns the value of a string constant, possibly cast.
func constString(n *pg.Node) (string, bool) {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	if s := n.GetAConst().GetSval(); s != nil {
		return s.Sval, true
	}
	return "", false
}

// operator checks an operator name: a built-in symbol, unqualified or in
// pg_catalog, is fine; anything else is a user-defined operator, which
// calls an arbitrary function.
func (w *walker) operator(names []*pg.Node) {
	schema, sym := qualifiedName(names)
	if isCatalogSchema(schema) && has(builtinOperators, sym) {
		return
	}
	w.unknown("uses operator " + joinName(schema, sym) + ", which is not a built-in operator")
}

// typeName checks the target type of a cast (or RETURNING type): a
// built-in type, unqualified or in pg_catalog, is fine; a cast to any
// other type may run a user-defined function (see builtinTypes).
func (w *walker) typeName(t *pg.TypeName) {
	if t == nil {
		return
	}
	schema, name := qualifiedName(t.Names)
	if isCatalogSchema(schema) && has(builtinTypes, name) {
		return
	}
	w.unknown("casts to type " + joinName(schema, name) + ", whose conversion may run a user-defined function")
}
