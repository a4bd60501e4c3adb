package sqlpg

import (
	"fmt"
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Config configures a Classifier, typically one per configured upstream
// connection. The zero Config is valid.
type Config struct {
	// DefaultSchema qualifies unqualified table names in Class.Tables;
	// "" means "public". Unqualified names beginning with "pg_" are
	// reported in pg_catalog, which the server searches first.
	DefaultSchema string
	// CacheSize bounds how many classifications are kept, by text;
	// 0 means 1024, a negative value disables the cache.
	CacheSize int
	// Functions optionally supplies upstream pg_proc volatility for
	// functions outside the built-in tables; nil treats them as admin.
	Functions FunctionCatalog
}

const (
	defaultCacheSize = 1024
	// maxCachedText bounds the length of a text the cache keeps, so that
	// CacheSize also bounds memory.
	maxCachedText = 16 << 10
	// maxDepth bounds expression and query nesting; deeper input is admin.
	maxDepth = 4000
)

// Classifier turns PostgreSQL statement text into a *gate.Class. It is safe
// for concurrent use.
type Classifier struct {
	schema  string
	catalog FunctionCatalog
	cache   *lru[result] // nil when disabled
}

// New returns a Classifier for cfg.
func New(cfg Config) *Classifier {
	c := &Classifier{schema: cfg.DefaultSchema, catalog: cfg.Functions}
	if c.schema == "" {
		c.schema = "public"
	}
	size := cfg.CacheSize
	if size == 0 {
		size = defaultCacheSize
	}
	if size > 0 {
		c.cache = newLRU[result](size)
	}
	return c
}

// Classify parses sql (one or more statements) and classifies it.
//
// prepared resolves names of statements prepared in the session (SQL
// PREPARE or a protocol-level Parse) for EXECUTE; it may be nil, and then
// EXECUTE is admin. A text that contains no statement (only whitespace and
// comments) yields a class with no statements, kind read.
//
// The returned class is shared with other callers through the cache and
// must not be modified. Results are cached by text unless they depended on
// prepared or on Config.Functions. The only error is a *ParseError.
func (c *Classifier) Classify(sql string, prepared Resolver) (*gate.Class, error) {
	if c.cache != nil {
		if r, ok := c.cache.get(sql); ok {
			return r.class, r.err
		}
	}
	r, cacheable := c.classify(sql, prepared)
	if cacheable && c.cache != nil && len(sql) <= maxCachedText {
		c.cache.add(sql, r)
	}
	return r.class, r.err
}

// classify does the work of Classify and reports whether the result may be
// cached.
func (c *Classifier) classify(sql string, prepared Resolver) (result, bool) {
	tree, err := parse(sql)
	if err != nil {
		return result{err: err}, true
	}
	w := c.newWalker(prepared)
	for _, raw := range tree.Stmts {
		w.tags = append(w.tags, w.stmt(raw.Stmt))
		w.raise(gate.KindRead, "")
	}
	return result{class: w.class()}, w.cacheable
}

// walker accumulates the class of one text while walking its parse tree.
// It is used by one goroutine for one Classify call.
type walker struct {
	c        *Classifier
	prepared Resolver

	kind     gate.Kind
	tags     []string
	tables   []string
	funcs    []string
	notes    []string
	hasWhere bool

	// cacheable turns false when the result depends on the resolver or
	// the function catalog.
	cacheable bool
	// ctes holds the names of the common table expressions in scope,
	// innermost last (see withClause).
	ctes []string
	// planOnly counts enclosing EXPLAINs without ANALYZE: the statement is
	// planned, not run, so raise ignores what it would do. Only what the
	// planner itself may run (functions of unknown volatility, which it
	// may fold as constants) still counts, through unknown.
	planOnly int
	depth    int
	// schema qualifies unqualified table names (see qualify).
	schema string
}

func (c *Classifier) newWalker(prepared Resolver) *walker {
	return &walker{c: c, prepared: prepared, hasWhere: true, cacheable: true, schema: c.schema}
}

// raise records that the statement being walked is at least of kind k,
// with an optional note for humans. Inside EXPLAIN without ANALYZE it does
// nothing.
func (w *walker) raise(k gate.Kind, note string) {
	if w.planOnly > 0 {
		return
	}
	w.kind = gate.Max(w.kind, k)
	w.note(note)
}

// unknown records something whose effect cannot be bounded: admin, even
// under EXPLAIN.
func (w *walker) unknown(note string) {
	w.kind = gate.KindAdmin
	w.note(note)
}

// unknownNode fails closed on a parse node the walker does not understand
// in a position where it could hide a function call or a statement.
func (w *walker) unknownNode(n *pg.Node) {
	name := strings.TrimPrefix(fmt.Sprintf("%T", n.GetNode()), "*pg_query.Node_")
	w.unknown("contains " + name + ", which the classifier does not understand")
}

func (w *walker) note(note string) {
	if note != "" && !slices.Contains(w.notes, note) {
		w.notes = append(w.notes, note)
	}
}

// noWhere records an UPDATE or DELETE (or TRUNCATE) that is not bounded by
// a WHERE clause. Statements that only get planned do not count.
func (w *walker) noWhere() {
	if w.planOnly == 0 {
		w.hasWhere = false
	}
}

// enter and leave bound recursion depth; enter reports false (and makes
// the statement admin) past maxDepth.
func (w *walker) enter() bool {
	w.depth++
	if w.depth > maxDepth {
		w.unknown("nests too deeply to classify")
		return false
	}
	return true
}

func (w *walker) leave() { w.depth-- }

// class assembles the result.
func (w *walker) class() *gate.Class {
	cl := &gate.Class{
		Kind:       w.kind,
		Statements: w.tags,
		Tables:     sortedUnique(w.tables),
		HasWhere:   w.hasWhere,
		Functions:  sortedUnique(w.funcs),
		Notes:      w.notes,
	}
	if cl.Kind == 0 {
		cl.Kind = gate.KindRead // no statements: PostgreSQL answers EmptyQueryResponse
	}
	if cl.Statements == nil {
		cl.Statements = []string{}
	}
	return cl
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}
