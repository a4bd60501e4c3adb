package mask

import (
	"bytes"
	"strings"
	"testing"
)

// allDetectors is the masker the adversarial tests try to get past: every
// built-in detector, redact.
func allDetectors(t testing.TB) *Masker {
	t.Helper()
	m, err := New(Config{Detectors: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAdversarial tries to get card numbers, SSNs and other values past the
// masker. Each case states what it expects; the cases that stay unmasked
// are decisions or known limits documented in the package.
func TestAdversarial(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		// Card separators.
		{"card plain", "4111111111111111", "<CREDIT_CARD>"},
		{"card spaces", "4111 1111 1111 1111", "<CREDIT_CARD>"},
		{"card dashes", "4111-1111-1111-1111", "<CREDIT_CARD>"},
		{"card dots", "4111.1111.1111.1111", "<CREDIT_CARD>"},
		{"card mixed separators", "4111 1111-1111.1111", "<CREDIT_CARD>"},
		{"card double spaces", "4111  1111  1111  1111", "<CREDIT_CARD>"},
		{"card amex 4-6-5", "3782 822463 10005", "<CREDIT_CARD>"},
		{"card chunked 4-4-4-1", "4222 2222 2222 2", "<CREDIT_CARD>"},
		{"card no-break spaces", "4111\u00a01111\u00a01111\u00a01111", "<CREDIT_CARD>"},
		{"card zero-width spaces", "4111\u200b1111\u200b1111\u200b1111", "<CREDIT_CARD>"},
		{"card zero-width inside run", "41111111\u200b11111111", "<CREDIT_CARD>"},
		{"card en dashes", "4111–1111–1111–1111", "<CREDIT_CARD>"},
		// Glued text.
		{"card glued punctuation", "card:4111111111111111.", "card:<CREDIT_CARD>."},
		{"card glued letters", "x4111111111111111y", "x<CREDIT_CARD>y"},
		{"card glued word", "cardnumber4111111111111111", "cardnumber<CREDIT_CARD>"},
		{"card in parentheses", "(4111111111111111)", "(<CREDIT_CARD>)"},
		{"card after a quantity", "12 4111 1111 1111 1111", "12 <CREDIT_CARD>"},
		{"card in a query string", "?cc=4111111111111111&x=1", "?cc=<CREDIT_CARD>&x=1"},
		{"card negative sign", "-4111111111111111", "-<CREDIT_CARD>"},
		// Containers.
		{"card in JSON", `{"pan":"4111111111111111","n":1}`, `{"pan":"<CREDIT_CARD>","n":1}`},
		{"card in JSON number", `{"pan":4111111111111111}`, `{"pan":<CREDIT_CARD>}`},
		{"cards in a PostgreSQL array", "{4111111111111111,5555555555554444}", "{<CREDIT_CARD>,<CREDIT_CARD>}"},
		{"cards in a quoted array", `{"4111 1111 1111 1111","5555 5555 5555 4444"}`, `{"<CREDIT_CARD>","<CREDIT_CARD>"}`},
		{"card in XML", "<pan>4111111111111111</pan>", "<pan><CREDIT_CARD></pan>"},
		// Unicode digits.
		{"card full-width", "４１１１１１１１１１１１１１１１", "<CREDIT_CARD>"},
		{"card full-width ideographic spaces", "４１１１\u3000１１１１\u3000１１１１\u3000１１１１", "<CREDIT_CARD>"},
		{"card mixed widths", "4111 １１１１ 1111 1111", "<CREDIT_CARD>"},
		{"card Arabic-Indic digits (not recognised)", "٤١١١١١١١١١١١١١١١", "٤١١١١١١١١١١١١١١١"},
		// Line breaks.
		{"card wrapped in groups of four", "4111 1111\n1111 1111", "<CREDIT_CARD>"},
		{"card wrapped CRLF", "4111\r\n1111\r\n1111\r\n1111", "<CREDIT_CARD>"},
		{"card wrapped mid-group (not recognised)", "41111111\n11111111", "41111111\n11111111"},
		{"card tab-separated (not recognised: TSV columns)", "4111\t1111\t1111\t1111", "4111\t1111\t1111\t1111"},
		// Several and overlapping.
		{"two cards", "a 4111111111111111 b 5555555555554444 c", "a <CREDIT_CARD> b <CREDIT_CARD> c"},
		{"card and ssn adjacent", "4111111111111111 123-45-6789", "<CREDIT_CARD> <SSN>"},
		{"card after plus sign", "+1 4111 1111 1111 1111", "+1 <CREDIT_CARD>"},
		{"amex after phone keyword", "phone 378282246310005", "phone <CREDIT_CARD>"},
		{"card inside IBAN stays IBAN", "FR76 3000 6000 0112 3456 7890 189", "<IBAN>"},
		{"card Luhn-invalid", "4111 1111 1111 1112", "4111 1111 1111 1112"},
		{"card decimal fraction", "p=0.4111111111111111", "p=0.4111111111111111"},
		// SSNs.
		{"ssn dashes", "123-45-6789", "<SSN>"},
		{"ssn spaces", "123 45 6789", "<SSN>"},
		{"ssn dots", "123.45.6789", "<SSN>"},
		{"ssn mixed", "123-45 6789", "<SSN>"},
		{"ssn glued punctuation", "ssn:123-45-6789.", "ssn:<SSN>."},
		{"ssn glued letters", "SSN123-45-6789", "SSN<SSN>"},
		{"ssn keyword no separators", "SSN123456789", "SSN<SSN>"},
		{"ssn keyword and filler", "Social Security Number: 123456789", "Social Security Number: <SSN>"},
		{"ssn in JSON", `{"ssn":"123-45-6789"}`, `{"ssn":"<SSN>"}`},
		{"ssn in array", "{123-45-6789,234-56-7890}", "{<SSN>,<SSN>}"},
		{"ssn full-width", "１２３－４５－６７８９", "<SSN>"},
		{"ssn en dashes", "123–45–6789", "<SSN>"},
		{"ssn after a year", "born 1985 123-45-6789", "born 1985 <SSN>"},
		{"ssn excluded area 666", "666-45-6789", "666-45-6789"},
		{"ssn excluded area 9xx", "912-45-6789", "912-45-6789"},
		{"ssn excluded group", "123-00-6789", "123-00-6789"},
		{"ssn excluded serial", "123-45-0000", "123-45-0000"},
		{"ssn bare without keyword (not recognised)", "ref 123456789", "ref 123456789"},
		{"ssn chained by its own separator (an identifier)", "1-123-45-6789", "1-123-45-6789"},
		{"ssn broken by a newline (not recognised)", "123-45-\n6789", "123-45-\n6789"},
		// Other detectors under pressure.
		{"email upper case in JSON", `{"e":"ALICE@EXAMPLE.COM"}`, `{"e":"<EMAIL>"}`},
		{"email glued to CJK", "写信bob@example.com谢谢", "<EMAIL>谢谢"},
		{"emails in a list", "a@x.io;b@y.io", "<EMAIL>;<EMAIL>"},
		{"iban lower case", "de89370400440532013000", "<IBAN>"},
		{"url password with email-like host", "postgres://u:pw@db.example.com/x", "postgres://u:<SECRET>@db.example.com/x"},
		{"jwt in header", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "Authorization: Bearer <SECRET>"},
		{"pem without end", "k=-----BEGIN PRIVATE KEY-----MIIEvQ\nrest", "k=<SECRET>"},
		{"ip with port", "10.0.0.1:5432", "<IP>:5432"},
		{"ipv6 in brackets", "[2001:db8::1]:443", "[<IP>]:443"},
		{"ip version prefixed", "v10.0.0.1", "v10.0.0.1"},
	}
	m := allDetectors(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _ := m.MaskText(nil, []byte(c.in), nil)
			if string(out) != c.want {
				t.Errorf("MaskText(%q)\n got %q\nwant %q", c.in, out, c.want)
			}
		})
	}
}

