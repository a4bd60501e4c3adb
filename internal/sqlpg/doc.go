// Package sqlpg classifies PostgreSQL statements for gatehouse's policies.
//
// A Classifier parses statement text with pg_query_go, which is the
// PostgreSQL server's own parser compiled in through cgo, and walks the raw
// parse tree into a *gate.Class: the most privileged Kind among the
// statements, a tag per statement, the tables touched (schema-qualified;
// CTE names excluded), whether every UPDATE and DELETE is bounded by a
// WHERE that refers to a column, the functions called, and notes explaining
// kinds that are not obvious.
//
//	text -> parse (errors.go: *ParseError)
//	     -> per statement: statements.go, utility.go, ddl.go, settings.go
//	     -> expressions: expr.go, from.go (FROM, CTE scope, table names),
//	        functions.go (functions, operators, casts), where.go (has_where)
//	     -> *gate.Class, cached by text (cache.go)
//
// Tags are PostgreSQL's command tags as event triggers see them ("SELECT",
// "SELECT FOR UPDATE", "SELECT INTO", "CREATE TABLE AS", "DROP TABLE"),
// not the completion tags on the wire, which add row counts and report
// CREATE TABLE AS as "SELECT n".
//
// Fail-closed contract: a statement is read only when the walker has seen
// all of it and every function, operator and cast in it is known to change
// nothing. An unknown statement type, a parse node the walker does not
// understand where a function could hide, a function neither in the
// built-in tables (builtins.go, sideeffects.go) nor vouched for by the
// optional FunctionCatalog, an operator symbol that is not built in, a cast
// to a type that is not built in, a TABLESAMPLE method that is not built
// in, an EXECUTE the caller's Resolver cannot resolve: each makes the
// statement admin, with a note naming the cause. Text the parser rejects
// (or that holds a zero byte) is a *ParseError, never a class.
//
// What a parse tree cannot show, and the classifier therefore does not see:
//
//   - A table may be a view, and selecting from it runs whatever functions
//     the view's definition calls; rules and triggers may run more. Tables
//     are names, not objects.
//   - Built-in operator symbols and unqualified built-in function names can
//     be overloaded for user-defined argument types (or, where untrusted
//     users can create objects in a schema on the search path, shadowed by
//     a better-matching overload); attribute notation (t.f) can call a
//     function f(t). Keep untrusted code out of the agents' search_path,
//     and for read-only policies prefer a read-only transaction upstream as
//     a second line.
//   - Unqualified table names are reported in Config.DefaultSchema (or
//     pg_catalog for names beginning with "pg_") even when the session's
//     search_path or a temporary table would resolve them elsewhere; that
//     is why SET search_path is admin.
//   - The allow-list names pg_catalog functions up to PostgreSQL 18. On an
//     older server a listed name the server lacks (casefold, uuidv7...)
//     resolves to whatever function of that name someone created in a
//     schema on the search path.
//
// Decisions beyond the kinds gate documents, each explained where it is
// made: EXPLAIN without ANALYZE is read except for functions of unknown
// volatility, which the planner may evaluate while folding constants;
// PREPARE has its inner statement's kind and DECLARE its query's; two-phase
// commit is admin; REFRESH MATERIALIZED VIEW, txid_current and LOCK are
// write; CREATE TEMP TABLE is ddl; every DISCARD is session; SET
// TRANSACTION is transaction and SET SESSION CHARACTERISTICS session;
// set_config with constant arguments is classified as the SET it performs;
// SECURITY DEFINER functions, functions in languages other than sql and
// plpgsql, ownership, row-level security, policies, databases,
// tablespaces, languages, event triggers, publications and subscriptions
// are admin; expressions in DDL (defaults, checks, index expressions,
// USING) are walked like any other, so an unknown function there is admin.
//
// # Column lineage
//
// Masking by column name is bypassed by lower(email); Analyze instead
// computes, from the same parse tree and a Catalog snapshot of the
// upstream schema (LoadCatalog), which protected columns (Catalog.Protect)
// every output column derives from:
//
//	Catalog (relations, columns, parsed view definitions, functions, search_path)
//	   -> Protect(patterns)  -> *Protected (ids, view-column lineage, SQL-function verdicts, cache)
//	text -> parse -> per statement: lineage_stmt.go, lineage_dml.go
//	     -> queries: lineage_query.go (SELECT, set operations, VALUES, CTEs,
//	        GROUP BY/ORDER BY/window predicates), lineage_from.go (FROM items,
//	        joins, LATERAL, functions in FROM), lineage_scope.go (name
//	        resolution as transformColumnRef does it)
//	     -> expressions: lineage_expr.go, lineage_func.go
//	     -> *Lineage (columns, masked predicates, masked writes), cached per Protected
//
// The rule is taint, not pattern: a value computed in any way from a
// protected value derives from it (functions, operators, casts,
// comparisons, CASE including its conditions, aggregates including their
// ORDER BY and FILTER, window functions including their PARTITION BY and
// ORDER BY, whole-row references, correlated subqueries through every
// outer column they mention). So length(ssn), ssn = '1' and count(DISTINCT
// email) are masked too: a derived value is masked. Clauses that only
// choose rows (WHERE, JOIN, GROUP BY, HAVING, DISTINCT, ORDER BY, LIMIT)
// are reported as MaskedPredicates for policy, not as column lineage.
//
// Fail-closed contract: a column is Unresolved (mask it whole) when what
// it returns cannot be tied to its inputs: an unknown relation, column or
// function; dynamic SQL (query_to_xml, table_to_xml, cursor_to_xml, ts_stat,
// dblink, crosstab...); server files, raw pages, WAL or decoded changes,
// large objects; PL/pgSQL and other non-SQL user functions and user
// aggregates (their bodies may read anything); SQL functions whose body
// reads anything protected; planner statistics samples (pg_stats); a
// search_path change it cannot follow. A statement whose columns cannot be
// listed (FETCH or EXECUTE the resolver does not know, * over an unknown
// relation) is Opaque. Built-in and C-language functions are taken to
// compute from their arguments only.
//
// What lineage cannot see: values stored earlier by a write (reported as
// MaskedWrites when the write is in the analyzed text); error and notice
// messages (SELECT ssn::int FROM customers fails with the value in the
// message); notifications, settings and sequences set from protected
// values; other sessions' statement texts (pg_stat_activity.query); rules
// and triggers; renamed tables and columns until the mask patterns follow.
package sqlpg
