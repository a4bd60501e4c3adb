package sqlcomment

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// FuzzExtract checks, for both dialects: no panic; the result is well
// formed; white space around the text changes nothing; a sqlcommenter
// comment appended to text that ends at top level is the one read; and text
// quoted as a string literal never yields anything.
func FuzzExtract(f *testing.F) {
	f.Add("SELECT 1 /*reason='x',traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/")
	f.Add("SELECT E'\\' /*reason='no'*/ ' $a$ /* $a$ /* /* */ */ */ -- x\n# y\n`z`")
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []Dialect{PostgreSQL, MySQL} {
			got := d.Extract(s)
			checkWellFormed(t, d, s, got)
			for _, v := range []string{s + " ", " " + s, s + "\n", "\t" + s + "\r\n"} {
				if g := d.Extract(v); g != got {
					t.Fatalf("%s: Extract(%q) = %+v but Extract(%q) = %+v", d, s, got, v, g)
				}
			}
			l := lexer{d: d, s: s + "\n"}
			for _, ok := l.next(); ok; _, ok = l.next() {
			}
			if !l.open && !l.exec {
				const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
				want := gate.Request{Reason: "fuzz me", TraceID: tp[3:35], SpanID: tp[36:52]}
				if g := d.Extract(s + "\n/*reason='fuzz%20me',traceparent='" + tp + "'*/"); g != want {
					t.Fatalf("%s: comment after %q read as %+v", d, s, g)
				}
			}
			if g := d.Extract("SELECT " + quote(d, s)); g != (gate.Request{}) {
				t.Fatalf("%s: string literal %s yielded %+v", d, quote(d, s), g)
			}
		}
	})
}

// quote renders s as a string literal of dialect d.
func quote(d Dialect, s string) string {
	if d == MySQL {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func checkWellFormed(t *testing.T, d Dialect, s string, r gate.Request) {
	t.Helper()
	if len(r.Reason) > MaxReason || !utf8.ValidString(r.Reason) || strings.TrimSpace(r.Reason) != r.Reason {
		t.Fatalf("%s: Extract(%q): bad reason %q", d, s, r.Reason)
	}
	if (r.TraceID == "") != (r.SpanID == "") ||
		r.TraceID != "" && (len(r.TraceID) != 32 || !isHex(r.TraceID) || len(r.SpanID) != 16 || !isHex(r.SpanID)) {
		t.Fatalf("%s: Extract(%q): bad trace %q / %q", d, s, r.TraceID, r.SpanID)
	}
}
