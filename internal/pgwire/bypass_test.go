package pgwire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/mask"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// The masking-bypass corpus of internal/sqlpg (each line a known trick to
// get a protected value past masking) runs here through the whole gateway
// against real PostgreSQL: real classifier, column lineage and masker, with
// value detectors OFF so that lineage alone must catch everything. No
// protected value, nor a recognizable transformation of it (case, reversed,
// hex, base64, separators removed, md5/sha256), may reach the client, in
// the simple or the extended protocol.
const (
	bypassCorpus = "../sqlpg/testdata/lineage_bypass.txt"
	bypassSchema = "../sqlpg/testdata/lineage_schema.sql"
)

func TestBypassCorpusThroughGateway(t *testing.T) {
	cases := readBypassCorpus(t)
	if len(cases) < 80 {
		t.Fatalf("corpus has %d cases, want at least 80", len(cases))
	}
	m, err := mask.New(mask.Config{Strategy: "redact"})
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	h := newHarness(t, func(c *Config, g *gate.Config) {
		c.Classifier = sqlpg.New(sqlpg.Config{})
		c.Masks = map[string]*Masking{"test": {Masker: m, Columns: nil}}
		g.Policy = namedPolicy{"test", func(gate.Input) gate.Decision {
			return gate.Decision{Action: gate.Allow, Policy: "test", Rule: "all"}
		}}
	})
	owner := connect(t, h.pg.DSN(h.db.Name, h.db.User, h.db.Password))
	raw, err := os.ReadFile(bypassSchema)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(string(raw), "\n;\n") {
		if strings.TrimSpace(stmt) == "" || strings.HasPrefix(strings.TrimSpace(stmt), "--") && !strings.Contains(stmt, "\n") {
			continue
		}
		if _, err := owner.Exec(context.Background(), stmt); err != nil {
			t.Fatalf("schema: %v\n%s", err, stmt)
		}
	}
	patterns = corpusPatterns(t)
	h.srv.cfg.Masks["test"].Columns = patterns
	secrets := bypassSecrets(t, owner)

	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	var ran, refused, copies int
	for _, sql := range cases {
		// Simple protocol: every statement of the text, in a transaction
		// that is rolled back (some tricks write).
		out, err := runSimple(ctx, c.PgConn(), sql)
		if err != nil {
			refused++
		} else {
			ran++
		}
		if leak := secrets.find(out); leak != "" {
			t.Errorf("simple protocol leaked %s:\n  %s\n  output: %.300s", leak, sql, out)
		}
		if strings.HasPrefix(sql, "COPY") && strings.Contains(sql, "TO STDOUT") {
			copies++
			for _, opts := range []string{"", " WITH (FORMAT csv)", " WITH (FORMAT csv, HEADER, DELIMITER ';')", " WITH (DELIMITER '|', NULL 'nil')"} {
				var buf bytes.Buffer
				if _, err := c.PgConn().CopyTo(ctx, &buf, sql+opts); err != nil {
					t.Errorf("%s%s: %v", sql, opts, err)
				}
				if leak := secrets.find(buf.String()); leak != "" {
					t.Errorf("COPY leaked %s:\n  %s%s\n  output: %.300s", leak, sql, opts, buf.String())
				}
				if strings.Contains(sql, "id, name") && !strings.Contains(buf.String(), "Alice Able") {
					t.Errorf("COPY over-masked: %s%s: %q", sql, opts, buf.String())
				}
			}
			if _, err := c.PgConn().CopyTo(ctx, io.Discard, sql+" WITH (FORMAT binary)"); err == nil || !strings.Contains(err.Error(), "binary COPY output cannot be masked") {
				t.Errorf("binary COPY not refused: %v", err)
			}
			continue
		}
		if strings.Contains(sql, ";") {
			continue
		}
		// Extended protocol (Parse/Bind/Describe/Execute, binary where pgx
		// chooses it).
		out, _ = runExtended(ctx, c, sql)
		if leak := secrets.find(out); leak != "" {
			t.Errorf("extended protocol leaked %s:\n  %s\n  output: %.300s", leak, sql, out)
		}
	}
	t.Logf("%d cases: %d ran, %d refused (by policy, masking or the server); %d COPY cases in 5 formats", len(cases), ran, refused, copies)
	if copies < 3 {
		t.Fatalf("only %d COPY cases", copies)
	}
	// Errors and notices carry values too: they are scrubbed.
	for _, sql := range []string{
		"SELECT ssn::int FROM customers",
		"SELECT email::int FROM customers",
		"SELECT card_number::date FROM customers",
		"SELECT to_number(email, '999') FROM customers",
		"SELECT (meta->>'card')::int / 0 FROM customers",
		"INSERT INTO customers (id, name, email) SELECT id, name, email FROM customers",
		"DO $$ BEGIN RAISE NOTICE '%', (SELECT string_agg(ssn, ',') FROM customers); END $$",
		"DO $$ BEGIN RAISE EXCEPTION 'x %', (SELECT string_agg(email, ',') FROM customers); END $$",
		"SELECT jsonb_path_query(meta, 'strict $.nope') FROM customers",
	} {
		var notices strings.Builder
		cfg, err := pgconn.ParseConfig(h.dsn(tokenAgent))
		if err != nil {
			t.Fatal(err)
		}
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			notices.WriteString(n.Message + "|" + n.Detail + "|" + n.Where)
		}
		pc, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = runSimple(ctx, pc, sql)
		pc.Close(ctx)
		var text string
		if pe, ok := err.(*pgconn.PgError); ok {
			text = pe.Message + "|" + pe.Detail + "|" + pe.Where + "|" + pe.Hint
		}
		text += notices.String()
		if leak := secrets.find(text); leak != "" {
			t.Errorf("error or notice leaked %s:\n  %s\n  %s", leak, sql, text)
		}
	}
	// Masking must not overreach: columns derived from no protected column
	// come through as they are.
	for sql, want := range map[string]string{
		"SELECT id, name FROM customers ORDER BY id":              "1|Alice Able|",
		"SELECT o.status, o.note FROM orders o ORDER BY o.id":     "paid|gift wrap|",
		`SELECT id FROM "Contacts"`:                               "1|",
		"SELECT holder, balance FROM billing.accounts ORDER BY 1": "Alice Able|100|",
	} {
		out, err := runSimple(ctx, c.PgConn(), sql)
		if err != nil || !strings.HasPrefix(out, want) {
			t.Errorf("over-masking: %s -> %q (%v), want prefix %q", sql, out, err, want)
		}
	}
	if ran < len(cases)/2 {
		t.Fatalf("only %d of %d cases ran: the test is not exercising masking", ran, len(cases))
	}
}

