package sqlpg

import (
	pg "github.com/pganalyze/pg_query_go/v6"
)

// exprs walks a list of expressions (or clause items, see expr).
func (w *walker) exprs(list []*pg.Node) {
	for _, n := range list {
		w.expr(n)
	}
}

// expr walks an expression of the raw parse tree looking for what can do
// something: function calls, operators, casts, subqueries (which bring
// their own tables, CTEs and locking clauses). It also accepts the clause
// items that hold expressions (ResTarget, SortBy, WindowDef, GroupingSet,
// IndexElem, MultiAssignRef), so that every list of a statement can be
// passed to it as is.
//
// A node type not listed here is a node the walker does not understand in
// a position where a function could hide: the statement becomes admin.
func (w *walker) expr(n *pg.Node) {
	if n == nil || n.Node == nil {
		return
	}
	if !w.enter() {
		return
	}
	defer w.leave()
	switch x := n.Node.(type) {
	case *pg.Node_ColumnRef, *pg.Node_ParamRef, *pg.Node_AConst, *pg.Node_AStar,
		*pg.Node_String_, *pg.Node_Integer, *pg.Node_Float, *pg.Node_Boolean,
		*pg.Node_BitString, *pg.Node_SetToDefault, *pg.Node_CurrentOfExpr,
		*pg.Node_SqlvalueFunction, *pg.Node_MergeSupportFunc:
		// Values, references and built-in SQL value functions (CURRENT_USER,
		// CURRENT_DATE, merge_action()...).
	case *pg.Node_FuncCall:
		w.funcCall(x.FuncCall)
	case *pg.Node_AExpr:
		a := x.AExpr
		switch a.Kind {
		case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN,
			pg.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
			// The name is the keyword; the comparison operators are built in.
		default:
			w.operator(a.Name)
		}
		w.expr(a.Lexpr)
		w.expr(a.Rexpr)
	case *pg.Node_TypeCast:
		w.typeName(x.TypeCast.TypeName)
		w.expr(x.TypeCast.Arg)
	case *pg.Node_BoolExpr:
		w.exprs(x.BoolExpr.Args)
	case *pg.Node_NullTest:
		w.expr(x.NullTest.Arg)
	case *pg.Node_BooleanTest:
		w.expr(x.BooleanTest.Arg)
	case *pg.Node_SubLink:
		s := x.SubLink
		if len(s.OperName) > 0 {
			w.operator(s.OperName)
		}
		w.expr(s.Testexpr)
		w.stmt(s.Subselect)
	case *pg.Node_CaseExpr:
		w.expr(x.CaseExpr.Arg)
		w.exprs(x.CaseExpr.Args)
		w.expr(x.CaseExpr.Defresult)
	case *pg.Node_CaseWhen:
		w.expr(x.CaseWhen.Expr)
		w.expr(x.CaseWhen.Result)
	case *pg.Node_CoalesceExpr:
		w.exprs(x.CoalesceExpr.Args)
	case *pg.Node_MinMaxExpr:
		w.exprs(x.MinMaxExpr.Args)
	case *pg.Node_RowExpr:
		w.exprs(x.RowExpr.Args)
	case *pg.Node_AArrayExpr:
		w.exprs(x.AArrayExpr.Elements)
	case *pg.Node_AIndirection:
		w.expr(x.AIndirection.Arg)
		w.exprs(x.AIndirection.Indirection)
	case *pg.Node_AIndices:
		w.expr(x.AIndices.Lidx)
		w.expr(x.AIndices.Uidx)
	case *pg.Node_CollateClause:
		w.expr(x.CollateClause.Arg)
	case *pg.Node_NamedArgExpr:
		w.expr(x.NamedArgExpr.Arg)
	case *pg.Node_GroupingFunc:
		w.exprs(x.GroupingFunc.Args)
	case *pg.Node_GroupingSet:
		w.exprs(x.GroupingSet.Content)
	case *pg.Node_List:
		w.exprs(x.List.Items)
	case *pg.Node_ResTarget:
		w.exprs(x.ResTarget.Indirection)
		w.expr(x.ResTarget.Val)
	case *pg.Node_MultiAssignRef:
		w.expr(x.MultiAssignRef.Source)
	case *pg.Node_SortBy:
		if len(x.SortBy.UseOp) > 0 {
			w.operator(x.SortBy.UseOp)
		}
		w.expr(x.SortBy.Node)
	case *pg.Node_WindowDef:
		w.windowDef(x.WindowDef)
	case *pg.Node_IndexElem:
		w.expr(x.IndexElem.Expr)
	case *pg.Node_XmlExpr:
		w.exprs(x.XmlExpr.NamedArgs)
		w.exprs(x.XmlExpr.Args)
	case *pg.Node_XmlSerialize:
		w.typeName(x.XmlSerialize.TypeName)
		w.expr(x.XmlSerialize.Expr)
	default:
		w.jsonExpr(n)
	}
}

