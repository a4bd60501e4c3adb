package pgwire

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
	"github.com/gatehouse/gatehouse/internal/mask"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// tableAnalyzer stands in for the lineage analysis: verdicts by statement
// text, and the direct check by table OID and attribute number from the
// real catalog.
type tableAnalyzer struct {
	verdicts map[string][]stmtVerdict
	ssnOID   uint32
	ssnAtt   uint16
}

func (a *tableAnalyzer) analyze(_ context.Context, _ *Upstream, sql string, m *Masking, _ sqlpg.LineageResolver) (*maskState, error) {
	v, ok := a.verdicts[sql]
	if !ok {
		v = []stmtVerdict{nil} // unknown statement: a verdict count that cannot match
	}
	var preds []string
	if strings.Contains(sql, "WHERE ssn") {
		preds = []string{"public.customers.ssn"}
	}
	return &maskState{m: m, verdicts: v, predicates: preds, byOID: func(oid uint32, att uint16) (string, bool) {
		if oid == a.ssnOID && att == a.ssnAtt {
			return "public.customers.ssn", true
		}
		return "", false
	}}, nil
}

const (
	qAll     = "SELECT id, ssn, notes FROM customers ORDER BY id"
	qDerived = "SELECT id, upper(ssn) AS s FROM customers ORDER BY id"
)

