package sqlpg

import (
	"fmt"
	"slices"
	"strings"
)

// Protected is the set of protected columns of one mask configuration,
// resolved against one Catalog, with the lineage of every view column
// computed from them. It is immutable and safe for concurrent use; it also
// holds Analyze's cache for its catalog.
type Protected struct {
	cat *Catalog
	// cols are the protected columns, sorted by String; a taint's ids
	// index this slice.
	cols  []ColumnRef
	byAtt map[attKey]int32
	// masked holds every column that must be masked when read directly:
	// protected ones, and view columns whose lineage is protected or
	// unknown (mapped to the view column itself).
	masked map[attKey]ColumnRef
	// views holds the lineage of every view's and materialized view's
	// columns; sql the verdicts on SQL functions outside pg_catalog
	// (see sqlVerdict).
	views map[uint32][]col
	sql   map[uint32]string
	// building is set while Protect computes views and sql lazily;
	// inProgress marks the ones being computed (cycle protection).
	building   bool
	inProgress map[uint32]bool

	// Warnings lists patterns that matched no column (worth logging:
	// a typo, or a column renamed upstream).
	Warnings []string

	cache *lru[lineageResult]
}

type attKey struct {
	oid uint32
	att int16
}

// lineageCacheSize bounds how many analyses a Protected caches.
const lineageCacheSize = 1024

// Protect resolves patterns against the catalog and computes the lineage
// of every view column. Patterns are "table.column" (table resolved
// through the catalog's search_path, as the server resolves an
// unqualified name), "schema.table.column", "*.column" (that column of
// every relation outside pg_catalog, information_schema and pg_toast) and
// "schema.*.column". Parts are SQL identifiers: folded to lower case
// unless double-quoted ("Email"). A protected column of a table is
// protected in its inheritance parents and children (partitions) too.
//
// The error names the first malformed pattern; a pattern that matches
// nothing is not an error but a Warning.
func (c *Catalog) Protect(patterns []string) (*Protected, error) {
	p := &Protected{
		cat:        c,
		byAtt:      map[attKey]int32{},
		masked:     map[attKey]ColumnRef{},
		views:      map[uint32][]col{},
		sql:        map[uint32]string{},
		inProgress: map[uint32]bool{},
		cache:      newLRU[lineageResult](lineageCacheSize),
	}
	found := map[attKey]ColumnRef{}
	for _, pat := range patterns {
		parts, err := splitPattern(pat)
		if err != nil {
			return nil, err
		}
		var schema, table, column string
		if len(parts) == 2 {
			table, column = parts[0], parts[1]
		} else {
			schema, table, column = parts[0], parts[1], parts[2]
		}
		n := 0
		for _, rel := range c.patternRels(schema, table) {
			if cl, ok := rel.column(column); ok {
				found[attKey{rel.OID, cl.AttNum}] = ColumnRef{Schema: rel.Schema, Table: rel.Name, Column: cl.Name, TableOID: rel.OID, AttNum: cl.AttNum}
				n++
			}
		}
		if n == 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("mask pattern %q matches no column", pat))
		}
	}
	c.inheritProtection(found)
	for _, ref := range found {
		p.cols = append(p.cols, ref)
	}
	slices.SortFunc(p.cols, func(a, b ColumnRef) int { return strings.Compare(a.String(), b.String()) })
	for i, ref := range p.cols {
		k := attKey{ref.TableOID, ref.AttNum}
		p.byAtt[k] = int32(i)
		p.masked[k] = ref
	}

	p.building = true
	for _, rel := range c.rels {
		if rel.isView() {
			p.relCols(rel, nil)
		}
	}
	for _, fs := range c.funcs {
		for _, f := range fs {
			if f.lang == "sql" && f.schema != "pg_catalog" {
				p.sqlVerdict(f)
			}
		}
	}
	p.building = false
	for _, rel := range c.rels {
		if !rel.isView() {
			continue
		}
		for i, cl := range p.views[rel.OID] {
			if i < len(rel.Columns) && !cl.v.clean() {
				k := attKey{rel.OID, rel.Columns[i].AttNum}
				p.masked[k] = ColumnRef{Schema: rel.Schema, Table: rel.Name, Column: rel.Columns[i].Name, TableOID: rel.OID, AttNum: k.att}
			}
		}
	}
	return p, nil
}

