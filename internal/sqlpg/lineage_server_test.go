package sqlpg

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestLineageAgainstServer runs every case of the bypass corpus on a real
// server holding sample rows with distinctive protected values, and checks
// Analyze against what actually comes back: every returned column whose
// values contain or visibly derive from a protected value (as is, re-cased,
// separators removed, reversed, hex or base64 encoded, hashed with md5 or
// sha256, or spread one piece per row) must be masked, and the number of
// columns must match the RowDescription. It is the strongest test of the
// analysis: the server, not the corpus author, says what leaks.
func TestLineageAgainstServer(t *testing.T) {
	patterns, cases, _ := lineageCorpus(t)
	dsn, cat, _ := lineageFixture(t)
	prot, err := cat.Protect(patterns)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	connect := func() *pgconn.PgConn {
		conn, err := pgconn.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SET statement_timeout = '10s'").ReadAll(); err != nil {
			t.Fatal(err)
		}
		return conn
	}
	conn := connect()
	defer func() { conn.Close(context.Background()) }()
	secrets := protectedValues(t, ctx, conn, prot)

	var ran, failed, leakingCols, maskedCols, checkedCols int
	for _, c := range cases {
		lin, err := Analyze(c.sql, cat, prot, nil)
		if err != nil {
			t.Errorf("line %d: %v", c.line, err)
			continue
		}
		results, err := runRolledBack(ctx, conn, c.sql)
		if err != nil {
			failed++
			t.Logf("line %d: server refuses %q: %v", c.line, c.sql, err)
			if conn.IsClosed() {
				conn = connect()
			} else {
				conn.Exec(ctx, "ROLLBACK").ReadAll()
			}
			continue
		}
		ran++
		if len(results) != len(lin.Statements) {
			t.Errorf("line %d: %q: server returned %d results for %d statements", c.line, c.sql, len(results), len(lin.Statements))
			continue
		}
		for i, r := range results {
			st := lin.Statements[i]
			if r.fields == 0 || st.Opaque != "" {
				continue
			}
			if len(st.Columns) != r.fields {
				t.Errorf("line %d: %q: statement %d: server returned %d columns, lineage lists %d", c.line, c.sql, i, r.fields, len(st.Columns))
				continue
			}
			for j, oc := range st.Columns {
				checkedCols++
				if oc.Masked() {
					maskedCols++
				}
				var all []string
				for _, row := range r.rows {
					if row[j] != nil {
						all = append(all, string(row[j]))
					}
				}
				leak := ""
				for _, v := range append(all, strings.Join(all, "")) {
					if s := secrets.leak(v); s != "" {
						leak = s
						break
					}
				}
				if leak == "" {
					continue
				}
				leakingCols++
				if !oc.Masked() {
					t.Errorf("line %d: %q: statement %d column %d (%s) returns protected data (%s) but is not masked", c.line, c.sql, i, j+1, oc.Name, leak)
				}
			}
		}
	}
	t.Logf("ran %d of %d cases (%d refused by the server); %d columns checked, %d masked by lineage, %d visibly carrying protected data",
		ran, len(cases), failed, checkedCols, maskedCols, leakingCols)
	if ran < 150 || leakingCols < 100 {
		t.Errorf("oracle too weak: %d cases ran, %d leaking columns seen", ran, leakingCols)
	}
}

// serverResult is one statement's result: its column count and rows (text).
type serverResult struct {
	fields int
	rows   [][][]byte
}

// runRolledBack runs sql inside a transaction that is rolled back (unless
// the text controls transactions itself). COPY ... TO STDOUT is read
// through the copy protocol and split into text columns.
func runRolledBack(ctx context.Context, conn *pgconn.PgConn, sql string) ([]serverResult, error) {
	upper := strings.ToUpper(sql)
	own := strings.Contains(upper, "BEGIN") || strings.Contains(upper, "COMMIT")
	if !own {
		if _, err := conn.Exec(ctx, "BEGIN").ReadAll(); err != nil {
			return nil, err
		}
		defer func() { conn.Exec(ctx, "ROLLBACK").ReadAll() }()
	}
	if strings.HasPrefix(upper, "COPY") {
		var buf bytes.Buffer
		if _, err := conn.CopyTo(ctx, &buf, sql); err != nil {
			return nil, err
		}
		var r serverResult
		for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			var row [][]byte
			for _, f := range strings.Split(line, "\t") {
				if f == `\N` {
					row = append(row, nil)
				} else {
					row = append(row, []byte(strings.ReplaceAll(f, `\\`, `\`)))
				}
			}
			r.fields = len(row)
			r.rows = append(r.rows, row)
		}
		return []serverResult{r}, nil
	}
	res, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	out := make([]serverResult, len(res))
	for i, r := range res {
		out[i] = serverResult{fields: len(r.FieldDescriptions), rows: r.Rows}
	}
	return out, nil
}

// secretSet recognizes protected values in returned text.
type secretSet struct {
	norms  []string // normalized protected values
	hashes []string // md5 and sha256 hex of the raw values
}

// protectedValues reads every value of every protected table column.
func protectedValues(t *testing.T, ctx context.Context, conn *pgconn.PgConn, prot *Protected) *secretSet {
	s := &secretSet{}
	for _, c := range prot.Columns() {
		q := "SELECT " + quoteIdent(c.Column) + "::text FROM " + quoteIdent(c.Schema) + "." + quoteIdent(c.Table)
		res, err := conn.Exec(ctx, q).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, row := range res[0].Rows {
			if row[0] == nil {
				continue
			}
			v := string(row[0])
			if n := normalize(v); len(n) >= 6 {
				s.norms = append(s.norms, n)
			}
			m, h := md5.Sum([]byte(v)), sha256.Sum256([]byte(v))
			s.hashes = append(s.hashes, hex.EncodeToString(m[:]), hex.EncodeToString(h[:]))
		}
	}
	if len(s.norms) < 15 {
		t.Fatalf("fixture holds only %d protected values", len(s.norms))
	}
	return s
}

// normalize keeps letters and digits, lower-cased.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// leak returns a description of the protected value v visibly carries,
// or "".
func (s *secretSet) leak(v string) string {
	lv := strings.ToLower(v)
	for _, h := range s.hashes {
		if strings.Contains(lv, h) {
			return "a hash of a protected value"
		}
	}
	forms := []string{v, reverse(v)}
	hx := strings.TrimPrefix(strings.TrimSpace(lv), `\x`)
	if b, err := hex.DecodeString(hx); err == nil && len(b) > 0 {
		forms = append(forms, string(b))
	}
	if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), "")); err == nil && len(b) > 0 {
		forms = append(forms, string(b))
	}
	for _, f := range forms {
		nf := normalize(f)
		for _, n := range s.norms {
			k := min(8, len(n))
			for i := 0; i+k <= len(n); i++ {
				if strings.Contains(nf, n[i:i+k]) {
					return "contains " + n[i:i+k]
				}
			}
		}
	}
	return ""
}
