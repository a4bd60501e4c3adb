package sqlcomment

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func TestNormalize(t *testing.T) {
	const tp = "/*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',reason='retry'*/"
	tests := []struct {
		name string
		d    Dialect
		sql  string
		want string
	}{
		{"plain", PostgreSQL, "SELECT 1", "SELECT 1"},
		{"empty", PostgreSQL, "", ""},
		{"only comments", PostgreSQL, " /* a */ -- b\n ", ""},
		{"trim and collapse", PostgreSQL, "  SELECT\t\t1 ,  2  ", "SELECT 1 , 2"},
		{"traceparent comment", PostgreSQL, "DELETE FROM t WHERE id = 7 " + tp, "DELETE FROM t WHERE id = 7"},
		{"comment first", PostgreSQL, tp + "\nDELETE FROM t", "DELETE FROM t"},
		{"comment between tokens is a separator", PostgreSQL, "SELECT/**/1", "SELECT 1"},
		{"operator around comment", PostgreSQL, "SELECT 2*/*a*/3", "SELECT 2* 3"},
		{"nested comment", PostgreSQL, "SELECT /* a /* b */ c */ 1", "SELECT 1"},
		{"line comment", PostgreSQL, "SELECT 1 -- one\n, 2", "SELECT 1 , 2"},
		{"line break kept", PostgreSQL, "SELECT 'a'\n\n  'b'", "SELECT 'a'\n'b'"},
		{"line break with block comment is a space", PostgreSQL, "SELECT 'a' /*x*/\n'b'", "SELECT 'a' 'b'"},
		{"line breaks collapse", PostgreSQL, "SELECT 1\r\n  2\n", "SELECT 1 2"},
		{"CR between literals", PostgreSQL, "SELECT 'a'\r'b'", "SELECT 'a'\n'b'"},
		{"E string then line break", PostgreSQL, "SELECT E'a'\n'b'", "SELECT E'a'\n'b'"},
		{"line break before E string", PostgreSQL, "SELECT 'a'\nE'b'", "SELECT 'a' E'b'"},
		{"identifier then line break", PostgreSQL, "SELECT \"a\"\n'b'", "SELECT \"a\" 'b'"},
		{"string kept", PostgreSQL, "SELECT '  /* no */  -- no'  ", "SELECT '  /* no */  -- no'"},
		{"E string kept", PostgreSQL, `SELECT E'\'  /*x*/ '`, `SELECT E'\'  /*x*/ '`},
		{"identifier kept", PostgreSQL, `SELECT "a  b"`, `SELECT "a  b"`},
		{"dollar quote kept", PostgreSQL, "SELECT $f$  -- x\n $f$", "SELECT $f$  -- x\n $f$"},
		{"parameters", PostgreSQL, "SELECT $1,  $2", "SELECT $1, $2"},
		{"case kept", PostgreSQL, "select Id", "select Id"},
		{"unterminated string", PostgreSQL, "SELECT 'a  /*b*/", "SELECT 'a  /*b*/"},
		{"unterminated comment", PostgreSQL, "SELECT /*a  b", "SELECT /*a  b"},
		{"form feed and vertical tab", PostgreSQL, "SELECT\f1\v2", "SELECT 1 2"},

		{"my hash comment", MySQL, "SELECT 1 # x\n, 2", "SELECT 1 , 2"},
		{"my minus minus before a comment", MySQL, "SELECT 1 --/*x*/ 1", "SELECT 1 --/*x*/ 1"},
		{"my minus minus before a hash comment", MySQL, "SELECT 1 --#x", "SELECT 1 --#x"},
		{"my minus minus before a dash comment", MySQL, "SELECT 1 ---- x", "SELECT 1 ---- x"},
		{"my dash dash without space", MySQL, "SELECT 1 --1", "SELECT 1 --1"},
		{"my backslash string", MySQL, `SELECT 'a\'  b'`, `SELECT 'a\'  b'`},
		{"my executable comment kept", MySQL, "SELECT /*!50000  1 /* x */ */  2", "SELECT /*!50000 1 */ 2"},
		{"mariadb executable comment kept", MySQL, "SELECT /*M!100100   1 */", "SELECT /*M!100100 1 */"},
		{"my flat comment", MySQL, "SELECT /* a /* b */ 1", "SELECT 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.Normalize(tc.sql); got != tc.want {
				t.Errorf("%s Normalize(%q) = %q, want %q", tc.d, tc.sql, got, tc.want)
			}
		})
	}
}

