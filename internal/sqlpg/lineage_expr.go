package sqlpg

import (
	"strconv"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// expr computes the lineage of an expression evaluated at query level lvl.
// Any value computed from a protected value derives from it: functions,
// operators, casts, comparisons, CASE (its conditions too), aggregates,
// array and row constructors. A node type without a case here is walked
// generically: its value derives from all its sub-expressions.
func (a *analyzer) expr(n *pg.Node, lvl *level) val {
	if n == nil || n.Node == nil {
		return val{}
	}
	if a.mismatch {
		return val{taint: a.unresolved("the protected columns were resolved against another catalog")}
	}
	if !a.enter() {
		a.leave()
		return val{taint: a.unresolved("nests too deeply to analyze")}
	}
	defer a.leave()
	switch x := n.Node.(type) {
	case *pg.Node_ColumnRef:
		return a.columnRef(x.ColumnRef, lvl)
	case *pg.Node_ParamRef, *pg.Node_AConst, *pg.Node_SqlvalueFunction, *pg.Node_SetToDefault,
		*pg.Node_CurrentOfExpr, *pg.Node_MergeSupportFunc, *pg.Node_String_, *pg.Node_Integer,
		*pg.Node_Float, *pg.Node_Boolean, *pg.Node_BitString:
		// Constants, parameters (the client's own values) and SQL value
		// functions (CURRENT_USER...).
		return val{}
	case *pg.Node_AStar:
		return a.allColumns(lvl)
	case *pg.Node_FuncCall:
		return a.funcCall(x.FuncCall, lvl)
	case *pg.Node_AExpr:
		v := unionVal(a.expr(x.AExpr.Lexpr, lvl), a.expr(x.AExpr.Rexpr, lvl))
		switch x.AExpr.Kind {
		case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN,
			pg.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		default:
			v = a.operator(v, x.AExpr.Name)
		}
		return v
	case *pg.Node_TypeCast:
		v := a.expr(x.TypeCast.Arg, lvl).scalar()
		if t := x.TypeCast.TypeName; t != nil {
			if schema, name := qualifiedName(t.Names); a.cat.isUserType(schema, name, a.path) {
				v.taint = union(v.taint, a.unresolved("casts to type "+joinName(schema, name)+", whose conversion may run a user function"))
			}
		}
		return v
	case *pg.Node_CollateClause:
		return a.expr(x.CollateClause.Arg, lvl)
	case *pg.Node_NamedArgExpr:
		return a.expr(x.NamedArgExpr.Arg, lvl)
	case *pg.Node_BoolExpr:
		return a.exprList(x.BoolExpr.Args, lvl)
	case *pg.Node_NullTest:
		return a.expr(x.NullTest.Arg, lvl).scalar()
	case *pg.Node_BooleanTest:
		return a.expr(x.BooleanTest.Arg, lvl).scalar()
	case *pg.Node_SubLink:
		return a.subLink(x.SubLink, lvl)
	case *pg.Node_CaseExpr:
		c := x.CaseExpr
		return unionVal(unionVal(a.expr(c.Arg, lvl), a.exprList(c.Args, lvl)), a.expr(c.Defresult, lvl))
	case *pg.Node_CaseWhen:
		return unionVal(a.expr(x.CaseWhen.Expr, lvl), a.expr(x.CaseWhen.Result, lvl))
	case *pg.Node_CoalesceExpr:
		return a.exprList(x.CoalesceExpr.Args, lvl)
	case *pg.Node_MinMaxExpr:
		return a.exprList(x.MinMaxExpr.Args, lvl)
	case *pg.Node_RowExpr:
		r := x.RowExpr
		cols := make([]col, len(r.Args))
		for i, arg := range r.Args {
			name := "f" + strconv.Itoa(i+1)
			if i < len(r.Colnames) {
				name = r.Colnames[i].GetString_().GetSval()
			}
			cols[i] = col{name: name, v: a.expr(arg, lvl)}
		}
		return composite(cols, "")
	case *pg.Node_AArrayExpr:
		return a.exprList(x.AArrayExpr.Elements, lvl)
	case *pg.Node_AIndirection:
		v := a.expr(x.AIndirection.Arg, lvl)
		for _, ind := range x.AIndirection.Indirection {
			switch i := ind.Node.(type) {
			case *pg.Node_String_:
				v = a.fieldOrFunction(v, i.String_.Sval)
			case *pg.Node_AIndices:
				v = unionVal(v, unionVal(a.expr(i.AIndices.Lidx, lvl), a.expr(i.AIndices.Uidx, lvl)))
			case *pg.Node_AStar:
				// (x).* outside a select list: the whole value.
			default:
				v = unionVal(v, a.expr(ind, lvl))
			}
		}
		return v
	case *pg.Node_List:
		return a.exprList(x.List.Items, lvl)
	case *pg.Node_SortBy:
		return a.operator(a.expr(x.SortBy.Node, lvl), x.SortBy.UseOp)
	case *pg.Node_ResTarget:
		return unionVal(a.expr(x.ResTarget.Val, lvl), a.exprList(x.ResTarget.Indirection, lvl))
	case *pg.Node_MultiAssignRef:
		return a.expr(x.MultiAssignRef.Source, lvl)
	case *pg.Node_GroupingFunc:
		return a.exprList(x.GroupingFunc.Args, lvl)
	case *pg.Node_GroupingSet:
		return a.exprList(x.GroupingSet.Content, lvl)
	case *pg.Node_SelectStmt:
		// A query inside an expression (JSON_ARRAY(SELECT ...)).
		q := a.selectStmt(x.SelectStmt, lvl)
		return val{taint: union(queryTaint(a, q), q.corr)}
	}
	return a.reflectUnion(n.ProtoReflect(), lvl)
}

// operator adds to v the lineage of calling operator names: a built-in
// symbol computes from its operands; any other operator runs a user
// function, which may read protected columns.
func (a *analyzer) operator(v val, names []*pg.Node) val {
	if len(names) == 0 {
		return v
	}
	schema, sym := qualifiedName(names)
	if isCatalogSchema(schema) && has(builtinOperators, sym) {
		return v
	}
	return val{taint: union(v.taint, a.unresolved("uses operator "+joinName(schema, sym)+", whose function may read protected columns"))}
}

// exprList is the union of a list's lineages.
func (a *analyzer) exprList(list []*pg.Node, lvl *level) val {
	var v val
	for _, n := range list {
		v = unionVal(v, a.expr(n, lvl))
	}
	return v
}

// fieldOrFunction is (v).name: a field of a known composite, or all of v.
func (a *analyzer) fieldOrFunction(v val, name string) val { return selectField(v, name) }

// queryTaint is the union of a query's columns (and unresolved when its
// columns cannot be listed).
func queryTaint(a *analyzer, q query) taint {
	var t taint
	for _, c := range q.cols {
		t = union(t, c.v.taint)
	}
	if q.opaque != "" {
		t = union(t, a.unresolved(q.opaque))
	}
	return t
}

// subLink is the lineage of a subquery in an expression: a scalar or
// ARRAY subquery's value derives from its column; EXISTS, IN, ANY and ALL
// from the columns compared; every kind from the outer columns the
// subquery refers to (its result depends on them, wherever they appear in
// it). Predicates inside the subquery are recorded as it is analyzed.
func (a *analyzer) subLink(s *pg.SubLink, lvl *level) val {
	q := a.stmtQuery(s.Subselect, lvl)
	test := a.operator(a.expr(s.Testexpr, lvl), s.OperName)
	switch s.SubLinkType {
	case pg.SubLinkType_EXISTS_SUBLINK:
		return val{taint: q.corr}
	case pg.SubLinkType_EXPR_SUBLINK, pg.SubLinkType_ARRAY_SUBLINK:
		var v val
		if len(q.cols) > 0 {
			v = q.cols[0].v
		}
		if q.opaque != "" {
			v = unionVal(v, val{taint: a.unresolved(q.opaque)})
		}
		if s.SubLinkType == pg.SubLinkType_ARRAY_SUBLINK {
			v = v.scalar()
		}
		return addTaint(v, q.corr)
	}
	return val{taint: union(union(test.taint, queryTaint(a, q)), q.corr)}
}

// reflectUnion walks any parse node generically: its value derives from
// every expression in it. Subqueries and column references inside are
// still resolved in lvl.
func (a *analyzer) reflectUnion(m protoreflect.Message, lvl *level) val {
	var v val
	m.Range(func(fd protoreflect.FieldDescriptor, fv protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := fv.List()
			for i := 0; i < l.Len(); i++ {
				v = unionVal(v, a.reflectMsg(l.Get(i).Message(), lvl))
			}
			return true
		}
		v = unionVal(v, a.reflectMsg(fv.Message(), lvl))
		return true
	})
	return v
}