// patternRels lists the relations a pattern's schema and table select.
func (c *Catalog) patternRels(schema, table string) []*Relation {
	if table != "*" {
		if r := c.lookupRel(schema, table, c.searchPath); r != nil {
			return []*Relation{r}
		}
		return nil
	}
	var out []*Relation
	for _, r := range c.rels {
		if schema == "" && (r.Schema == "pg_catalog" || r.Schema == "information_schema" || strings.HasPrefix(r.Schema, "pg_toast")) {
			continue
		}
		if schema == "" || r.Schema == schema {
			out = append(out, r)
		}
	}
	return out
}

// inheritProtection extends found to the same-named columns of the
// inheritance ancestors and descendants of each protected column's
// relation: reading a parent returns its children's rows, and a child
// holds rows the parent returns.
func (c *Catalog) inheritProtection(found map[attKey]ColumnRef) {
	var queue []ColumnRef
	for _, ref := range found {
		queue = append(queue, ref)
	}
	for len(queue) > 0 {
		ref := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, edges := range []map[uint32][]uint32{c.parents, c.children} {
			for _, oid := range edges[ref.TableOID] {
				rel := c.byOID[oid]
				if rel == nil {
					continue
				}
				cl, ok := rel.column(ref.Column)
				if !ok {
					continue
				}
				k := attKey{oid, cl.AttNum}
				if _, seen := found[k]; seen {
					continue
				}
				r := ColumnRef{Schema: rel.Schema, Table: rel.Name, Column: cl.Name, TableOID: oid, AttNum: cl.AttNum}
				found[k] = r
				queue = append(queue, r)
			}
		}
	}
}

// splitPattern splits a mask pattern into 2 or 3 identifiers.
func splitPattern(pat string) ([]string, error) {
	var parts []string
	s := strings.TrimSpace(pat)
	for {
		var part string
		if strings.HasPrefix(s, `"`) {
			end := -1
			for i := 1; i < len(s); i++ {
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						i++
						continue
					}
					end = i
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("mask pattern %q: unterminated quoted identifier", pat)
			}
			part = strings.ReplaceAll(s[1:end], `""`, `"`)
			s = s[end+1:]
		} else {
			i := strings.IndexByte(s, '.')
			if i < 0 {
				i = len(s)
			}
			part = strings.ToLower(strings.TrimSpace(s[:i]))
			if strings.ContainsAny(part, "\" \t") {
				return nil, fmt.Errorf("mask pattern %q: malformed identifier %q", pat, part)
			}
			s = s[i:]
		}
		if part == "" {
			return nil, fmt.Errorf("mask pattern %q: empty name (want table.column, schema.table.column or *.column)", pat)
		}
		parts = append(parts, part)
		if s == "" {
			break
		}
		if s[0] != '.' {
			return nil, fmt.Errorf("mask pattern %q: expected a dot after %q", pat, part)
		}
		s = s[1:]
	}
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("mask pattern %q: want table.column, schema.table.column or *.column", pat)
	}
	if parts[len(parts)-1] == "*" || len(parts) == 3 && parts[0] == "*" {
		return nil, fmt.Errorf("mask pattern %q: * stands only for a table", pat)
	}
	return parts, nil
}

// ByOID reports whether the column a RowDescription field points at (its
// table OID and attribute number) must be masked when read directly: a
// protected column, or a view or materialized view column derived from
// one or of unknown lineage (the ColumnRef is then the view's column).
func (p *Protected) ByOID(tableOID uint32, attnum int16) (ColumnRef, bool) {
	if p == nil {
		return ColumnRef{}, false
	}
	r, ok := p.masked[attKey{tableOID, attnum}]
	return r, ok
}

// Columns lists the protected columns, sorted.
func (p *Protected) Columns() []ColumnRef { return slices.Clone(p.cols) }

// Catalog is the catalog p was resolved against.
func (p *Protected) Catalog() *Catalog { return p.cat }

// relCols is the lineage of a relation's columns. a is the analyzer
// asking (nil from Protect itself).
func (p *Protected) relCols(rel *Relation, a *analyzer) []col {
	if rel.isView() {
		if cols, ok := p.views[rel.OID]; ok {
			return cols
		}
		if !p.building {
			return unresolvedCols(rel, "view "+rel.qualifiedName()+" was not analyzed")
		}
		return p.viewCols(rel)
	}
	cols := make([]col, len(rel.Columns))
	for i, c := range rel.Columns {
		cols[i] = col{name: c.Name}
		if id, ok := p.byAtt[attKey{rel.OID, c.AttNum}]; ok {
			cols[i].v.src = []int32{id}
		} else if rel.Schema == "pg_catalog" && isStatisticsSample(rel.Name, c.Name) {
			cols[i].v.why = "pg_catalog." + rel.Name + "." + c.Name + " holds sampled column values"
		}
	}
	return cols
}

