package web

import (
	"strings"
	"testing"
)

func TestFormatSQL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"select 1", "SELECT 1"},
		{"select * from t where id = $1", "SELECT * FROM t WHERE id = $1"}, // short: one line
		{"update accounts set balance = balance - 100 where id = 7 and owner = 'x' returning balance",
			"UPDATE accounts\nSET balance = balance - 100\nWHERE id = 7\n  AND owner = 'x'\nRETURNING balance"},
		{"select a.id, b.name from a left outer join b on b.id = a.b_id inner join c using (id) where a.x between 1 and 2 or a.y is null order by a.id limit 5",
			"SELECT a.id, b.name\nFROM a\nLEFT OUTER JOIN b ON b.id = a.b_id\nINNER JOIN c USING (id)\nWHERE a.x BETWEEN 1 AND 2\n  OR a.y IS NULL\nORDER BY a.id\nLIMIT 5"},
		// subqueries stay on their line
		{"select id from orders where customer_id in (select id from customers where region = 'eu') group by id",
			"SELECT id\nFROM orders\nWHERE customer_id IN (SELECT id FROM customers WHERE region = 'eu')\nGROUP BY id"},
		// strings, quoted identifiers, comments and dollar quotes are untouched
		{"select 'select from where', \"from\", E'it\\'s where' from t /* where */ where x = $$ and from $$ -- order by\n",
			"SELECT 'select from where', \"from\", E'it\\'s where'\nFROM t /* where */\nWHERE x = $$ and from $$ -- order by\n"},
		{"insert into t (a, b) values ($1, $2) on conflict (a) do update set b = excluded.b",
			"INSERT INTO t (a, b)\nVALUES ($1, $2)\nON CONFLICT (a) DO UPDATE\nSET b = excluded.b"},
		{"delete from orders where created_at < now() - interval '30 days' and status is distinct from 'open'",
			"DELETE FROM orders\nWHERE created_at < now() - interval '30 days'\n  AND status IS DISTINCT FROM 'open'"},
		// written on several lines: keep the author's layout
		{"select a\n  from t\n where b = 1 and c = 2 and d = 3 and e = 4 and f = 5", "SELECT a\n  FROM t\n WHERE b = 1 AND c = 2 AND d = 3 AND e = 4 AND f = 5"},
		// several statements
		{"begin; update accounts set balance = 0 where account_id = 1; commit", "BEGIN;\nUPDATE accounts\nSET balance = 0\nWHERE account_id = 1;\nCOMMIT"},
		// qualified names that look like keywords stay as written
		{"select o.limit, o.order from o", "SELECT o.limit, o.order FROM o"},
		// unterminated quotes do not panic or swallow less than the rest
		{"select 'unterminated from t where", "SELECT 'unterminated from t where"},
		{"select $tag$ open", "SELECT $tag$ open"},
		{"/* /* nested */ still comment */ select", "/* /* nested */ still comment */ SELECT"},
	}
	for _, tc := range cases {
		if got := sqlText(tc.in); got != tc.want {
			t.Errorf("formatSQL(%q) =\n%s\nwant\n%s", tc.in, got, tc.want)
		}
	}
}

// Formatting changes only case and white space outside quoted text and
// comments: removing both from input and output gives the same letters.
func TestFormatSQLKeepsText(t *testing.T) {
	for _, in := range []string{
		"select * from \"Weird Table\" where note = 'Robert''); drop table students;--' and x = e'\\\\'",
		"with recursive r as (select 1 union all select n + 1 from r where n < 10) select * from r",
		"create function f() returns int language sql as $body$ select 1 from t where a = 'x' $body$",
		"\x00\xff select 'ünïcødé' from ☃",
	} {
		got := sqlText(in)
		norm := func(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), "") }
		if norm(got) != norm(in) {
			t.Errorf("formatSQL(%q) changed the text: %q", in, got)
		}
		for _, quoted := range []string{"'Robert''); drop table students;--'", "$body$ select 1 from t where a = 'x' $body$", "\"Weird Table\"", "'ünïcødé'"} {
			if strings.Contains(in, quoted) && !strings.Contains(got, quoted) {
				t.Errorf("formatSQL(%q) changed %s: %q", in, quoted, got)
			}
		}
	}
}

func TestSQLHTMLEscapes(t *testing.T) {
	got := string(sqlHTML(`select '<b>' from "<i>" -- </code><script>x</script>` + "\nwhere a < b && c > d"))
	for _, bad := range []string{"<b>", "<i>", "<script>", "</code>"} {
		if strings.Contains(got, bad) {
			t.Fatalf("sqlHTML left %s unescaped: %s", bad, got)
		}
	}
	if !strings.Contains(got, `<span class="s">&#39;&lt;b&gt;&#39;</span>`) || !strings.Contains(got, "a &lt; b &amp;&amp; c &gt; d") {
		t.Fatalf("sqlHTML = %s", got)
	}
}

func FuzzFormatSQL(f *testing.F) {
	for _, s := range []string{"select 1", "select 'a''b' from t where x = $1 and y = $$z$$", "/* /* */ */", "e'\\'", `"a""b"`, "$1$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var b strings.Builder
		for _, tok := range lexSQL(in) {
			b.WriteString(tok.text)
		}
		if b.String() != in {
			t.Fatalf("lexSQL does not cover the input: %q", b.String())
		}
		if norm := func(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), "") }; norm(sqlText(in)) != norm(in) {
			t.Fatalf("formatSQL changed more than case and spacing: %q", sqlText(in))
		}
		if h := string(sqlHTML(in)); strings.ContainsAny(strings.NewReplacer(`<span class="`, "", `">`, "", "</span>", "").Replace(h), "<>") {
			t.Fatalf("sqlHTML leaks markup: %q", h)
		}
	})
}
