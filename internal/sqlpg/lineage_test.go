package sqlpg

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestMaskedPredicates: protected columns that decide which rows come
// back, in which order or how many, in any clause of any (sub)query,
// directly or through expressions, are listed; columns only returned are
// not.
func TestMaskedPredicates(t *testing.T) {
	_, cat, prot := lineageFixture(t)
	const ssn, email, phone, iban, meta = "public.customers.ssn", "public.customers.email", "public.customers.phone", "billing.accounts.iban", "public.customers.meta"
	cases := []struct {
		sql  string
		want []string
	}{
		{"SELECT email FROM customers", nil},
		{"SELECT id FROM customers WHERE ssn LIKE '1%'", []string{ssn}},
		{"SELECT id FROM customers WHERE lower(reverse(email)) > 'm'", []string{email}},
		{"SELECT id FROM customers WHERE id = 1 AND (phone IS NULL OR length(ssn) = 11)", []string{phone, ssn}},
		{"SELECT c.id FROM customers c JOIN billing.accounts a ON a.iban = c.notes", []string{iban, "public.customers.notes"}},
		{"SELECT 1 FROM customers JOIN customers c2 USING (email)", []string{email}},
		{"SELECT name FROM customers ORDER BY substr(ssn, 5)", []string{ssn}},
		{"SELECT email FROM customers ORDER BY 1", []string{email}},
		{"SELECT email AS e FROM customers ORDER BY e DESC", []string{email}},
		{"SELECT count(*) FROM customers GROUP BY left(phone, 3)", []string{phone}},
		{"SELECT count(*) FROM customers GROUP BY 1 HAVING max(ssn) > '5'", []string{ssn}},
		{"SELECT DISTINCT ON (meta->>'tier') id FROM customers", []string{meta}},
		{"SELECT DISTINCT email FROM customers", []string{email}},
		{"SELECT row_number() OVER (PARTITION BY email ORDER BY id) FROM customers", []string{email}},
		{"SELECT sum(id) OVER w FROM customers WINDOW w AS (ORDER BY ssn)", []string{ssn}},
		{"SELECT id FROM customers LIMIT (SELECT length(ssn) FROM customers LIMIT 1)", []string{ssn}},
		{"SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE email LIKE 'a%')", []string{email}},
		{"SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id AND c.ssn < '5')", []string{ssn}},
		{"SELECT (SELECT count(*) FROM customers WHERE ssn LIKE '9%')", []string{ssn}},
		{"SELECT * FROM (SELECT id FROM customers WHERE phone ~ '^\\+1') s", []string{phone}},
		{"WITH x AS (SELECT id FROM customers WHERE email ILIKE '%bob%') SELECT * FROM x", []string{email}},
		{"SELECT id FROM customers WHERE id = 1 UNION SELECT id FROM customers WHERE ssn = '1'", []string{ssn}},
		{"SELECT id FROM customer_contacts WHERE email_lc LIKE 'a%'", []string{email}},
		{"SELECT id FROM customers c WHERE c::text LIKE '%555%'", []string{"public.customers.card_number", email, meta, "public.customers.notes", phone, ssn}},
		{"UPDATE orders SET status = 'x' WHERE customer_id IN (SELECT id FROM customers WHERE ssn LIKE '1%')", []string{ssn}},
		{"DELETE FROM orders USING customers c WHERE c.id = orders.customer_id AND c.email = 'x'", []string{email}},
		{"SELECT id FROM customers WHERE app.secret(id) LIKE '1%'", []string{UnresolvedPredicate}},
		{"SELECT id FROM nowhere WHERE x = 1", []string{UnresolvedPredicate}},
		{"EXPLAIN ANALYZE SELECT id FROM customers WHERE ssn = '123-45-6789'", []string{ssn}},
		{"DECLARE k CURSOR FOR SELECT id FROM customers WHERE ssn > '5'; FETCH ALL FROM k", []string{ssn}},
	}
	for _, tc := range cases {
		lin, err := Analyze(tc.sql, cat, prot, nil)
		if err != nil {
			t.Errorf("%q: %v", tc.sql, err)
			continue
		}
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(lin.MaskedPredicates, want) {
			t.Errorf("%q: predicates %q, want %q", tc.sql, lin.MaskedPredicates, want)
		}
	}
}

