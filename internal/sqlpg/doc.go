// Package sqlpg classifies PostgreSQL statements for gatehouse's policies.
//
// A Classifier parses statement text with pg_query_go, which is the
// PostgreSQL server's own parser compiled in through cgo, and walks the raw
// parse tree into a *gate.Class: the most privileged Kind among the
// statements, a command tag per statement, the tables touched
// (schema-qualified; CTE names excluded), whether every UPDATE and DELETE
// is bounded by a WHERE that refers to a column, the functions called, and
// notes explaining non-obvious kinds.
//
//	text -> parse (ParseError on failure) -> per statement: stmt (statements.go,
//	utility.go, ddl.go, settings.go) -> expressions (expr.go, from.go,
//	functions.go, where.go) -> gate.Class, cached by text (cache.go)
//
// Fail-closed contract: a statement is read only when the walker has seen
// all of it and every function, operator and cast in it is known to change
// nothing. An unknown statement type, a parse node the walker does not
// understand where a function could hide, a function not in the built-in
// tables (builtins.go, sideeffects.go) and not vouched for by the optional
// FunctionCatalog, a user-defined operator, a cast to a non-built-in type,
// an EXECUTE the caller's Resolver cannot resolve: each makes the statement
// admin, with a note naming the cause. Text the parser rejects is a
// *ParseError, never a class.
//
// What a parse tree cannot show, and the classifier therefore does not see:
//
//   - A table may be a view, and selecting from it runs whatever functions
//     the view's definition calls; a rule or a trigger may run more. Tables
//     are names, not objects.
//   - Built-in operator symbols and unqualified built-in function names can
//     be overloaded for user-defined argument types (or, when untrusted
//     users can create objects in a schema on the search path, shadowed by
//     a better-matching overload); attribute notation (t.f) can call a
//     function f(t). Run agents with a search_path and schema privileges
//     that keep untrusted code out, and prefer a read-only transaction
//     upstream as a second line for read-only policies.
//   - Unqualified table names are reported in Config.DefaultSchema even
//     when the session's search_path (or a temporary table) would resolve
//     them elsewhere; SET search_path is admin for that reason.
//
// Kinds follow gate.Kind. Decisions beyond the obvious, all documented
// where they are made: EXPLAIN without ANALYZE is read except for
// functions of unknown volatility, which the planner may fold; PREPARE has
// its inner statement's kind; two-phase commit is admin; REFRESH
// MATERIALIZED VIEW is write; SECURITY DEFINER functions, functions in
// languages other than sql and plpgsql, ownership, row-level security and
// policies are admin; set_config with constant arguments is classified as
// the SET it performs.
package sqlpg
