package sqlpg

import (
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// withClause walks the common table expressions of wc and brings their names
// into scope. It returns the scope mark to pass to popCTEs once the
// statement owning wc has been walked.
//
// Scoping follows PostgreSQL: in a plain WITH, a CTE's query sees only the
// CTEs before it (so `WITH t AS (SELECT * FROM t)` reads the table t); in
// WITH RECURSIVE every CTE of the clause is visible in every CTE's query.
// A CTE whose query is INSERT, UPDATE, DELETE or MERGE makes the statement
// write, wherever it is nested.
func (w *walker) withClause(wc *pg.WithClause) int {
	mark := len(w.ctes)
	if wc == nil {
		return mark
	}
	if wc.Recursive {
		for _, n := range wc.Ctes {
			if cte := n.GetCommonTableExpr(); cte != nil {
				w.ctes = append(w.ctes, cte.Ctename)
			}
		}
	}
	for _, n := range wc.Ctes {
		cte := n.GetCommonTableExpr()
		if cte == nil {
			w.unknownNode(n)
			continue
		}
		switch cte.Ctequery.GetNode().(type) {
		case *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt:
			w.raise(gate.KindWrite, "data-modifying CTE "+cte.Ctename)
		}
		w.stmt(cte.Ctequery)
		if c := cte.CycleClause; c != nil {
			w.expr(c.CycleMarkValue)
			w.expr(c.CycleMarkDefault)
		}
		if !wc.Recursive {
			w.ctes = append(w.ctes, cte.Ctename)
		}
	}
	return mark
}

// popCTEs ends the scope opened by the withClause call that returned mark.
func (w *walker) popCTEs(mark int) { w.ctes = w.ctes[:mark] }

// fromItems walks a FROM (or USING) list.
func (w *walker) fromItems(items []*pg.Node) {
	for _, n := range items {
		w.fromItem(n)
	}
}

// fromItem walks one FROM item: a relation, a subquery, a function call, a
// join, a sample, XMLTABLE or JSON_TABLE.
func (w *walker) fromItem(n *pg.Node) {
	if n == nil || n.Node == nil {
		return
	}
	if !w.enter() {
		return
	}
	defer w.leave()
	switch x := n.Node.(type) {
	case *pg.Node_RangeVar:
		w.relation(x.RangeVar)
	case *pg.Node_RangeSubselect:
		w.stmt(x.RangeSubselect.Subquery)
	case *pg.Node_RangeFunction:
		// Each item is a List of the call and its column definition list.
		for _, f := range x.RangeFunction.Functions {
			items := f.GetList().GetItems()
			if len(items) == 0 {
				w.unknownNode(f)
				continue
			}
			w.expr(items[0])
		}
	case *pg.Node_JoinExpr:
		w.fromItem(x.JoinExpr.Larg)
		w.fromItem(x.JoinExpr.Rarg)
		w.expr(x.JoinExpr.Quals)
	case *pg.Node_RangeTableSample:
		s := x.RangeTableSample
		w.fromItem(s.Relation)
		if schema, name := qualifiedName(s.Method); !isCatalogSchema(schema) || !has(builtinSampleMethods, name) {
			w.unknown("samples with TABLESAMPLE method " + joinName(schema, name) + ", which is not built in")
		}
		w.exprs(s.Args)
		w.expr(s.Repeatable)
	case *pg.Node_RangeTableFunc: // XMLTABLE
		f := x.RangeTableFunc
		w.expr(f.Docexpr)
		w.expr(f.Rowexpr)
		w.exprs(f.Namespaces)
		for _, c := range f.Columns {
			col := c.GetRangeTableFuncCol()
			if col == nil {
				w.unknownNode(c)
				continue
			}
			w.typeName(col.TypeName)
			w.expr(col.Colexpr)
			w.expr(col.Coldefexpr)
		}
	case *pg.Node_JsonTable:
		t := x.JsonTable
		w.jsonValue(t.ContextItem)
		w.exprs(t.Passing)
		w.jsonTableColumns(t.Columns)
		if t.OnError != nil {
			w.expr(t.OnError.Expr)
		}
	default:
		w.unknownNode(n)
	}
}

func (w *walker) jsonTableColumns(cols []*pg.Node) {
	for _, c := range cols {
		col := c.GetJsonTableColumn()
		if col == nil {
			w.unknownNode(c)
			continue
		}
		w.typeName(col.TypeName)
		if col.OnEmpty != nil {
			w.expr(col.OnEmpty.Expr)
		}
		if col.OnError != nil {
			w.expr(col.OnError.Expr)
		}
		w.jsonTableColumns(col.Columns)
	}
}

// relation records a relation named in FROM, unless it names a CTE in scope.
func (w *walker) relation(rv *pg.RangeVar) {
	if rv == nil {
		return
	}
	if rv.Schemaname == "" && rv.Catalogname == "" && slices.Contains(w.ctes, rv.Relname) {
		return
	}
	w.table(rv)
}

// table records rv as a table the statement touches, schema-qualified.
func (w *walker) table(rv *pg.RangeVar) {
	if rv == nil || rv.Relname == "" {
		return
	}
	w.tables = append(w.tables, w.qualify(rv.Schemaname, rv.Relname, rv.Relpersistence == "t"))
}

// tableName records a table named by a list of String nodes (DROP TABLE,
// GRANT ON TABLE...).
func (w *walker) tableName(n *pg.Node) {
	schema, name := qualifiedName(n.GetList().GetItems())
	if name != "" {
		w.tables = append(w.tables, w.qualify(schema, name, false))
	}
}

// qualify renders a relation name as schema.name, quoting each part the way
// quote_ident would when it is not a plain lower-case identifier. An empty
// schema becomes pg_temp for temporary relations, pg_catalog for names
// beginning with "pg_" (the server searches pg_catalog first, and every
// system catalog and view is named so), and otherwise the default schema
// (or the schema a CREATE SCHEMA is creating elements in).
// A catalog (database) qualifier is dropped: the server refuses any but the
// current database.
func (w *walker) qualify(schema, name string, temp bool) string {
	switch {
	case schema != "":
	case temp:
		schema = "pg_temp"
	case strings.HasPrefix(name, "pg_"):
		schema = "pg_catalog"
	default:
		schema = w.schema
	}
	return quoteIdent(schema) + "." + quoteIdent(name)
}

// quoteIdent returns s, double-quoted unless it is a plain lower-case
// identifier, so that "a.b" (one name with a dot) never reads as a.b.
func quoteIdent(s string) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '$')
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// qualifiedName splits a list of String nodes (a possibly qualified name)
// into its schema (or "") and last part. A database qualifier is dropped.
func qualifiedName(parts []*pg.Node) (schema, name string) {
	switch len(parts) {
	case 0:
		return "", ""
	case 1:
		return "", parts[0].GetString_().GetSval()
	default:
		return parts[len(parts)-2].GetString_().GetSval(), parts[len(parts)-1].GetString_().GetSval()
	}
}

func joinName(schema, name string) string {
	if schema == "" {
		return name
	}
	return schema + "." + name
}

// isCatalogSchema reports whether a name written with schema resolves in
// pg_catalog: unqualified names do, since pg_catalog is searched first.
func isCatalogSchema(schema string) bool { return schema == "" || schema == "pg_catalog" }

func has(set map[string]struct{}, name string) bool {
	_, ok := set[name]
	return ok
}