func maskingHarness(t *testing.T, denyUnresolved bool) (*harness, *tableAnalyzer) {
	m, err := mask.New(mask.Config{Detectors: []string{"email", "credit_card"}, Strategy: "redact"})
	if err != nil {
		t.Fatal(err)
	}
	an := &tableAnalyzer{verdicts: map[string][]stmtVerdict{
		qAll:     {{{}, {}, {}}}, // lineage says nothing: the direct check must catch ssn
		qDerived: {{{}, {protected: "public.customers.ssn"}}},
		"SELECT notes FROM customers WHERE ssn LIKE '1%'": {{{}}},
	}}
	h := newHarness(t, func(c *Config, g *gate.Config) {
		c.Masks = map[string]*Masking{"test": {Masker: m, Columns: []string{"customers.ssn"}, DenyUnresolved: denyUnresolved}}
		g.Policy = namedPolicy{"test", func(in gate.Input) gate.Decision {
			if len(in.Command.Class.MaskedPredicates) > 0 {
				return gate.Decision{Action: gate.Deny, Policy: "test", Rule: "oracle", Message: "no predicates on masked columns"}
			}
			return gate.Decision{Action: gate.Allow, Policy: "test", Rule: "all"}
		}}
	})
	h.srv.analyzer = an
	admin := connect(t, h.pg.DSN(h.db.Name, h.db.User, h.db.Password))
	for _, sql := range []string{`CREATE TABLE customers (id int PRIMARY KEY, ssn text, notes text)`,
		`INSERT INTO customers VALUES (1, '123-45-6789', 'call bob@example.org'), (2, NULL, 'card 4111 1111 1111 1111 on file'), (3, '987-65-4321', 'nothing here')`} {
		if _, err := admin.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.QueryRow(context.Background(), `SELECT attrelid::oid::int8, attnum FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attname = 'ssn'`).Scan(&an.ssnOID, &an.ssnAtt); err != nil {
		t.Fatal(err)
	}
	return h, an
}

func rowsOf(t *testing.T, c *pgx.Conn, sql string, mode pgx.QueryExecMode) [][]any {
	t.Helper()
	rows, err := c.Query(context.Background(), sql, mode)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func TestMaskingSimpleAndExtended(t *testing.T) {
	h, _ := maskingHarness(t, false)
	c := connect(t, h.dsn(tokenAgent))
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
		got := rowsOf(t, c, qAll, mode)
		if len(got) != 3 || len(got[0]) != 3 {
			t.Fatalf("mode %v: row or column count changed: %v", mode, got)
		}
		for _, r := range got {
			s := fmtRow(r)
			for _, secret := range []string{"123-45-6789", "987-65-4321", "bob@example.org", "4111"} {
				if strings.Contains(s, secret) {
					t.Fatalf("mode %v: %q reached the client: %v", mode, secret, r)
				}
			}
		}
		if got[0][0] != int32(1) || got[1][1] != nil || got[2][2] != "nothing here" {
			t.Fatalf("mode %v: untouched values changed: %v", mode, got)
		}
		if got[0][1] != "<REDACTED>" || got[0][2] != "call <EMAIL>" {
			t.Fatalf("mode %v: masked values %v", mode, got[0])
		}
		// A derived column, marked by the lineage.
		d := rowsOf(t, c, qDerived, mode)
		if d[0][1] != "<REDACTED>" || d[1][1] != nil {
			t.Fatalf("mode %v: derived %v", mode, d)
		}
	}
	// The audit counts masked values and keeps a masked preview.
	ev, ok := h.rec.WaitFor(5*time.Second, func(ev []gate.Event) bool {
		for _, e := range ev {
			if e.Kind == gate.EventStepResult && e.Outcome.Masked["column:public.customers.ssn"] == 2 {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no step result with masked counts: %+v", ev)
	}
	for _, e := range ev {
		if e.Kind != gate.EventStepResult || e.Outcome.Preview == nil {
			continue
		}
		p := e.Outcome.Preview
		if strings.Contains(fmtRow([]any{p.Rows}), "123-45-6789") {
			t.Fatalf("the audit preview holds an unmasked value: %v", p.Rows)
		}
		if e.Outcome.Masked["detector:email"] != 1 || e.Outcome.Masked["detector:credit_card"] != 1 {
			t.Fatalf("detector counts %v", e.Outcome.Masked)
		}
		return
	}
	t.Fatal("no preview recorded")
}

// When the lineage does not describe the result the server returned, every
// column is masked whole.
func TestMaskingMismatchMasksEverything(t *testing.T) {
	h, _ := maskingHarness(t, false)
	c := connect(t, h.dsn(tokenAgent))
	got := rowsOf(t, c, "SELECT id::text, notes FROM customers ORDER BY id", pgx.QueryExecModeSimpleProtocol)
	if got[2][0] != "<REDACTED>" || got[2][1] != "<REDACTED>" {
		t.Fatalf("%v", got)
	}
}

func TestMaskingDenyUnresolved(t *testing.T) {
	h, an := maskingHarness(t, true)
	an.verdicts["SELECT notes FROM customers"] = []stmtVerdict{{{unresolved: true}}}
	c := connect(t, h.dsn(tokenAgent))
	_, err := c.Exec(context.Background(), "SELECT notes FROM customers")
	if pe := pgErr(t, err); pe.Code != "42501" || !strings.Contains(pe.Message, "cannot be traced") {
		t.Fatalf("%s %s", pe.Code, pe.Message)
	}
}

func TestMaskedPredicatesReachPolicy(t *testing.T) {
	h, _ := maskingHarness(t, false)
	c := connect(t, h.dsn(tokenAgent))
	_, err := c.Exec(context.Background(), "SELECT notes FROM customers WHERE ssn LIKE '1%'")
	if pe := pgErr(t, err); pe.Code != "42501" || !strings.Contains(pe.Message, "test/oracle") {
		t.Fatalf("%s %s", pe.Code, pe.Message)
	}
}

// namedPolicy is a function policy that reports its name as the applicable
// policy (gate.PolicyMatcher), so its masking applies.
type namedPolicy struct {
	name string
	f    gatetest.PolicyFunc
}

func (p namedPolicy) Decide(ctx context.Context, in gate.Input) (gate.Decision, error) {
	return p.f.Decide(ctx, in)
}

func (p namedPolicy) Applicable(context.Context, gate.Input) (string, error) { return p.name, nil }

func fmtRow(r []any) string {
	var b strings.Builder
	for _, v := range r {
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(fmtAny(v), "\n", " "), "\t", " ")))
		b.WriteByte('|')
	}
	return b.String()
}

func fmtAny(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return v
	default:
		return strings.Trim(strings.ReplaceAll(strings.ReplaceAll(fmtSprint(v), "[", " "), "]", " "), " ")
	}
}
