package sqlpg

import (
	"slices"
	"strings"
)

// ColumnRef names a column as stored: what a RowDescription field's table
// OID and attribute number point at.
type ColumnRef struct {
	Schema, Table, Column string
	TableOID              uint32
	AttNum                int16
}

// String renders "schema.table.column", each part quoted as quote_ident
// would when it is not a plain lower-case identifier.
func (r ColumnRef) String() string {
	return quoteIdent(r.Schema) + "." + quoteIdent(r.Table) + "." + quoteIdent(r.Column)
}

// LineageResolver returns the lineage of a statement prepared earlier in the
// session (SQL PREPARE or a protocol-level Parse: the StatementLineage
// Analyze returned for it) or of a cursor declared earlier (the DECLARE's
// StatementLineage), by name; false when the session has none. Analyze
// calls it for EXECUTE and FETCH; it must not modify what it returns.
type LineageResolver func(name string) (*StatementLineage, bool)

// Lineage is the analysis of one text: one StatementLineage per statement,
// in order. A Lineage may be shared through the cache: treat it as
// immutable.
type Lineage struct {
	Statements []StatementLineage
	// MaskedPredicates lists the protected columns ("schema.table.column",
	// sorted, without duplicates) that the text uses where a value is not
	// returned but decides which rows come back, in which order, or how
	// many: WHERE, JOIN ON/USING, GROUP BY, HAVING, DISTINCT [ON], ORDER
	// BY, window PARTITION BY/ORDER BY, LIMIT/OFFSET, of any (sub)query
	// (a query can learn a masked value bit by bit from them: WHERE ssn
	// LIKE '1%'). UnresolvedPredicate stands for an expression in such a
	// place whose lineage cannot be determined.
	MaskedPredicates []string
	// MaskedWrites lists the protected columns (same form) whose values,
	// or values derived from them, the text stores or sends somewhere a
	// later read would not be masked: INSERT, UPDATE and MERGE values,
	// CREATE TABLE AS and SELECT INTO, COPY TO a server file or program,
	// and arguments of functions with side effects (set_config,
	// pg_notify, setval, advisory locks, large objects...).
	MaskedWrites []string
}

// UnresolvedPredicate is the MaskedPredicates (and MaskedWrites) entry for
// an expression whose lineage cannot be determined.
const UnresolvedPredicate = "(unresolved)"

// StatementLineage is the lineage of one statement.
type StatementLineage struct {
	// Tag is the statement's command tag as Classify reports it.
	Tag string
	// Columns has one entry per output column, in order (what the
	// RowDescription will list); nil when the statement returns no rows.
	// For DECLARE and PREPARE they are the columns that FETCH and EXECUTE
	// will return, though the statement itself returns none.
	Columns []OutputColumn
	// Opaque, when not empty, says why the statement's output columns
	// cannot be listed (FETCH from a cursor or EXECUTE of a statement the
	// resolver does not know, a procedure's output parameters); Columns
	// is then nil and every column the server returns must be masked.
	// The caller should also mask every column whole when the number of
	// fields the server describes differs from len(Columns).
	Opaque string
	// DeclaresCursor is the cursor a DECLARE declares: FETCH from it
	// later returns Columns.
	DeclaresCursor string
	// Prepares is the statement a PREPARE prepares: EXECUTE of it later
	// returns Columns.
	Prepares string
	// Copy is set for COPY ... TO STDOUT: Columns are the copied
	// columns, in order, sent as CopyData rather than DataRows.
	Copy bool

	// preds and writes carry the masked predicates and writes of a
	// DECLARE or PREPARE, which a FETCH or EXECUTE of it reports again.
	preds, writes []string
}

// OutputColumn is the lineage of one output column.
type OutputColumn struct {
	// Name is the column name the server will report, as far as the
	// analysis can tell (for messages only).
	Name string
	// Sources lists the protected columns the value derives from, by any
	// expression (a function, an operator, a cast, an aggregate, a CASE
	// that tests it, a whole-row reference...), sorted by String. The
	// column must be masked when Sources is not empty.
	Sources []ColumnRef
	// Unresolved is set when the column's lineage cannot be determined
	// (dynamic SQL, a function whose body may read protected columns, an
	// unknown relation): mask it whole, or deny, as configured.
	Unresolved bool
	// Why explains Unresolved, or how a masked column derives from its
	// sources ("whole-row reference to public.customers"), for audit and
	// debugging.
	Why string
}

