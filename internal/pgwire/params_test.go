package pgwire

import (
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// renderNumeric agrees with pgx's own binary numeric encoding.
func TestRenderNumeric(t *testing.T) {
	m := pgtype.NewMap()
	for _, s := range []string{"0", "100", "-100", "12345678.9", "0.0001", "-0.5", "3.14159265358979", "10000", "99999999999999999999", "1.10", "NaN", "Infinity", "-Infinity"} {
		var n pgtype.Numeric
		if err := n.Scan(s); err != nil {
			t.Fatal(err)
		}
		b, err := m.Encode(oidNumeric, pgtype.BinaryFormatCode, n, nil)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, ok := renderNumeric(b)
		if !ok || got != s {
			t.Errorf("%s: rendered %q (%v)", s, got, ok)
		}
	}
	if _, ok := renderNumeric([]byte{0, 5, 0, 0}); ok {
		t.Error("truncated numeric accepted")
	}
}
