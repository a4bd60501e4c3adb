package sqlpg

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Catalog is an immutable snapshot of an upstream database's schema, for
// column lineage: its relations (tables, partitioned tables, views,
// materialized views, foreign tables, sequences) with their OIDs and
// columns, the parsed definitions of its views, its functions (enough to
// tell a built-in from a user function and to know what a set-returning
// function's columns are), inheritance, and the search_path of the role
// that loaded it. Load one with LoadCatalog; a Catalog is safe for
// concurrent use and never changes: reload to see schema changes.
type Catalog struct {
	version    string
	user       string
	searchPath []string
	rels       []*Relation // by OID
	byOID      map[uint32]*Relation
	byName     map[string]*Relation // schema + "\x00" + name
	funcs      map[string][]*function
	// userTypes holds schema + "\x00" + name of the types defined
	// outside pg_catalog and information_schema.
	userTypes map[string]bool
	// parents and children map a relation OID to its inheritance parents
	// and children (partitions included).
	parents, children map[uint32][]uint32
}

// Relation is one relation of a Catalog. Treat it as read-only.
type Relation struct {
	OID    uint32
	Schema string
	Name   string
	// Kind is pg_class.relkind: 'r' table, 'p' partitioned table, 'v'
	// view, 'm' materialized view, 'f' foreign table, 'S' sequence.
	Kind    byte
	Columns []Column // user columns in attnum order, dropped ones left out

	// viewDef is the parsed query of a view or materialized view; nil
	// with viewErr set when it could not be read or parsed.
	viewDef *pg.SelectStmt
	viewErr string
}

// Column is one column of a Relation.
type Column struct {
	Name    string
	AttNum  int16
	TypeOID uint32
}

// function is what lineage needs to know about one pg_proc entry.
type function struct {
	oid              uint32
	schema, name     string
	lang             string // pg_language.lanname: internal, c, sql, plpgsql...
	kind             byte   // prokind: f, p, a, w
	nargs, ndefaults int
	variadic         bool
	// outCols names the columns of a function returning a composite
	// type or having OUT parameters; nil for a scalar result. record
	// marks a bare record result, which needs a column definition list.
	outCols []string
	record  bool
	// body is the SQL text of a LANGUAGE sql function outside
	// pg_catalog, argNames its parameters' names.
	body     string
	argNames []string
}

// catalogData is what LoadCatalog reads, before indexing.
type catalogData struct {
	user       string
	searchPath []string
	rels       []*Relation
	viewSQL    map[uint32]string
	funcs      []*function
	inherits   [][2]uint32 // child, parent
	userTypes  []string
}

// newCatalog indexes d and parses the view definitions.
func newCatalog(d catalogData) *Catalog {
	c := &Catalog{
		user:       d.user,
		searchPath: d.searchPath,
		rels:       d.rels,
		byOID:      make(map[uint32]*Relation, len(d.rels)),
		byName:     make(map[string]*Relation, len(d.rels)),
		funcs:      make(map[string][]*function, len(d.funcs)),
		parents:    map[uint32][]uint32{},
		userTypes:  map[string]bool{},
		children:   map[uint32][]uint32{},
	}
	slices.SortFunc(c.rels, func(a, b *Relation) int { return int64Cmp(int64(a.OID), int64(b.OID)) })
	h := sha256.New()
	put := func(parts ...string) {
		for _, p := range parts {
			var n [4]byte
			binary.LittleEndian.PutUint32(n[:], uint32(len(p)))
			h.Write(n[:])
			h.Write([]byte(p))
		}
	}
	put(append([]string{"path", d.user}, d.searchPath...)...)
	for _, r := range c.rels {
		c.byOID[r.OID] = r
		c.byName[r.Schema+"\x00"+r.Name] = r
		put("rel", u32(r.OID), r.Schema, r.Name, string(r.Kind))
		for _, col := range r.Columns {
			put(col.Name, u32(uint32(col.AttNum)), u32(col.TypeOID))
		}
		if sql, ok := d.viewSQL[r.OID]; ok {
			put("def", sql)
			r.viewDef, r.viewErr = parseViewDef(sql)
		} else if r.Kind == 'v' || r.Kind == 'm' {
			r.viewErr = "its definition could not be read"
		}
	}
	for _, f := range d.funcs {
		k := f.schema + "\x00" + f.name
		c.funcs[k] = append(c.funcs[k], f)
		put("fn", u32(f.oid), f.schema, f.name, f.lang, string(f.kind), u32(uint32(f.nargs)), strings.Join(f.outCols, ","), f.body)
	}
	for _, in := range d.inherits {
		c.parents[in[0]] = append(c.parents[in[0]], in[1])
		c.children[in[1]] = append(c.children[in[1]], in[0])
		put("inh", u32(in[0]), u32(in[1]))
	}
	for _, t := range d.userTypes {
		c.userTypes[t] = true
		put("type", t)
	}
	c.version = hex.EncodeToString(h.Sum(nil)[:12])
	return c
}

