package mask

import (
	"strings"
	"testing"
)

// benchText builds about 64 KiB of log-like and note-like mixed text: most
// lines carry no personal data (order numbers, timestamps, versions, UUIDs,
// digests, prices), one in eight carries the value pii.
func benchText(pii string) []byte {
	clean := []string{
		"2024-01-15T10:30:00Z INFO order ORD-2024-001234 shipped to warehouse 7, 3 items, total 149.99 EUR",
		"request 550e8400-e29b-41d4-a716-446655440000 served in 12ms by api v1.2.3 (build 10.0.19045)",
		"commit 4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 merged; tests 1532 passed, 0 failed",
		"Customer asked about delivery times for the blue model; promised a call back on Monday.",
		`{"status":"ok","items":[{"sku":"SKU-88231","qty":2,"price":19.5},{"sku":"SKU-11","qty":1}]}`,
		"Temperature 21.5 C, humidity 40%, sensor 12 of 48 reporting, firmware 2.0.0.15 up to date",
		"SELECT id, name, created_at FROM products WHERE category = 'garden' ORDER BY id LIMIT 50",
	}
	var b strings.Builder
	for i := 0; b.Len() < 64<<10; i++ {
		if i%8 == 7 && pii != "" {
			b.WriteString("Note: customer gave " + pii + " when calling about order 1234.\n")
			continue
		}
		b.WriteString(clean[i%len(clean)])
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

var benchPII = map[string]string{
	"email":       "alice.smith+orders@example.org",
	"phone":       "+44 20 7946 0958",
	"credit_card": "4111 1111 1111 1111",
	"ssn":         "123-45-6789",
	"iban":        "DE89 3704 0044 0532 0130 00",
	"ip":          "203.0.113.7",
	"secret":      "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
}

// BenchmarkDetector runs one detector at a time (redact) over mixed text
// where one line in eight holds a value it detects.
func BenchmarkDetector(b *testing.B) {
	for _, name := range builtinNames {
		b.Run(name, func(b *testing.B) {
			m, err := New(Config{Detectors: []string{name}})
			if err != nil {
				b.Fatal(err)
			}
			text := benchText(benchPII[name])
			buf := make([]byte, 0, 2*len(text))
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = m.MaskText(buf[:0], text, nil)
			}
		})
	}
}

// BenchmarkAll runs every detector over the same mixed text, with a value
// of every kind in it, per strategy.
func BenchmarkAll(b *testing.B) {
	var pii []string
	for _, name := range builtinNames {
		pii = append(pii, benchPII[name])
	}
	text := benchText(strings.Join(pii, ", "))
	for _, strategy := range []string{"redact", "partial", "hash"} {
		b.Run(strategy, func(b *testing.B) {
			m, err := New(Config{Detectors: []string{"all"}, Strategy: strategy, Key: testKey})
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, 2*len(text))
			var c Counts
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = m.MaskText(buf[:0], text, &c)
			}
		})
	}
}

// BenchmarkNoPII is the common case: every detector, text with nothing to
// mask. It must not allocate.
func BenchmarkNoPII(b *testing.B) {
	m, err := New(Config{Detectors: []string{"all"}, Custom: []CustomPattern{{"employee_id", `EMP-[0-9]{6}`}}})
	if err != nil {
		b.Fatal(err)
	}
	text := benchText("")
	buf := make([]byte, 0, len(text))
	var c Counts
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = m.MaskText(buf[:0], text, &c)
	}
	if c.Total() != 0 {
		b.Fatalf("masked %d spans in clean text", c.Total())
	}
}

// BenchmarkShortValues masks typical short column values one by one, as the
// relay does per DataRow field.
func BenchmarkShortValues(b *testing.B) {
	m, err := New(Config{Detectors: []string{"all"}})
	if err != nil {
		b.Fatal(err)
	}
	vals := [][]byte{[]byte("Alice Smith"), []byte("42"), []byte("2024-01-15 10:30:00+00"),
		[]byte("Garden hose, 25 m, green"), []byte("alice@example.org"), []byte("shipped")}
	total := 0
	for _, v := range vals {
		total += len(v)
	}
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range vals {
			buf, _ = m.MaskText(buf[:0], v, nil)
		}
	}
}

// BenchmarkColumnMask is the lineage path: a protected column's value.
func BenchmarkColumnMask(b *testing.B) {
	m, err := New(Config{Key: testKey, Strategies: map[string]string{"t.h": "hash", "t.p": "partial"}})
	if err != nil {
		b.Fatal(err)
	}
	v := []byte("alice.smith@example.org")
	for _, col := range []string{"t.h", "t.p", "t.r"} {
		c := m.Column(col)
		b.Run(c.Strategy().String(), func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.SetBytes(int64(len(v)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = c.Mask(buf[:0], oidText, v)
			}
		})
	}
}
