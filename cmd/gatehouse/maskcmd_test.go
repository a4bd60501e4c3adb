package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestMaskCommand(t *testing.T) {
	in := "user alice@example.org paid with 4111 1111 1111 1111\nno secrets here\nssn 123-45-6789 and ip 10.1.2.3\n"
	run := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		root := newRoot(&out, &errOut)
		root.SetIn(strings.NewReader(in))
		root.SetArgs(append([]string{"mask"}, args...))
		err := root.Execute()
		return out.String(), errOut.String(), err
	}
	out, summary, err := run()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"alice@example.org", "4111", "123-45-6789", "10.1.2.3"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q passed the masker:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "no secrets here\n") || strings.Count(out, "\n") != 3 {
		t.Errorf("clean text changed or lines lost:\n%s", out)
	}
	if !strings.Contains(summary, "email=1") || !strings.Contains(summary, "credit_card=1") {
		t.Errorf("summary %q", summary)
	}
	out, _, err = run("--detectors", "credit_card", "--strategy", "partial")
	if err != nil || !strings.Contains(out, "**** **** **** 1111") || !strings.Contains(out, "alice@example.org") {
		t.Errorf("partial cards only: %q %v", out, err)
	}
	if _, _, err := run("--detectors", "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown detector: %v", err)
	}
}
