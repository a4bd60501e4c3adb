package mask

import (
	"regexp"
	"strings"
	"testing"
)

var testKey = []byte("0123456789abcdef-gateway-key")

// samples holds one free-text value per detector, the span the detector
// must mask, and its partial form.
var samples = []struct {
	det              string
	text, span, part string
}{
	{"email", "mail alice@example.org now", "alice@example.org", "a***@example.org"},
	{"phone", "call +1 (415) 555-2671 now", "+1 (415) 555-2671", "+* (***) ***-2671"},
	{"credit_card", "card 4111 1111-1111 1111 now", "4111 1111-1111 1111", "**** ****-**** 1111"},
	{"ssn", "ssn 123-45-6789 now", "123-45-6789", "***-**-6789"},
	{"iban", "iban DE89 3704 0044 0532 0130 00 now", "DE89 3704 0044 0532 0130 00", "DE** **** **** **** **30 00"},
	{"ip", "from 192.168.10.20 now", "192.168.10.20", "192.168.*.*"},
	{"ip", "from 2001:db8:85a3::8a2e:370:7334 now", "2001:db8:85a3::8a2e:370:7334", "2001:db8:*:*:*:*:*:*"},
	{"secret", "key AKIAIOSFODNN7EXAMPLE now", "AKIAIOSFODNN7EXAMPLE", "AKIA****"},
	{"secret", "use ghp_abcdefghijklmnopqrstuvwxyz0123456789 now", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_****"},
	{"secret", "db postgres://app:hunter2@db/x now", "hunter2", "****"},
	{"secret", "t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln now", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "eyJ****"},
	{"secret", "k -----BEGIN EC PRIVATE KEY-----MHcC-----END EC PRIVATE KEY----- now",
		"-----BEGIN EC PRIVATE KEY-----MHcC-----END EC PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----****-----END EC PRIVATE KEY-----"},
	{"employee_id", "emp EMP-123456 now", "EMP-123456", "***-**3456"},
}

var tokenRE = regexp.MustCompile(`^tok_[0-9a-f]{16}$`)

// TestStrategies masks every detector's sample with every strategy.
func TestStrategies(t *testing.T) {
	labels := map[string]string{"email": "<EMAIL>", "phone": "<PHONE>", "credit_card": "<CREDIT_CARD>",
		"ssn": "<SSN>", "iban": "<IBAN>", "ip": "<IP>", "secret": "<SECRET>", "employee_id": "<EMPLOYEE_ID>"}
	for _, strategy := range []string{"redact", "partial", "hash", "null"} {
		m, err := New(Config{Detectors: []string{"all"}, Strategy: strategy, Key: testKey,
			Custom: []CustomPattern{{"employee_id", `EMP-[0-9]{6}`}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			t.Run(strategy+"/"+s.det+"/"+s.span, func(t *testing.T) {
				var c Counts
				out, res := m.MaskText(nil, []byte(s.text), &c)
				id, _ := m.detectorID(s.det)
				if c[id] != 1 || c.Total() != 1 {
					t.Errorf("counts %v, want one under %s", c[:8], s.det)
				}
				if strategy == "null" {
					if res != Nulled || len(out) != 0 {
						t.Fatalf("got %q, %v; want Nulled", out, res)
					}
					return
				}
				if res != Masked {
					t.Fatalf("result %v", res)
				}
				before, after, _ := strings.Cut(s.text, s.span)
				got, ok := strings.CutPrefix(string(out), before)
				if ok {
					got, ok = strings.CutSuffix(got, after)
				}
				if !ok {
					t.Fatalf("text around the span changed: %q", out)
				}
				switch strategy {
				case "redact":
					if got != labels[s.det] {
						t.Errorf("got %q, want %q", got, labels[s.det])
					}
				case "partial":
					if got != s.part {
						t.Errorf("got %q, want %q", got, s.part)
					}
				case "hash":
					if !tokenRE.MatchString(got) {
						t.Errorf("got %q, want a token", got)
					}
				}
			})
		}
	}
}

// TestPerDetectorStrategies checks that Strategies override the default per
// detector, and that a null detector nulls the whole value even when other
// spans come first.
func TestPerDetectorStrategies(t *testing.T) {
	m, err := New(Config{Detectors: []string{"email", "credit_card", "ssn"}, Strategy: "redact",
		Strategies: map[string]string{"credit_card": "partial", "email": "hash", "ssn": "null"}, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	out, res := m.MaskText(nil, []byte("a@example.com paid 4111111111111111"), nil)
	if res != Masked || !regexp.MustCompile(`^tok_[0-9a-f]{16} paid \*{12}1111$`).Match(out) {
		t.Errorf("got %q", out)
	}
	var c Counts
	out, res = m.MaskText([]byte("keep"), []byte("a@example.com then 123-45-6789"), &c)
	if res != Nulled || string(out) != "keep" {
		t.Errorf("got %q %v, want dst unchanged and Nulled", out, res)
	}
	if c[SSN] != 1 {
		t.Errorf("ssn count %d", c[SSN])
	}
}

// TestHashStability: one key gives one token per value, in free text and in
// a column, whatever the formatting; another key gives another token.
func TestHashStability(t *testing.T) {
	mk := func(key string) *Masker {
		m, err := New(Config{Detectors: []string{"all"}, Strategy: "hash", Key: []byte(key)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, a2, b := mk("key-one-0123456789"), mk("key-one-0123456789"), mk("key-two-0123456789")
	tok := func(m *Masker, s string) string {
		out, _ := m.MaskText(nil, []byte(s), nil)
		return string(out)
	}
	t1 := tok(a, "4111 1111 1111 1111")
	if t1 != tok(a, "4111-1111-1111-1111") || t1 != tok(a2, "4111111111111111") {
		t.Errorf("one card, several tokens")
	}
	if t1 == tok(b, "4111 1111 1111 1111") {
		t.Errorf("different keys, same token")
	}
	if t1 == tok(a, "5555 5555 5555 4444") {
		t.Errorf("different cards, same token")
	}
	if tok(a, "Alice@Example.org") != tok(a, "alice@example.org") {
		t.Errorf("email case changes the token")
	}
	col, res := a.Column("customers.card").Mask(nil, oidText, []byte("4111111111111111"))
	if res != Masked || string(col) != t1 {
		t.Errorf("column token %q, free-text token %q", col, t1)
	}
	js, _ := a.Column("customers.card").Mask(nil, oidJSONB, []byte(`"4111111111111111"`))
	if string(js) != `"`+t1+`"` {
		t.Errorf("jsonb token %s", js)
	}
}

// TestIdempotent: masking an output again changes nothing.
func TestIdempotent(t *testing.T) {
	for _, strategy := range []string{"redact", "partial", "hash"} {
		m, err := New(Config{Detectors: []string{"all"}, Strategy: strategy, Key: testKey,
			Custom: []CustomPattern{{"employee_id", `EMP-[0-9]{6}`}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			once, _ := m.MaskText(nil, []byte(s.text), nil)
			twice, res := m.MaskText(nil, once, nil)
			if string(twice) != string(once) {
				t.Errorf("%s: %q -> %q -> %q", strategy, s.text, once, twice)
			}
			if strategy != "partial" && res != Clean {
				t.Errorf("%s: re-scan of %q found something", strategy, once)
			}
		}
	}
}