// TestAdversarialLong hides values in a long value: far into it, at its
// very end, and many times.
func TestAdversarialLong(t *testing.T) {
	m := allDetectors(t)
	filler := strings.Repeat("lorem ipsum 12 dolor 3.5 sit amet, ", 30000) // ~1 MB
	in := filler + "4111 1111 1111 1111 " + filler + "123-45-6789"
	out, res := m.MaskText(nil, []byte(in), nil)
	if res != Masked || bytes.Contains(out, []byte("4111 1111")) || bytes.Contains(out, []byte("6789")) {
		t.Fatalf("long value not masked (res %v)", res)
	}
	if !bytes.HasSuffix(out, []byte("<SSN>")) {
		t.Errorf("tail %q", out[len(out)-20:])
	}
	many := strings.Repeat("4111111111111111,", 10000)
	var c Counts
	out, _ = m.MaskText(nil, []byte(many), &c)
	if c[CreditCard] != 10000 || bytes.Contains(out, []byte("4111")) {
		t.Errorf("counted %d cards of 10000", c[CreditCard])
	}
	// Pathological shapes must stay linear: a long digit chain, long runs
	// of local-part characters and many '@'.
	for _, s := range []string{
		strings.Repeat("1 ", 500000),
		strings.Repeat("a", 1<<20) + "@",
		strings.Repeat("a@", 500000),
		strings.Repeat("1.", 500000),
		strings.Repeat("a:", 500000),
		strings.Repeat("eyJ.", 250000),
		strings.Repeat("-----BEGIN ", 100000),
		strings.Repeat("x://a:", 200000),
	} {
		m.MaskText(nil, []byte(s), nil)
	}
}
