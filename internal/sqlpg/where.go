package sqlpg

import (
	"slices"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// targetNames returns the names by which an UPDATE, DELETE or MERGE target
// can be referred to inside a subquery: its alias and its relation name.
func targetNames(rv *pg.RangeVar) []string {
	if rv == nil {
		return nil
	}
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		return []string{rv.Alias.Aliasname, rv.Relname}
	}
	return []string{rv.Relname}
}

// bounded reports whether where restricts which rows an UPDATE or DELETE
// touches, in the sense of Class.HasWhere: it must refer to a column of the
// statement. WHERE true, WHERE 1=1 and WHERE $1 do not; neither does a
// subquery that does not correlate with the target. Boolean structure is
// respected: an AND is bounded when any of its arms is, an OR only when
// all of them are (`id = 1 OR true` is not). WHERE CURRENT OF is bounded.
func bounded(where *pg.Node, target []string) bool {
	if where == nil {
		return false
	}
	switch x := where.Node.(type) {
	case *pg.Node_BoolExpr:
		switch x.BoolExpr.Boolop {
		case pg.BoolExprType_AND_EXPR:
			return slices.ContainsFunc(x.BoolExpr.Args, func(n *pg.Node) bool { return bounded(n, target) })
		case pg.BoolExprType_OR_EXPR:
			for _, a := range x.BoolExpr.Args {
				if !bounded(a, target) {
					return false
				}
			}
			return len(x.BoolExpr.Args) > 0
		}
	case *pg.Node_CurrentOfExpr:
		return true
	}
	return mentions(where, target, false)
}

// mentions reports whether expression n refers to a column: any column
// outside subqueries, or, inside a subquery (sub), a column qualified with
// one of the target's names (a correlated reference).
func mentions(n *pg.Node, target []string, sub bool) bool {
	if n == nil {
		return false
	}
	anyOf := func(list []*pg.Node, sub bool) bool {
		return slices.ContainsFunc(list, func(n *pg.Node) bool { return mentions(n, target, sub) })
	}
	switch x := n.Node.(type) {
	case *pg.Node_ColumnRef:
		f := x.ColumnRef.Fields
		if !sub {
			return true
		}
		return len(f) >= 2 && slices.Contains(target, f[0].GetString_().GetSval())
	case *pg.Node_CurrentOfExpr:
		return !sub
	case *pg.Node_AExpr:
		return mentions(x.AExpr.Lexpr, target, sub) || mentions(x.AExpr.Rexpr, target, sub)
	case *pg.Node_BoolExpr:
		return anyOf(x.BoolExpr.Args, sub)
	case *pg.Node_NullTest:
		return mentions(x.NullTest.Arg, target, sub)
	case *pg.Node_BooleanTest:
		return mentions(x.BooleanTest.Arg, target, sub)
	case *pg.Node_TypeCast:
		return mentions(x.TypeCast.Arg, target, sub)
	case *pg.Node_CollateClause:
		return mentions(x.CollateClause.Arg, target, sub)
	case *pg.Node_FuncCall:
		return anyOf(x.FuncCall.Args, sub)
	case *pg.Node_NamedArgExpr:
		return mentions(x.NamedArgExpr.Arg, target, sub)
	case *pg.Node_List:
		return anyOf(x.List.Items, sub)
	case *pg.Node_RowExpr:
		return anyOf(x.RowExpr.Args, sub)
	case *pg.Node_AArrayExpr:
		return anyOf(x.AArrayExpr.Elements, sub)
	case *pg.Node_CoalesceExpr:
		return anyOf(x.CoalesceExpr.Args, sub)
	case *pg.Node_MinMaxExpr:
		return anyOf(x.MinMaxExpr.Args, sub)
	case *pg.Node_CaseExpr:
		return mentions(x.CaseExpr.Arg, target, sub) || anyOf(x.CaseExpr.Args, sub) || mentions(x.CaseExpr.Defresult, target, sub)
	case *pg.Node_CaseWhen:
		return mentions(x.CaseWhen.Expr, target, sub) || mentions(x.CaseWhen.Result, target, sub)
	case *pg.Node_AIndirection:
		return mentions(x.AIndirection.Arg, target, sub)
	case *pg.Node_ResTarget:
		return mentions(x.ResTarget.Val, target, sub)
	case *pg.Node_SubLink:
		return mentions(x.SubLink.Testexpr, target, sub) || mentions(x.SubLink.Subselect, target, true)
	case *pg.Node_SelectStmt:
		return mentionsSelect(x.SelectStmt, target)
	case *pg.Node_JoinExpr:
		return mentions(x.JoinExpr.Larg, target, sub) || mentions(x.JoinExpr.Rarg, target, sub) || mentions(x.JoinExpr.Quals, target, sub)
	case *pg.Node_RangeSubselect:
		return mentions(x.RangeSubselect.Subquery, target, true)
	}
	return false
}

// mentionsSelect reports whether a subquery refers to the target (see mentions).
func mentionsSelect(s *pg.SelectStmt, target []string) bool {
	if s == nil {
		return false
	}
	anyOf := func(list []*pg.Node) bool {
		return slices.ContainsFunc(list, func(n *pg.Node) bool { return mentions(n, target, true) })
	}
	return mentions(s.WhereClause, target, true) || anyOf(s.TargetList) ||
		mentions(s.HavingClause, target, true) || anyOf(s.FromClause) ||
		anyOf(s.ValuesLists) || mentionsSelect(s.Larg, target) || mentionsSelect(s.Rarg, target)
}
