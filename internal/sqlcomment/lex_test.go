package sqlcomment

import (
	"slices"
	"testing"
)

// comments lists every top-level block comment body the lexer finds.
func comments(d Dialect, s string) []string {
	var out []string
	l := lexer{d: d, s: s}
	for {
		body, ok := l.next()
		if !ok {
			return out
		}
		out = append(out, body)
	}
}

func TestLexer(t *testing.T) {
	tests := []struct {
		name string
		d    Dialect
		sql  string
		want []string
	}{
		{"plain", PostgreSQL, "SELECT 1 /*a*/ /* b */", []string{"a", " b "}},
		{"none", PostgreSQL, "SELECT 1", nil},
		{"in string", PostgreSQL, "SELECT '/*a*/' /*b*/", []string{"b"}},
		{"doubled quote", PostgreSQL, "SELECT 'it''s /*a*/' /*b*/", []string{"b"}},
		{"pg backslash is literal", PostgreSQL, `SELECT 'a\' /*b*/ '`, []string{"b"}},
		{"pg E string", PostgreSQL, `SELECT E'a\' /*b*/ ' /*c*/`, []string{"c"}},
		{"pg e string lower", PostgreSQL, `SELECT e'\\' /*c*/`, []string{"c"}},
		{"pg E string doubled quote", PostgreSQL, `SELECT E'a'' /*b*/' /*c*/`, []string{"c"}},
		{"pg identifier ending in E is not an E string", PostgreSQL, `SELECT namE'\' /*b*/`, []string{"b"}},
		{"pg identifier", PostgreSQL, `SELECT "a/*b*/""c" /*d*/`, []string{"d"}},
		{"pg dollar quote", PostgreSQL, `SELECT $$ /*a*/ $$ /*b*/`, []string{"b"}},
		{"pg tagged dollar quote", PostgreSQL, `SELECT $fn$ /*a*/ $$ /*x*/ $fn$ /*b*/`, []string{"b"}},
		{"pg dollar tag with digits", PostgreSQL, `SELECT $a1$ /*a*/ $a1$ /*b*/`, []string{"b"}},
		{"pg parameter is not a quote", PostgreSQL, `SELECT $1 /*a*/, $2 /*b*/`, []string{"a", "b"}},
		{"pg $ inside identifier", PostgreSQL, `SELECT a$b$ /*a*/ $b$`, []string{"a"}},
		{"pg unterminated dollar quote", PostgreSQL, `SELECT $q$ /*a*/`, nil},
		{"pg stray dollar", PostgreSQL, `SELECT $ /*a*/`, []string{"a"}},
		{"line comment", PostgreSQL, "SELECT 1 -- /*a*/\n/*b*/", []string{"b"}},
		{"pg line comment ends at CR", PostgreSQL, "SELECT 1 -- x\r/*b*/", []string{"b"}},
		{"pg line comment without space", PostgreSQL, "SELECT 1 --/*a*/\n/*b*/", []string{"b"}},
		{"pg nested", PostgreSQL, "SELECT /* a /* b */ c */ 1 /*d*/", []string{" a /* b */ c ", "d"}},
		{"pg nested unterminated", PostgreSQL, "SELECT /* a /* b */ 1 /*d*/", nil},
		{"pg /*/ opens", PostgreSQL, "SELECT /*/ a */ /*b*/", []string{"/ a ", "b"}},
		{"empty comment", PostgreSQL, "SELECT /**/ 1", []string{""}},
		{"stars", PostgreSQL, "SELECT /***/ 1", []string{"*"}},
		{"operator then comment", PostgreSQL, "SELECT 2*/*a*/3", []string{"a"}},
		{"unterminated string", PostgreSQL, "SELECT ' /*a*/", nil},
		{"unterminated comment", PostgreSQL, "SELECT /*a", nil},
		{"pg backtick is nothing", PostgreSQL, "SELECT `/*a*/`", []string{"a"}},
		{"pg hash is an operator", PostgreSQL, "SELECT 1 # 2 /*a*/", []string{"a"}},

		{"my flat comments", MySQL, "SELECT /* a /* b */ c */ 1", []string{" a /* b "}},
		{"my backslash escape", MySQL, `SELECT 'a\' /*b*/ ' /*c*/`, []string{"c"}},
		{"my double-quoted string", MySQL, `SELECT "a\" /*b*/ " /*c*/`, []string{"c"}},
		{"my backtick", MySQL, "SELECT `a``/*b*/` /*c*/", []string{"c"}},
		{"my hash comment", MySQL, "SELECT 1 # /*a*/\n/*b*/", []string{"b"}},
		{"my hash comment ignores CR", MySQL, "SELECT 1 # x\r/*a*/\n/*b*/", []string{"b"}},
		{"my dash dash space", MySQL, "SELECT 1 -- /*a*/\n/*b*/", []string{"b"}},
		{"my dash dash tab", MySQL, "SELECT 1 --\t/*a*/\n/*b*/", []string{"b"}},
		{"my dash dash without space is minus minus", MySQL, "SELECT 1 --/*a*/1", []string{"a"}},
		{"my dollar is nothing", MySQL, "SELECT $$ /*a*/ $$", []string{"a"}},
		{"my E is nothing", MySQL, `SELECT E'\' /*a*/ '`, nil},
		{"my executable comment body is SQL", MySQL, "SELECT /*!50000 '*/' */ 1 /*a*/", []string{"a"}},
		{"my executable comment with comment", MySQL, "SELECT /*!50000 1 /*a*/ */ /*b*/", []string{"a", "b"}},
		{"mariadb executable comment", MySQL, "SELECT /*M!100100 1 */ /*b*/", []string{"b"}},
		{"my hint is a comment", MySQL, "SELECT /*+ BKA(t1) */ 1", []string{"+ BKA(t1) "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := comments(tc.d, tc.sql); !slices.Equal(got, tc.want) {
				t.Errorf("%s %q: got %q, want %q", tc.d, tc.sql, got, tc.want)
			}
		})
	}
}
