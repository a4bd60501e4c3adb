package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestExplain(t *testing.T) {
	e, err := New(matrixConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   gate.Input
		want []string // Trace.String() lines
	}{
		{"agent write without reason", gate.Input{Identity: agent, Target: shop, Command: updateCmd}, []string{
			"agents connections `[shop]` -> true",
			"agents match `\"agents\" in identity.groups` -> true",
			"agents/no-schema-or-admin when `command.kind in [\"ddl\", \"admin\"]` -> false",
			"agents/big-writes when `command.kind == \"write\" && command.estimated_rows > 100` -> false",
			"agents/unbounded-writes when `command.kind == \"write\" && !command.has_where` -> false",
			"agents/explained-writes when `command.kind == \"write\" && request.reason != \"\"` -> false",
			"agents/reads when `command.kind in [\"read\", \"transaction\", \"session\"]` -> false",
		}},
		{"reader on crm skips agents", gate.Input{Identity: reader, Target: crm, Command: selectCmd}, []string{
			"agents connections `[shop]` -> false",
			"ops connections `[*]` -> true",
			"ops match `identity.email.endsWith(\"@ops.example\") && identity.issuer == \"https://idp.example\"` -> false",
			"readers connections `[shop crm]` -> true",
			"readers match `\"readers\" in identity.groups` -> true",
			"readers/reads when `command.kind == \"read\"` -> true",
		}},
		{"unknown kind", gate.Input{Identity: reader, Target: crm, Command: cmd(0)}, []string{
			"kind `command.kind` -> error: kind is unknown",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, tr, err := e.Explain(context.Background(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := e.Decide(context.Background(), tc.in)
			if d.Action != want.Action || d.Policy != want.Policy || d.Rule != want.Rule || d.Message != want.Message {
				t.Errorf("Explain decided %+v, Decide %+v", d, want)
			}
			var got []string
			for _, s := range tr {
				got = append(got, s.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("trace:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestExplainError(t *testing.T) {
	e, err := New(one(RuleConfig{Name: "c", When: `identity.claims["level"] == "x"`, Action: "allow"}))
	if err != nil {
		t.Fatal(err)
	}
	d, tr, err := e.Explain(context.Background(), gate.Input{Identity: agent, Target: shop, Command: selectCmd})
	if err == nil || d.Action != gate.Deny {
		t.Fatalf("got %+v, %v", d, err)
	}
	last := tr[len(tr)-1]
	if last.Rule != "c" || last.Result || !strings.Contains(last.Error, "no such key: level") {
		t.Errorf("last trace %+v", last)
	}
}