func u32(v uint32) string { return string(binary.LittleEndian.AppendUint32(nil, v)) }

func int64Cmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseViewDef parses the text pg_get_viewdef printed for a view.
func parseViewDef(sql string) (*pg.SelectStmt, string) {
	tree, err := parse(sql)
	if err != nil {
		return nil, err.Error()
	}
	if len(tree.Stmts) != 1 {
		return nil, "its definition is not one query"
	}
	s := tree.Stmts[0].Stmt.GetSelectStmt()
	if s == nil {
		return nil, "its definition is not a SELECT"
	}
	return s, ""
}

// Version identifies the snapshot's content: two catalogs with the same
// Version hold the same relations, columns, view definitions, functions
// and search_path.
func (c *Catalog) Version() string { return c.version }

// SearchPath is the effective search_path of the role that loaded the
// catalog (current_schemas(true)): the schemas unqualified names resolve
// in, in order, pg_catalog included.
func (c *Catalog) SearchPath() []string { return slices.Clone(c.searchPath) }

// RelationByOID returns the relation with the given OID.
func (c *Catalog) RelationByOID(oid uint32) (*Relation, bool) {
	r, ok := c.byOID[oid]
	return r, ok
}

// Relation returns the relation schema.name; an empty schema resolves
// name through the search path as the server would.
func (c *Catalog) Relation(schema, name string) (*Relation, bool) {
	r := c.lookupRel(schema, name, c.searchPath)
	return r, r != nil
}

// lookupRel resolves a relation name: in schema when given, otherwise in
// the first schema of path holding a relation of that name.
func (c *Catalog) lookupRel(schema, name string, path []string) *Relation {
	if c == nil {
		return nil
	}
	if schema != "" {
		return c.byName[schema+"\x00"+name]
	}
	for _, s := range path {
		if r := c.byName[s+"\x00"+name]; r != nil {
			return r
		}
	}
	return nil
}

// lookupFuncs returns the functions a call of schema.name may resolve to:
// those of that schema, or for an unqualified name those of every schema
// on path (the server picks among them by argument types, which lineage
// does not know, so callers must consider them all).
func (c *Catalog) lookupFuncs(schema, name string, path []string) []*function {
	if c == nil {
		return nil
	}
	if schema != "" {
		return c.funcs[schema+"\x00"+name]
	}
	var out []*function
	for _, s := range path {
		out = append(out, c.funcs[s+"\x00"+name]...)
	}
	return out
}

// isUserType reports whether a type name (schema "" for an unqualified
// name, resolved through path) may be a type defined outside the system
// schemas. Without a catalog every type outside the built-in list may be.
func (c *Catalog) isUserType(schema, name string, path []string) bool {
	if c == nil {
		return !isCatalogSchema(schema) || !has(builtinTypes, name)
	}
	switch schema {
	case "pg_catalog", "information_schema":
		return false
	case "":
		for _, s := range path {
			if c.userTypes[s+"\x00"+name] {
				return true
			}
		}
		return false
	}
	return true
}

// column returns the column of r named name.
func (r *Relation) column(name string) (Column, bool) {
	for _, c := range r.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// qualifiedName is schema.name, each part quoted as quote_ident would.
func (r *Relation) qualifiedName() string { return quoteIdent(r.Schema) + "." + quoteIdent(r.Name) }

// isView reports whether r's columns derive from a stored query.
func (r *Relation) isView() bool { return r.Kind == 'v' || r.Kind == 'm' }
