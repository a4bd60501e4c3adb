package mask

import (
	"errors"
	"strings"
	"testing"
)

// TestConfigErrors: each invalid configuration is refused with an error
// that names what is wrong.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // substring of the error
	}{
		{"unknown detector", Config{Detectors: []string{"emial"}}, `"emial"`},
		{"unknown strategy", Config{Strategy: "scramble"}, `"scramble"`},
		{"unknown per-detector strategy", Config{Detectors: []string{"email"}, Strategies: map[string]string{"email": "blur"}}, `email: unknown strategy "blur"`},
		{"strategy for a disabled detector", Config{Detectors: []string{"email"}, Strategies: map[string]string{"ssn": "null"}}, `"ssn"`},
		{"bad column key", Config{Strategies: map[string]string{"customers..email": "null"}}, `"customers..email"`},
		{"partial wildcard", Config{Strategies: map[string]string{"cust*.email": "null"}}, `"cust*.email"`},
		{"bad custom name", Config{Custom: []CustomPattern{{"Employee", "E[0-9]+"}}}, `"Employee"`},
		{"custom takes a built-in name", Config{Custom: []CustomPattern{{"email", "E[0-9]+"}}}, `"email"`},
		{"custom defined twice", Config{Custom: []CustomPattern{{"emp", "E[0-9]+"}, {"emp", "F[0-9]+"}}}, `"emp": defined twice`},
		{"custom does not compile", Config{Custom: []CustomPattern{{"emp", "E[0-9+"}}}, `"emp": pattern`},
		{"custom matches empty", Config{Custom: []CustomPattern{{"emp", "E*"}}}, `matches the empty string`},
		{"hash without key", Config{Strategy: "hash"}, "key"},
		{"hash per column with short key", Config{Strategies: map[string]string{"t.c": "hash"}, Key: []byte("short")}, "key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(c.cfg)
			if err == nil {
				t.Fatalf("New accepted %+v", c.cfg)
			}
			if m != nil {
				t.Errorf("New returned a Masker with an error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %s", err, c.want)
			}
		})
	}
	if _, err := New(Config{Strategy: "hash"}); !errors.Is(err, ErrNoKey) {
		t.Errorf("hash without key: %v, want ErrNoKey", err)
	}
	tooMany := make([]CustomPattern, MaxCustom+1)
	for i := range tooMany {
		tooMany[i] = CustomPattern{Name: "c" + string(rune('a'+i)), Pattern: "x"}
	}
	if _, err := New(Config{Custom: tooMany}); err == nil {
		t.Errorf("%d custom patterns accepted", len(tooMany))
	}
}

// TestConfigZero: the zero Config masks no free text and redacts columns.
func TestConfigZero(t *testing.T) {
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	out, res := m.MaskText(nil, []byte("a@example.com 4111111111111111"), nil)
	if res != Clean || string(out) != "a@example.com 4111111111111111" {
		t.Errorf("zero config masked free text: %q", out)
	}
	if v, _ := m.MaskValue(nil, "t.c", oidText, []byte("x")); string(v) != "<REDACTED>" {
		t.Errorf("zero config column: %q", v)
	}
	if len(m.Detectors()) != 0 {
		t.Errorf("detectors %v", m.Detectors())
	}
}

// TestTally turns counts into the audit's keys.
func TestTally(t *testing.T) {
	m, err := New(Config{Detectors: []string{"email", "ssn", "emp"}, Custom: []CustomPattern{{"emp", `EMP-[0-9]{6}`}}})
	if err != nil {
		t.Fatal(err)
	}
	var c Counts
	m.MaskText(nil, []byte("a@x.io b@y.io 123-45-6789 EMP-000001"), &c)
	m.MaskText(nil, []byte("c@z.io"), &c)
	got := map[string]int64{"column:customers.email": 2}
	m.Tally(got, &c)
	want := map[string]int64{"column:customers.email": 2, "detector:email": 3, "detector:ssn": 1, "detector:emp": 1}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	var sum Counts
	sum.Add(&c)
	sum.Add(&c)
	if sum.Total() != 10 {
		t.Errorf("Add/Total: %d", sum.Total())
	}
	if m.Name(FirstCustom) != "emp" || m.Name(Email) != "email" {
		t.Errorf("names %q %q", m.Name(FirstCustom), m.Name(Email))
	}
}

// TestMaskTextAllocs: no allocation when nothing matches (given room in
// dst), nor when built-in detectors match with redact, partial or hash.
func TestMaskTextAllocs(t *testing.T) {
	clean := []byte(strings.Repeat("The order 1234 shipped on 2024-01-15 to the usual address. ", 20))
	pii := []byte("mail a@example.com, card 4111 1111 1111 1111, ssn 123-45-6789, ip 10.0.0.1")
	for _, strategy := range []string{"redact", "partial", "hash"} {
		m, err := New(Config{Detectors: []string{"all"}, Strategy: strategy, Key: testKey})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 4096)
		var c Counts
		if n := testing.AllocsPerRun(50, func() { buf, _ = m.MaskText(buf[:0], clean, &c) }); n != 0 {
			t.Errorf("%s: clean text allocates %.1f times", strategy, n)
		}
		if n := testing.AllocsPerRun(50, func() { buf, _ = m.MaskText(buf[:0], pii, &c) }); n != 0 {
			t.Errorf("%s: masking allocates %.1f times", strategy, n)
		}
	}
}