// windowDef walks an OVER clause or a WINDOW definition.
func (w *walker) windowDef(d *pg.WindowDef) {
	if d == nil {
		return
	}
	w.exprs(d.PartitionClause)
	w.exprs(d.OrderClause)
	w.expr(d.StartOffset)
	w.expr(d.EndOffset)
}

// jsonExpr walks the SQL/JSON expression nodes; anything else is unknown.
func (w *walker) jsonExpr(n *pg.Node) {
	switch x := n.Node.(type) {
	case *pg.Node_JsonFuncExpr: // JSON_QUERY, JSON_VALUE, JSON_EXISTS
		f := x.JsonFuncExpr
		w.jsonValue(f.ContextItem)
		w.expr(f.Pathspec)
		w.exprs(f.Passing)
		w.jsonOutput(f.Output)
		w.jsonBehavior(f.OnEmpty)
		w.jsonBehavior(f.OnError)
	case *pg.Node_JsonValueExpr:
		w.jsonValue(x.JsonValueExpr)
	case *pg.Node_JsonArgument:
		w.jsonValue(x.JsonArgument.Val)
	case *pg.Node_JsonParseExpr:
		w.jsonValue(x.JsonParseExpr.Expr)
		w.jsonOutput(x.JsonParseExpr.Output)
	case *pg.Node_JsonScalarExpr:
		w.expr(x.JsonScalarExpr.Expr)
		w.jsonOutput(x.JsonScalarExpr.Output)
	case *pg.Node_JsonSerializeExpr:
		w.jsonValue(x.JsonSerializeExpr.Expr)
		w.jsonOutput(x.JsonSerializeExpr.Output)
	case *pg.Node_JsonObjectConstructor:
		w.exprs(x.JsonObjectConstructor.Exprs)
		w.jsonOutput(x.JsonObjectConstructor.Output)
	case *pg.Node_JsonArrayConstructor:
		w.exprs(x.JsonArrayConstructor.Exprs)
		w.jsonOutput(x.JsonArrayConstructor.Output)
	case *pg.Node_JsonArrayQueryConstructor:
		w.stmt(x.JsonArrayQueryConstructor.Query)
		w.jsonOutput(x.JsonArrayQueryConstructor.Output)
	case *pg.Node_JsonObjectAgg:
		w.jsonAgg(x.JsonObjectAgg.Constructor)
		if kv := x.JsonObjectAgg.Arg; kv != nil {
			w.expr(kv.Key)
			w.jsonValue(kv.Value)
		}
	case *pg.Node_JsonArrayAgg:
		w.jsonAgg(x.JsonArrayAgg.Constructor)
		w.jsonValue(x.JsonArrayAgg.Arg)
	case *pg.Node_JsonKeyValue:
		w.expr(x.JsonKeyValue.Key)
		w.jsonValue(x.JsonKeyValue.Value)
	case *pg.Node_JsonIsPredicate:
		w.expr(x.JsonIsPredicate.Expr)
	case *pg.Node_JsonBehavior:
		w.jsonBehavior(x.JsonBehavior)
	default:
		w.unknownNode(n)
	}
}

func (w *walker) jsonValue(v *pg.JsonValueExpr) {
	if v != nil {
		w.expr(v.RawExpr)
		w.expr(v.FormattedExpr)
	}
}

func (w *walker) jsonOutput(o *pg.JsonOutput) {
	if o != nil {
		w.typeName(o.TypeName)
	}
}

func (w *walker) jsonBehavior(b *pg.JsonBehavior) {
	if b != nil {
		w.expr(b.Expr)
	}
}

func (w *walker) jsonAgg(c *pg.JsonAggConstructor) {
	if c == nil {
		return
	}
	w.jsonOutput(c.Output)
	w.expr(c.AggFilter)
	w.exprs(c.AggOrder)
	w.windowDef(c.Over)
}
