package mask

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestMaskStream(t *testing.T) {
	m, err := New(Config{Detectors: []string{"all"}, Strategies: map[string]string{"ssn": "null"}})
	if err != nil {
		t.Fatal(err)
	}
	in := "mail a@example.com\r\n" +
		"ssn 123-45-6789 here\n" +
		"plain line\n" +
		"key -----BEGIN RSA PRIVATE KEY-----\n" +
		"MIIEowIBAAKCAQEAsecretsecret\n" +
		"moresecret==\n" +
		"-----END RSA PRIVATE KEY----- then 10.0.0.1\n" +
		"last line without newline 4111111111111111"
	want := "mail <EMAIL>\r\n" +
		"\n" +
		"plain line\n" +
		"key <SECRET>\n" +
		" then <IP>\n" +
		"last line without newline <CREDIT_CARD>"
	var out bytes.Buffer
	c, err := m.MaskStream(iotest.OneByteReader(strings.NewReader(in)), &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
	if c[Email] != 1 || c[SSN] != 1 || c[Secret] != 1 || c[IP] != 1 || c[CreditCard] != 1 || c.Total() != 5 {
		t.Errorf("counts %v", c[:7])
	}
}

func TestMaskStreamLongLine(t *testing.T) {
	m, err := New(Config{Detectors: []string{"all"}, MaxLine: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ok := strings.Repeat("x", 999) + " a@example.com\n" // over 1000 with the address
	fits := strings.Repeat("y", 990) + "\n"
	_, err = m.MaskStream(strings.NewReader(fits+ok+"after\n"), &out)
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err %v, want ErrLineTooLong", err)
	}
	if out.String() != fits {
		t.Errorf("wrote %d bytes, want only the first line", out.Len())
	}
	// Lines longer than the read buffer but within MaxLine are masked whole.
	m2, _ := New(Config{Detectors: []string{"all"}, MaxLine: 1 << 20})
	out.Reset()
	long := strings.Repeat("z", 200<<10) + " 4111 1111 1111 1111\n"
	if _, err := m2.MaskStream(strings.NewReader(long), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), " <CREDIT_CARD>\n") {
		t.Errorf("long line not masked")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMaskStreamWriteError(t *testing.T) {
	m, _ := New(Config{Detectors: []string{"all"}})
	_, err := m.MaskStream(strings.NewReader(strings.Repeat("line\n", 100000)), failWriter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err %v", err)
	}
}