func (a *analyzer) reflectMsg(m protoreflect.Message, lvl *level) val {
	if n, ok := m.Interface().(*pg.Node); ok {
		return a.expr(n, lvl)
	}
	if !a.enter() {
		a.leave()
		return val{taint: a.unresolved("nests too deeply to analyze")}
	}
	defer a.leave()
	return a.reflectUnion(m, lvl)
}

// figureColname names an output column as PostgreSQL's FigureColname does
// (best effort).
func figureColname(n *pg.Node) string {
	switch x := n.GetNode().(type) {
	case *pg.Node_ColumnRef:
		f := x.ColumnRef.Fields
		for i := len(f) - 1; i >= 0; i-- {
			if s := f[i].GetString_(); s != nil {
				return s.Sval
			}
		}
	case *pg.Node_AIndirection:
		ind := x.AIndirection.Indirection
		for i := len(ind) - 1; i >= 0; i-- {
			if s := ind[i].GetString_(); s != nil {
				return s.Sval
			}
		}
		return figureColname(x.AIndirection.Arg)
	case *pg.Node_FuncCall:
		_, name := qualifiedName(x.FuncCall.Funcname)
		return name
	case *pg.Node_AExpr:
		if x.AExpr.Kind == pg.A_Expr_Kind_AEXPR_NULLIF {
			return "nullif"
		}
	case *pg.Node_TypeCast:
		if name := figureColname(x.TypeCast.Arg); name != "?column?" {
			return name
		}
		if t := x.TypeCast.TypeName; t != nil {
			_, name := qualifiedName(t.Names)
			return typeDisplayName(name)
		}
	case *pg.Node_CollateClause:
		return figureColname(x.CollateClause.Arg)
	case *pg.Node_SubLink:
		switch x.SubLink.SubLinkType {
		case pg.SubLinkType_EXISTS_SUBLINK:
			return "exists"
		case pg.SubLinkType_ARRAY_SUBLINK:
			return "array"
		case pg.SubLinkType_EXPR_SUBLINK:
			if s := x.SubLink.Subselect.GetSelectStmt(); s != nil {
				for s.Larg != nil {
					s = s.Larg
				}
				if len(s.TargetList) > 0 {
					rt := s.TargetList[0].GetResTarget()
					if rt.GetName() != "" {
						return rt.GetName()
					}
					return figureColname(rt.GetVal())
				}
			}
		}
	case *pg.Node_CaseExpr:
		if name := figureColname(x.CaseExpr.Defresult); name != "?column?" && x.CaseExpr.Defresult != nil {
			return name
		}
		return "case"
	case *pg.Node_AArrayExpr:
		return "array"
	case *pg.Node_RowExpr:
		return "row"
	case *pg.Node_CoalesceExpr:
		return "coalesce"
	case *pg.Node_MinMaxExpr:
		if x.MinMaxExpr.Op == pg.MinMaxOp_IS_LEAST {
			return "least"
		}
		return "greatest"
	case *pg.Node_SqlvalueFunction:
		return sqlValueName(x.SqlvalueFunction.Op)
	case *pg.Node_GroupingFunc:
		return "grouping"
	case *pg.Node_XmlExpr:
		return xmlName(x.XmlExpr.Op)
	case *pg.Node_XmlSerialize:
		return "xmlserialize"
	case *pg.Node_JsonObjectConstructor:
		return "json_object"
	case *pg.Node_JsonArrayConstructor, *pg.Node_JsonArrayQueryConstructor:
		return "json_array"
	case *pg.Node_JsonObjectAgg:
		return "json_objectagg"
	case *pg.Node_JsonArrayAgg:
		return "json_arrayagg"
	}
	return "?column?"
}

