package sqlcomment

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReasonCap(t *testing.T) {
	tests := []struct {
		name, reason string
		wantLen      int
	}{
		{"ascii", strings.Repeat("a", 1500), MaxReason},
		{"exact", strings.Repeat("a", MaxReason), MaxReason},
		// 'ü' is 2 bytes: 999 ASCII bytes then ü would straddle the cap.
		{"rune boundary", strings.Repeat("a", 999) + strings.Repeat("%C3%BC", 10), 999},
		{"trailing space after cut", strings.Repeat("a", 998) + "%20%20" + strings.Repeat("b", 10), 998},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Extract("SELECT 1 /*reason='" + tc.reason + "'*/").Reason
			if len(got) != tc.wantLen || !utf8.ValidString(got) {
				t.Errorf("len %d (valid UTF-8 %v), want %d", len(got), utf8.ValidString(got), tc.wantLen)
			}
		})
	}
}

// TestLiteralsNeverCount: whatever a literal holds, a comment inside it is
// data, in both dialects and every quoting style.
func TestLiteralsNeverCount(t *testing.T) {
	payloads := []string{
		"/*reason='forged'*/",
		"*/ /*reason='forged'*/ /*",
		"'; /*reason='forged'*/ --",
		`\'; /*reason='forged'*/ \`,
		"$$ /*reason='forged'*/ $$",
		"\" /*reason='forged'*/ \"",
		"` /*reason='forged'*/ `",
		"\n-- x\n/*reason='forged'*/",
	}
	pgQuote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	pgE := func(s string) string {
		return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	}
	pgIdent := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	myQuote := func(s string) string {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	}
	myDouble := func(s string) string {
		return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
	}
	myIdent := func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	for _, p := range payloads {
		for _, c := range []struct {
			d   Dialect
			sql string
		}{
			{PostgreSQL, "SELECT " + pgQuote(p)},
			{PostgreSQL, "SELECT " + pgE(p)},
			{PostgreSQL, "SELECT 1 AS " + pgIdent(p)},
			{PostgreSQL, "SELECT $body$" + p + "$body$"},
			{PostgreSQL, "SELECT 1 -- " + strings.ReplaceAll(strings.ReplaceAll(p, "\n", " "), "\r", " ")},
			{MySQL, "SELECT " + myQuote(p)},
			{MySQL, "SELECT " + myDouble(p)},
			{MySQL, "SELECT 1 AS " + myIdent(p)},
			{MySQL, "SELECT 1 # " + strings.ReplaceAll(p, "\n", " ")},
		} {
			// The newline ends the line-comment cases.
			if got := c.d.Extract(c.sql + "\n/*route='x'*/"); got.Reason != "" {
				t.Errorf("%s %q: reason %q", c.d, c.sql, got.Reason)
			}
			if got := c.d.Extract(c.sql + "\n/*reason='real'*/"); got.Reason != "real" {
				t.Errorf("%s %q: the real comment after the literal was missed: %+v", c.d, c.sql, got)
			}
		}
	}
}

func TestExtractAllocs(t *testing.T) {
	for _, sql := range []string{
		"SELECT id, status FROM refunds WHERE id = $1 AND note <> 'x'",
		"SELECT 1 /* just a note */ -- and a line comment",
		"SELECT 1 /*reason='plain',traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/",
	} {
		for _, d := range []Dialect{PostgreSQL, MySQL} {
			if n := testing.AllocsPerRun(100, func() { _ = d.Extract(sql) }); n != 0 {
				t.Errorf("%s %q: %.0f allocations, want 0", d, sql, n)
			}
		}
	}
}

const (
	benchNoComment = "SELECT r.id, r.status, r.amount FROM public.refunds r JOIN public.orders o ON o.id = r.order_id WHERE r.id = $1 AND o.note <> 'n/a'"
	benchComment   = benchNoComment + " /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',reason='checking%20refund%20status'*/"
)

func BenchmarkExtract(b *testing.B) {
	for _, bc := range []struct{ name, sql string }{{"NoComment", benchNoComment}, {"Comment", benchComment}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.sql)))
			for b.Loop() {
				_ = Extract(bc.sql)
			}
		})
	}
}