// isStatisticsSample reports the system catalog columns that hold copies
// of table values (planner statistics samples); pg_stats and
// pg_stats_ext show them.
func isStatisticsSample(table, column string) bool {
	switch table {
	case "pg_statistic":
		return strings.HasPrefix(column, "stavalues")
	case "pg_statistic_ext_data":
		return column == "stxdmcv" || column == "stxdexpr"
	}
	return false
}

func unresolvedCols(rel *Relation, why string) []col {
	cols := make([]col, len(rel.Columns))
	for i, c := range rel.Columns {
		cols[i] = col{name: c.Name, v: val{taint: taint{why: why}}}
	}
	return cols
}

// viewCols computes a view's column lineage from its definition (during
// Protect). A view column is also protected when a pattern named it.
func (p *Protected) viewCols(rel *Relation) []col {
	if p.inProgress[rel.OID] {
		return unresolvedCols(rel, "view "+rel.qualifiedName()+" is defined in terms of itself")
	}
	var cols []col
	if rel.viewDef == nil {
		cols = unresolvedCols(rel, "view "+rel.qualifiedName()+": "+rel.viewErr)
	} else {
		p.inProgress[rel.OID] = true
		a := newAnalyzer(p.cat, p, nil)
		// View definitions were printed with an empty search_path.
		a.path = []string{"pg_catalog"}
		q := a.selectStmt(rel.viewDef, nil)
		delete(p.inProgress, rel.OID)
		cols = make([]col, len(rel.Columns))
		for i, c := range rel.Columns {
			cols[i] = col{name: c.Name}
			switch {
			case q.opaque != "":
				cols[i].v.why = "view " + rel.qualifiedName() + ": " + q.opaque
			case i < len(q.cols):
				cols[i].v = q.cols[i].v
				cols[i].v.taint = union(cols[i].v.taint, q.corr)
			default:
				cols[i].v.why = "view " + rel.qualifiedName() + " has more columns than its definition"
			}
		}
	}
	for i, c := range rel.Columns {
		if id, ok := p.byAtt[attKey{rel.OID, c.AttNum}]; ok {
			cols[i].v = addTaint(cols[i].v, taint{src: []int32{id}})
		}
	}
	p.views[rel.OID] = cols
	return cols
}

// sqlVerdict decides whether a SQL function outside pg_catalog computes
// its result from its arguments only: its body, analyzed like any
// statement (parameters by name or number are the caller's values), must
// return nothing protected or unresolved and use nothing protected in a
// predicate or a write. Functions calling each other in a cycle are
// treated as unknown. "" means it does; otherwise why not.
func (p *Protected) sqlVerdict(f *function) string {
	if v, ok := p.sql[f.oid]; ok {
		return v
	}
	display := quoteIdent(f.schema) + "." + quoteIdent(f.name)
	if !p.building {
		return "calls " + display + ", which was not analyzed"
	}
	if p.inProgress[f.oid] {
		return "calls " + display + ", which calls itself"
	}
	p.inProgress[f.oid] = true
	verdict := p.analyzeBody(f, display)
	delete(p.inProgress, f.oid)
	p.sql[f.oid] = verdict
	return verdict
}

func (p *Protected) analyzeBody(f *function, display string) string {
	body := strings.TrimSpace(f.body)
	switch {
	case strings.HasPrefix(body, "RETURN "):
		body = "SELECT " + body[len("RETURN "):]
	case strings.HasPrefix(body, "BEGIN ATOMIC"):
		body = strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(body, "BEGIN ATOMIC")), "END")
	}
	tree, err := parse(body)
	if err != nil {
		return "calls " + display + ", whose body cannot be parsed"
	}
	a := newAnalyzer(p.cat, p, nil)
	a.paramNames = f.argNames
	for _, raw := range tree.Stmts {
		var sl StatementLineage
		a.stmt(raw.Stmt, &sl)
		if sl.Opaque != "" {
			return "calls " + display + ", whose body " + sl.Opaque
		}
		for _, c := range sl.Columns {
			if c.Masked() {
				return "calls " + display + ", whose body reads protected columns or calls what may"
			}
		}
	}
	if len(a.preds.ids) > 0 || a.preds.unresolved || len(a.writes.ids) > 0 || a.writes.unresolved {
		return "calls " + display + ", whose body uses protected columns"
	}
	return ""
}