// typeDisplayName maps parser type names to what the server reports.
func typeDisplayName(name string) string {
	switch name {
	case "int4":
		return "int4"
	case "bpchar":
		return "bpchar"
	}
	return name
}

func sqlValueName(op pg.SQLValueFunctionOp) string {
	switch op {
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		return "current_date"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:
		return "current_time"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return "current_timestamp"
	case pg.SQLValueFunctionOp_SVFOP_LOCALTIME, pg.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
		return "localtime"
	case pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		return "localtimestamp"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:
		return "current_role"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_USER:
		return "current_user"
	case pg.SQLValueFunctionOp_SVFOP_USER:
		return "user"
	case pg.SQLValueFunctionOp_SVFOP_SESSION_USER:
		return "session_user"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return "current_catalog"
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return "current_schema"
	}
	return "?column?"
}

func xmlName(op pg.XmlExprOp) string {
	switch op {
	case pg.XmlExprOp_IS_XMLCONCAT:
		return "xmlconcat"
	case pg.XmlExprOp_IS_XMLELEMENT:
		return "xmlelement"
	case pg.XmlExprOp_IS_XMLFOREST:
		return "xmlforest"
	case pg.XmlExprOp_IS_XMLPARSE:
		return "xmlparse"
	case pg.XmlExprOp_IS_XMLPI:
		return "xmlpi"
	case pg.XmlExprOp_IS_XMLROOT:
		return "xmlroot"
	}
	return "?column?"
}