// TestLineageResolver: EXECUTE and FETCH of statements and cursors from
// earlier texts go through the resolver, carry their predicates, are not
// cached, and are opaque when the resolver does not know them.
func TestLineageResolver(t *testing.T) {
	_, cat, prot := lineageFixture(t)
	prep, err := Analyze("PREPARE p(int) AS SELECT id, ssn FROM customers WHERE email = 'x' AND id = $1", cat, prot, nil)
	if err != nil {
		t.Fatal(err)
	}
	decl, err := Analyze("DECLARE k CURSOR FOR SELECT phone FROM customers", cat, prot, nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	resolve := func(name string) (*StatementLineage, bool) {
		calls++
		switch name {
		case "p":
			return &prep.Statements[0], true
		case "k":
			return &decl.Statements[0], true
		}
		return nil, false
	}
	for range 2 {
		lin, err := Analyze("EXECUTE p(1); FETCH 5 FROM k; EXECUTE other; MOVE NEXT IN k", cat, prot, resolve)
		if err != nil {
			t.Fatal(err)
		}
		got := renderLineage(lin, nil)
		want := []string{"EXECUTE: - | public.customers.ssn ; FETCH: public.customers.phone ; EXECUTE: opaque ; MOVE: none", "public.customers.email", "-"}
		if !slices.Equal(got, want) {
			t.Errorf("got %q\nwant %q", got, want)
		}
	}
	if calls != 6 {
		t.Errorf("resolver called %d times, want 6 (results using it are not cached)", calls)
	}
	// EXECUTE's parameters flow into the prepared statement's columns.
	lin, _ := Analyze("EXECUTE p(app.secret(1)::int)", cat, prot, resolve)
	if c := lin.Statements[0].Columns[0]; !c.Unresolved {
		t.Errorf("parameter of unknown lineage not propagated: %+v", c)
	}
}

// TestProtect checks pattern resolution: search_path, schemas, quoting,
// wildcards, inheritance, views (through lineage) and the errors and
// warnings.
func TestProtect(t *testing.T) {
	_, cat, _ := lineageFixture(t)
	names := func(p *Protected) string {
		var s []string
		for _, c := range p.Columns() {
			s = append(s, c.String())
		}
		return strings.Join(s, " ")
	}
	cases := []struct{ patterns, want string }{
		{"customers.email", "public.customers.email"},
		{"CUSTOMERS.EMAIL", "public.customers.email"},
		{"billing.customers.email", "billing.customers.email"},
		{"accounts.iban", "billing.accounts.iban"}, // through the search_path
		{"*.email", "billing.customers.email public.customers.email"},
		{"billing.*.card_number", "billing.customers.card_number"},
		{`"Contacts"."Email"`, `public."Contacts"."Email"`},
		{"events_login.customer_email", "public.events.customer_email public.events_login.customer_email"},
		{"customer_contacts.email_lc", "public.customer_contacts.email_lc"},
	}
	for _, tc := range cases {
		p, err := cat.Protect(strings.Fields(tc.patterns))
		if err != nil {
			t.Fatalf("%s: %v", tc.patterns, err)
		}
		if got := names(p); got != tc.want || len(p.Warnings) > 0 {
			t.Errorf("%s: %q (warnings %q), want %q", tc.patterns, got, p.Warnings, tc.want)
		}
	}
	p, err := cat.Protect([]string{"customers.nope", "nosuch.email", "Contacts.Email"})
	if err != nil || len(p.Warnings) != 3 || len(p.Columns()) != 0 {
		t.Errorf("unmatched patterns: %v, warnings %q", err, p.Warnings)
	}
	for _, bad := range []string{"email", "a.b.c.d", "customers.", `"x.email`, "customers.*", "*.*.email", "a b.c"} {
		if _, err := cat.Protect([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v", bad, err)
		}
	}

	p, _ = cat.Protect([]string{"customers.email"})
	cust, _ := cat.Relation("", "customers")
	email, _ := cust.column("email")
	if ref, ok := p.ByOID(cust.OID, email.AttNum); !ok || ref.String() != "public.customers.email" {
		t.Errorf("ByOID(customers.email) = %v, %v", ref, ok)
	}
	if _, ok := p.ByOID(cust.OID, 1); ok {
		t.Error("ByOID(customers.id) reports a protected column")
	}
	// View columns derived from a protected column are masked when read
	// directly; others are not.
	vip, _ := cat.Relation("public", "vip_contacts")
	for _, c := range vip.Columns {
		_, ok := p.ByOID(vip.OID, c.AttNum)
		if ok != (c.Name == "contact") {
			t.Errorf("ByOID(vip_contacts.%s) = %v", c.Name, ok)
		}
	}
	sneaky, _ := cat.Relation("", "sneaky")
	if _, ok := p.ByOID(sneaky.OID, 1); !ok {
		t.Error("ByOID(sneaky.x): a view column of unknown lineage must be masked")
	}
}

// TestCatalogLoad checks what LoadCatalog reads: the search_path, relation
// kinds, columns, view definitions (system views included, and all of
// them analyzable without unresolved columns apart from the statistics
// samples), and a Version that is stable for the same content and changes
// with it.
func TestCatalogLoad(t *testing.T) {
	dsn, cat, prot := lineageFixture(t)
	if got := cat.SearchPath(); !slices.Equal(got, []string{"pg_catalog", "public", "billing"}) {
		t.Errorf("search path %q", got)
	}
	for name, kind := range map[string]byte{"customers": 'r', "events": 'p', "customer_contacts": 'v', "customer_stats": 'm', "accounts": 'r'} {
		r, ok := cat.Relation("", name)
		if !ok || r.Kind != kind {
			t.Errorf("%s: %v %q", name, ok, r.Kind)
		}
	}
	if r, _ := cat.Relation("public", "customers"); len(r.Columns) != 9 || r.Columns[2].Name != "email" || r.Columns[2].AttNum != 3 {
		t.Errorf("customers columns %+v", r.Columns)
	}
	views := 0
	for _, r := range cat.rels {
		if !r.isView() {
			continue
		}
		views++
		if r.viewDef == nil {
			t.Errorf("view %s: %s", r.qualifiedName(), r.viewErr)
		}
		if r.Schema != "pg_catalog" && r.Schema != "information_schema" {
			continue
		}
		for i, c := range prot.views[r.OID] {
			if c.v.why != "" && !strings.Contains(c.v.why, "sampled column values") {
				t.Errorf("system view %s column %d (%s): %s", r.qualifiedName(), i+1, c.name, c.v.why)
			}
		}
	}
	if views < 100 {
		t.Errorf("only %d views loaded", views)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	again, err := LoadCatalog(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if again.Version() != cat.Version() {
		t.Errorf("version changed without a schema change: %s, %s", cat.Version(), again.Version())
	}
	if _, err := conn.Exec(ctx, "ALTER TABLE orders ADD COLUMN extra text").ReadAll(); err != nil {
		t.Fatal(err)
	}
	changed, err := LoadCatalog(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if changed.Version() == cat.Version() {
		t.Error("version unchanged after ALTER TABLE")
	}
	// The loading transaction is over: the connection is idle.
	if conn.TxStatus() != 'I' {
		t.Errorf("connection left in transaction state %q", conn.TxStatus())
	}
}

// TestAnalyzeEdges: results are cached and shared per protected set,
// unknown relations and columns fail closed, a protected set of another
// catalog makes everything unresolved, nil arguments are safe, and parse
// errors are *ParseError.
func TestAnalyzeEdges(t *testing.T) {
	_, cat, prot := lineageFixture(t)
	a1, _ := Analyze("SELECT email FROM customers", cat, prot, nil)
	a2, _ := Analyze("SELECT email FROM customers", cat, prot, nil)
	if a1 != a2 {
		t.Error("same text not served from the cache")
	}
	for _, sql := range []string{"SELECT secret FROM newtable", "SELECT nosuchcolumn FROM customers", "SELECT * FROM pg_temp.t", "SELECT x.y FROM customers"} {
		lin, err := Analyze(sql, cat, prot, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := lin.Statements[0]
		if st.Opaque == "" && (len(st.Columns) != 1 || !st.Columns[0].Unresolved) {
			t.Errorf("%q: %+v", sql, st)
		}
	}
	if lin, _ := Analyze("SELECT * FROM newtable", cat, prot, nil); lin.Statements[0].Opaque == "" {
		t.Error("* over an unknown relation must be opaque")
	}
	other, _ := cat.Protect([]string{"customers.email"})
	other.cat = &Catalog{}
	if lin, _ := Analyze("SELECT id FROM customers", cat, other, nil); !lin.Statements[0].Columns[0].Unresolved {
		t.Error("a protected set from another catalog must make columns unresolved")
	}
	if lin, err := Analyze("SELECT email FROM customers", nil, nil, nil); err != nil || lin.Statements[0].Columns[0].Masked() {
		t.Errorf("nil catalog and nothing protected: %+v %v", lin, err)
	}
	if lin, err := Analyze("SELECT email FROM customers", cat, nil, nil); err != nil || lin.Statements[0].Columns[0].Masked() {
		t.Errorf("nothing protected: %+v %v", lin, err)
	}
	if _, err := Analyze("SELEC 1", cat, prot, nil); !IsParseError(err) {
		t.Errorf("parse error: %T %v", err, err)
	}
	if lin, err := Analyze(" -- nothing\n", cat, prot, nil); err != nil || len(lin.Statements) != 0 {
		t.Errorf("empty text: %+v %v", lin, err)
	}
	deep := strings.Repeat("lower(", 1500) + "email" + strings.Repeat(")", 1500)
	if lin, err := Analyze("SELECT "+deep+" FROM customers", cat, prot, nil); err == nil && !lin.Statements[0].Columns[0].Masked() {
		t.Error("deep nesting must stay masked")
	}
}

// TestAnalyzeConcurrent: one Catalog and Protected serve many goroutines
// (run with -race).
func TestAnalyzeConcurrent(t *testing.T) {
	_, cat, prot := lineageFixture(t)
	_, cases, _ := lineageCorpus(t)
	want := make([][]string, len(cases))
	for i, c := range cases {
		lin, err := Analyze(c.sql, cat, prot, nil)
		want[i] = renderLineage(lin, err)
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range cases {
				j := (i + g*len(cases)/4) % len(cases)
				lin, err := Analyze(cases[j].sql, cat, prot, nil)
				if got := renderLineage(lin, err); !slices.Equal(got, want[j]) {
					t.Errorf("%q: %q, want %q", cases[j].sql, got, want[j])
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
