package mask

import (
	"encoding/json"
	"testing"
)

// PostgreSQL type OIDs used below besides those value.go names.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidXML         = 142
	oidFloat8      = 701
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
	oidTextArray   = 1009
	oidInet        = 869
)

func TestHoldsText(t *testing.T) {
	for _, oid := range []uint32{oidText, oidVarchar, oidBPChar, oidName, oidUnknown, oidJSON, oidJSONB} {
		if !HoldsText(oid) {
			t.Errorf("HoldsText(%d) = false", oid)
		}
	}
	for _, oid := range []uint32{0, oidBool, oidBytea, oidChar, oidInt8, oidInt2, oidInt4, oidXML, oidFloat8,
		oidDate, oidTimestamp, oidTimestampTZ, oidNumeric, oidUUID, oidTextArray, oidInet, 16384} {
		if HoldsText(oid) {
			t.Errorf("HoldsText(%d) = true", oid)
		}
	}
}

// TestMaskValueTypes masks whole values of protected columns of many types
// with every strategy: text-like types hold the mask, the others are NULL,
// JSON types get valid JSON.
func TestMaskValueTypes(t *testing.T) {
	m, err := New(Config{Strategy: "redact", Key: testKey, Strategies: map[string]string{
		"customers.email": "hash", "*.card_number": "partial", "billing.accounts.iban": "partial",
		"customers.ssn": "null", "customers.note": "redact", "customers.name": "partial"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		column string
		oid    uint32
		in     string
		want   string // "" with null
		null   bool
	}{
		{"public.customers.note", oidText, "anything", "<REDACTED>", false},
		{"public.customers.note", oidVarchar, "", "<REDACTED>", false},
		{"public.customers.note", oidInt4, "42", "", true},
		{"public.customers.note", oidDate, "2024-01-15", "", true},
		{"public.customers.note", oidUUID, "550e8400-e29b-41d4-a716-446655440000", "", true},
		{"public.customers.note", oidJSONB, `{"a":1}`, `"<REDACTED>"`, false},
		{"public.customers.note", oidJSON, `"x"`, `"<REDACTED>"`, false},
		{"public.customers.note", oidBytea, `\x0102`, "", true},
		{"public.customers.note", oidTextArray, `{a,b}`, "", true},
		{"public.customers.ssn", oidText, "123-45-6789", "", true},
		{"public.customers.ssn", oidInt8, "123456789", "", true},
		{"shop.orders.card_number", oidText, "4111 1111 1111 1111", "**** **** **** 1111", false},
		{"orders.card_number", oidBPChar, "4111111111111111    ", "************1111    ", false},
		{"orders.card_number", oidInt8, "4111111111111111", "", true},
		{"billing.accounts.iban", oidVarchar, "DE89370400440532013000", "DE****************3000", false},
		{"other.accounts.iban", oidVarchar, "DE89370400440532013000", "<REDACTED>", false},
		{"customers.name", oidText, "Jonathan Smith", "******** *mith", false},
		{"customers.name", oidJSONB, `"a\"b"`, `"*\"*"`, false},
		{"customers.name", oidJSON, `"Ann \"The\" Smith-Jones"`, `"*** \"***\" *****-*ones"`, false},
	}
	for _, c := range cases {
		out, res := m.MaskValue([]byte("pre"), c.column, c.oid, []byte(c.in))
		if c.null {
			if res != Nulled || string(out) != "pre" {
				t.Errorf("%s oid %d %q: got %q %v, want Nulled", c.column, c.oid, c.in, out, res)
			}
			continue
		}
		if res != Masked || string(out) != "pre"+c.want {
			t.Errorf("%s oid %d %q: got %q %v, want %q", c.column, c.oid, c.in, out, res, "pre"+c.want)
		}
		if c.oid == oidJSON || c.oid == oidJSONB {
			if !json.Valid(out[3:]) {
				t.Errorf("%s: not JSON: %s", c.column, out[3:])
			}
		}
	}
	// hash on an email column: a token, also for a JSON string.
	h, _ := m.MaskValue(nil, "customers.email", oidText, []byte("a@example.com"))
	if !tokenRE.Match(h) {
		t.Errorf("hash column %q", h)
	}
	if h2, res := m.MaskValue(nil, "customers.email", oidInt4, []byte("7")); res != Nulled || len(h2) != 0 {
		t.Errorf("hash on int4 must be NULL")
	}
}

// TestColumnMatching checks the Strategies column keys' matching rules.
func TestColumnMatching(t *testing.T) {
	m, err := New(Config{Strategy: "redact", Key: testKey, Strategies: map[string]string{
		"*.card_number": "partial", "payments.card_number": "hash", "public.payments.card_number": "null",
		"customers.email": "hash"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Strategy{
		"public.payments.card_number": Null,
		"other.payments.card_number":  Hash,
		"payments.card_number":        Hash,
		"orders.card_number":          Partial,
		"card_number":                 Redact, // less qualified than every key
		"public.customers.email":      Hash,
		"public.customers.Email":      Redact, // case-sensitive
		"public.customers.phone":      Redact,
	} {
		if got := m.Column(name).Strategy(); got != want {
			t.Errorf("Column(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestMaskValueAllocs: masking a column value into a buffer with room does
// not allocate.
func TestMaskValueAllocs(t *testing.T) {
	m, err := New(Config{Strategy: "hash", Key: testKey, Strategies: map[string]string{"t.p": "partial"}})
	if err != nil {
		t.Fatal(err)
	}
	col, part := m.Column("t.c"), m.Column("t.p")
	buf := make([]byte, 0, 256)
	v := []byte("alice@example.org")
	if n := testing.AllocsPerRun(100, func() {
		buf, _ = col.Mask(buf[:0], oidText, v)
		buf, _ = part.Mask(buf[:0], oidVarchar, v)
	}); n != 0 {
		t.Errorf("Column.Mask allocates %.1f times per run", n)
	}
}