// Masked reports whether the column must be masked: it derives from a
// protected column or its lineage is unknown.
func (c OutputColumn) Masked() bool { return c.Unresolved || len(c.Sources) > 0 }

// Analyze computes the lineage of every output column of every statement
// of sql, against cat and the protected columns prot (made by
// cat.Protect). prepared resolves EXECUTE and FETCH of statements and
// cursors from earlier texts of the session; it may be nil (statements
// and cursors declared earlier in the same text are resolved without it).
//
// With a nil prot nothing is protected: the result only describes the
// columns. A prot made from another catalog makes every column
// unresolved. A nil cat knows no relation: with a prot, every column
// read from a relation is unresolved.
//
// Analyze is deterministic in (sql, cat.Version(), prot) and, when prot is
// not nil, caches results by text in prot (results that consulted prepared
// are not cached). The returned Lineage is shared: do not modify it. The
// only error is a *ParseError.
func Analyze(sql string, cat *Catalog, prot *Protected, prepared LineageResolver) (*Lineage, error) {
	cacheable := prot != nil && prot.cat == cat && prot.cache != nil && len(sql) <= maxCachedText
	if cacheable {
		if r, ok := prot.cache.get(sql); ok {
			return r.lin, r.err
		}
	}
	tree, err := parse(sql)
	if err != nil {
		if cacheable {
			prot.cache.add(sql, lineageResult{err: err})
		}
		return nil, err
	}
	a := newAnalyzer(cat, prot, prepared)
	lin := &Lineage{Statements: make([]StatementLineage, 0, len(tree.Stmts))}
	for _, raw := range tree.Stmts {
		lin.Statements = append(lin.Statements, a.topStmt(raw.Stmt))
	}
	lin.MaskedPredicates = a.preds.strings(a)
	lin.MaskedWrites = a.writes.strings(a)
	if cacheable && !a.usedResolver {
		prot.cache.add(sql, lineageResult{lin: lin})
	}
	return lin, nil
}

// lineageResult is one cached analysis.
type lineageResult struct {
	lin *Lineage
	err error
}

// idSet accumulates protected column ids and whether anything unresolved
// was seen, for MaskedPredicates and MaskedWrites.
type idSet struct {
	ids        []int32
	unresolved bool
	extra      []string // names carried over from a resolved DECLARE or PREPARE
}

func (s *idSet) add(t taint) {
	s.ids = mergeIDs(s.ids, t.src)
	if t.why != "" {
		s.unresolved = true
	}
}

// strings renders the set sorted, UnresolvedPredicate first; nil when empty.
func (s *idSet) strings(a *analyzer) []string {
	var out []string
	for _, id := range s.ids {
		out = append(out, a.prot.cols[id].String())
	}
	out = append(out, s.extra...)
	if s.unresolved {
		out = append(out, UnresolvedPredicate)
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// outputColumns renders analyzed columns.
func (a *analyzer) outputColumns(cols []col) []OutputColumn {
	out := make([]OutputColumn, len(cols))
	for i, c := range cols {
		oc := OutputColumn{Name: c.name}
		t := c.v.taint
		if a.prot != nil {
			for _, id := range t.src {
				oc.Sources = append(oc.Sources, a.prot.cols[id])
			}
		}
		switch {
		case t.why != "":
			oc.Unresolved = true
			oc.Why = t.why
		case len(oc.Sources) > 0:
			oc.Why = t.note
			if oc.Why == "" {
				names := make([]string, len(oc.Sources))
				for j, s := range oc.Sources {
					names[j] = s.String()
				}
				oc.Why = "derives from " + strings.Join(names, ", ")
			}
		}
		out[i] = oc
	}
	return out
}