// TestNormalizeDistinguishes: changes to tokens are never normalized away.
func TestNormalizeDistinguishes(t *testing.T) {
	for _, pair := range [][2]string{
		{"DELETE FROM t WHERE id = 7", "DELETE FROM t WHERE id = 8"},
		{"SELECT 'a b'", "SELECT 'a  b'"},
		{"SELECT a", "SELECT A"},
		{"SELECT a.b", "SELECT a. b"},
		{"SELECT 1", "SELECT 1;"},
		{"SELECT 'a'\n'b'", "SELECT 'a' 'b'"},
	} {
		if a, b := Normalize(pair[0]), Normalize(pair[1]); a == b {
			t.Errorf("Normalize(%q) == Normalize(%q) == %q", pair[0], pair[1], a)
		}
	}
}

// FuzzNormalize checks, for both dialects: idempotence; no leading or
// trailing white space; comments and white space added at top level
// change nothing; a string literal comes back byte for byte; and, where
// PostgreSQL's own scanner reads the text, the normalized text scans to
// the same tokens without comments.
func FuzzNormalize(f *testing.F) {
	f.Add("SELECT 1 /*reason='x'*/ -- y\n, 'a'\n'b' $q$ /* $q$ E'\\'' \"x  y\"")
	f.Add("SELECT /*!50000 1 /* x */ */ # z\n`a  b`")
	f.Add("SELECT 'a' /*x*/\n'b'")
	for _, sql := range goldenPostgres(f) {
		f.Add(sql)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []Dialect{PostgreSQL, MySQL} {
			n := d.Normalize(s)
			if n2 := d.Normalize(n); n2 != n {
				t.Fatalf("%s: not idempotent on %q: %q then %q", d, s, n, n2)
			}
			l := lexer{d: d, s: s + "\n"}
			for _, ok := l.next(); ok; _, ok = l.next() {
			}
			if n != "" && (isSpace(n[0]) || isSpace(n[len(n)-1]) && !l.open) {
				t.Fatalf("%s: Normalize(%q) = %q has white space at an end", d, s, n)
			}
			if !l.open && !l.exec {
				for _, v := range []string{" /* c */ " + s + "\n-- x\n", s + "\n/*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/", "\t" + s + " \r\n "} {
					if g := d.Normalize(v); g != n {
						t.Fatalf("%s: Normalize(%q) = %q but Normalize(%q) = %q", d, s, n, v, g)
					}
				}
			}
			if q := "SELECT " + quote(d, s); d.Normalize(q) != q {
				t.Fatalf("%s: literal %s normalized to %q", d, q, d.Normalize(q))
			}
		}
		checkNormalizeAgainstPostgres(t, s)
	})
}

// TestNormalizeMatchesPostgres runs the differential check on the golden
// file's PostgreSQL cases.
func TestNormalizeMatchesPostgres(t *testing.T) {
	for _, sql := range goldenPostgres(t) {
		checkNormalizeAgainstPostgres(t, sql)
		checkNormalizeAgainstPostgres(t, "SELECT 'a' -- x\n 'b' /* y */ , 1 "+sql)
	}
}

// checkNormalizeAgainstPostgres fails t if PostgreSQL's scanner reads sql
// and Normalize(sql) into different tokens (comments aside).
func checkNormalizeAgainstPostgres(t *testing.T, sql string) {
	t.Helper()
	if strings.IndexByte(sql, 0) >= 0 {
		return
	}
	want, ok := pgTokens(sql)
	if !ok {
		return
	}
	n := Normalize(sql)
	got, ok := pgTokens(n)
	if !ok || !slices.Equal(got, want) {
		t.Errorf("%q normalized to %q: PostgreSQL reads tokens %q, then %q", sql, n, want, got)
	}
}

var continuation = regexp.MustCompile(`[ \t\f\v]*[\n\r][ \t\n\r\f\v]*`)

// pgTokens lists the text of the tokens PostgreSQL's scanner reads in s,
// without comments.
func pgTokens(s string) ([]string, bool) {
	res, err := pg_query.Scan(s)
	if err != nil {
		return nil, false
	}
	var out []string
	for _, tok := range res.Tokens {
		if tok.Token == pg_query.Token_C_COMMENT || tok.Token == pg_query.Token_SQL_COMMENT {
			continue
		}
		if tok.Start < 0 || tok.End > int32(len(s)) || tok.Start > tok.End {
			return nil, false
		}
		text := s[tok.Start:tok.End]
		if strings.HasSuffix(tok.Token.String(), "CONST") {
			// A literal continued on the next line is one token whose
			// text includes the layout in between; only the line
			// break matters. (This also blurs line breaks inside
			// literals; FuzzNormalize checks those byte for byte.)
			text = continuation.ReplaceAllString(text, "\n")
		}
		out = append(out, tok.Token.String()+":"+text)
	}
	return out, true
}