func readBypassCorpus(t *testing.T) []string {
	f, err := os.Open(bypassCorpus)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '%' {
			continue
		}
		sql, _, _ := strings.Cut(line, "\t")
		if strings.HasPrefix(sql, `"`) {
			if sql, err = strconv.Unquote(sql); err != nil {
				t.Fatalf("corpus line %q: %v", line, err)
			}
		}
		out = append(out, sql)
	}
	return out
}

// corpusPatterns reads the "% protect" line.
func corpusPatterns(t *testing.T) []string {
	raw, err := os.ReadFile(bypassCorpus)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "% protect\t"); ok {
			var pats []string
			pats = append(pats, strings.Split(rest, ",")...)
			return pats
		}
	}
	t.Fatal("corpus has no % protect line")
	return nil
}

func runSimple(ctx context.Context, pc *pgconn.PgConn, sql string) (string, error) {
	var b strings.Builder
	_, _ = pc.Exec(ctx, "BEGIN").ReadAll()
	results, err := pc.Exec(ctx, sql).ReadAll()
	for _, r := range results {
		for _, row := range r.Rows {
			for _, v := range row {
				b.Write(v)
				b.WriteByte('|')
			}
			b.WriteByte('\n')
		}
	}
	_, _ = pc.Exec(ctx, "ROLLBACK").ReadAll()
	return b.String(), err
}

func runExtended(ctx context.Context, c *pgx.Conn, sql string) (string, error) {
	var b strings.Builder
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		return "", err
	}
	defer c.Exec(ctx, "ROLLBACK")
	rows, err := c.Query(ctx, sql, pgx.QueryExecModeCacheDescribe)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			for _, v := range rows.RawValues() {
				b.Write(v)
				b.WriteByte('|')
			}
			continue
		}
		for _, v := range vals {
			b.WriteString(fmtAny(v))
			b.WriteByte('|')
		}
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}

// secretSet recognizes protected values and transformations of them.
type secretSet struct {
	forms map[string]string // normalized form -> description
}

func bypassSecrets(t *testing.T, c *pgx.Conn) *secretSet {
	s := &secretSet{forms: map[string]string{}}
	queries := []string{
		`SELECT email, ssn, phone, card_number, notes, meta->>'card' FROM public.customers`,
		`SELECT iban FROM billing.accounts`, `SELECT card_number FROM billing.customers`,
		`SELECT "Email" FROM "Contacts"`, `SELECT customer_email FROM events`,
	}
	for _, q := range queries {
		rows, err := c.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			for _, v := range rows.RawValues() {
				if v != nil {
					s.add(string(v))
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.forms) < 40 {
		t.Fatalf("only %d secret forms", len(s.forms))
	}
	return s
}

func (s *secretSet) add(v string) {
	n := alnum(v)
	if len(n) < 6 {
		return
	}
	m, h := md5.Sum([]byte(v)), sha256.Sum256([]byte(v))
	forms := map[string]string{
		n:                             "value " + v,
		reverseString(n):              "reversed " + v,
		hex.EncodeToString([]byte(v)): "hex of " + v,
		alnum(base64.StdEncoding.EncodeToString([]byte(v))): "base64 of " + v,
		hex.EncodeToString(m[:]):                            "md5 of " + v,
		hex.EncodeToString(h[:]):                            "sha256 of " + v,
	}
	for f, d := range forms {
		s.forms[f] = d
	}
	// Distinctive pieces: the local part of an email, the digits of a
	// number with separators.
	if local, _, ok := strings.Cut(v, "@"); ok && len(alnum(local)) >= 6 {
		s.forms[alnum(local)] = "local part of " + v
	}
}

// find returns a description of the first secret form in out, or "".
func (s *secretSet) find(out string) string {
	n := alnum(out)
	raw := strings.ToLower(out)
	for f, d := range s.forms {
		if strings.Contains(n, f) || strings.Contains(raw, f) {
			return d
		}
	}
	return ""
}

func alnum(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func reverseString(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
