package sqlcomment

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// pgComments lists the block comments PostgreSQL's own scanner (through
// pg_query) finds in s, as body text; ok is false when it cannot scan s.
func pgComments(s string) (bodies []string, ok bool) {
	res, err := pg_query.Scan(s)
	if err != nil {
		return nil, false
	}
	for _, tok := range res.Tokens {
		if tok.Token == pg_query.Token_C_COMMENT {
			text := s[tok.Start:tok.End]
			if !strings.HasPrefix(text, "/*") || !strings.HasSuffix(text, "*/") || len(text) < 4 {
				return nil, false
			}
			bodies = append(bodies, text[2:len(text)-2])
		}
	}
	return bodies, true
}

// goldenPostgres returns the SQL of the golden file's PostgreSQL cases.
func goldenPostgres(tb testing.TB) []string {
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 6 || f[1] != "pg" {
			continue
		}
		sql, err := strconv.Unquote(f[2])
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, sql)
	}
	return out
}

// TestLexerMatchesPostgres: on every PostgreSQL case of the golden file,
// the lexer finds exactly the comments the server's scanner finds.
func TestLexerMatchesPostgres(t *testing.T) {
	compared := 0
	for _, sql := range goldenPostgres(t) {
		if checkAgainstPostgres(t, sql) {
			compared++
		}
	}
	if compared < 30 {
		t.Errorf("only %d golden cases had comments PostgreSQL could scan", compared)
	}
}

// FuzzLexerMatchesPostgres compares the lexer with PostgreSQL's scanner on
// arbitrary text it accepts.
func FuzzLexerMatchesPostgres(f *testing.F) {
	f.Add("SELECT E'\\' /*a*/ ' $x$ /*b*/ $x$ /* c /* d */ */ -- e\n\"/*f*/\" /*g*/")
	for _, sql := range goldenPostgres(f) {
		f.Add(sql)
	}
	f.Fuzz(func(t *testing.T, s string) { checkAgainstPostgres(t, s) })
}

// checkAgainstPostgres reports whether PostgreSQL scanned sql and found a
// comment, and fails t if the lexer disagrees with it.
func checkAgainstPostgres(t *testing.T, sql string) bool {
	t.Helper()
	// pg_query reads a C string, and PostgreSQL's protocol carries queries
	// as C strings too: text never holds a NUL byte.
	if strings.IndexByte(sql, 0) >= 0 {
		return false
	}
	want, ok := pgComments(sql)
	if !ok {
		return false
	}
	if got := comments(PostgreSQL, sql); !slices.Equal(got, want) {
		t.Errorf("%q: lexer found %q, PostgreSQL %q", sql, got, want)
	}
	return len(want) > 0
}
