package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// pythonWithPsycopg2 finds a Python 3 that can import psycopg2: the one on
// PATH, or Debian's (python3-psycopg2 installs into /usr/bin/python3's
// dist-packages, which a pyenv or venv python3 on PATH does not see).
func pythonWithPsycopg2(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			tried = append(tried, py+": not found")
			continue
		}
		out, err := exec.Command(path, "-c", "import psycopg2").CombinedOutput()
		if err == nil {
			return path
		}
		tried = append(tried, path+": "+strings.TrimSpace(string(out)))
	}
	t.Skipf("no python3 with psycopg2 (install the Debian package python3-psycopg2): %s", strings.Join(tried, "; "))
	return ""
}

// TestE2EPsycopg2 runs a small psycopg2 agent (testdata/e2e_psycopg2.py).
func TestE2EPsycopg2(t *testing.T) {
	py := pythonWithPsycopg2(t)
	script, err := filepath.Abs("testdata/e2e_psycopg2.py")
	if err != nil {
		t.Fatal(err)
	}
	forVariants(t, storeVariants, func(t *testing.T, v variant) {
		g := newGateway(t, gwOpts{variant: v})
		host, port := g.hostPort()
		ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, script)
		cmd.Env = cleanEnv("GH_HOST="+host, "GH_PORT="+port, "GH_TOKEN="+g.token(t, "py-agent", groupAgents),
			"PGDATESTYLE=SQL, DMY")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("the psycopg2 agent failed (exit %d):\n%s%s", ee.ExitCode(), stderr.String(), g.lastDenials(t, "py-agent"))
			}
			t.Fatal(err)
		}
		var got struct {
			DateStyle     string `json:"datestyle"`
			SSL           bool   `json:"ssl"`
			PaidFor8      int64  `json:"paid_for_8"`
			CreatedAtType string `json:"created_at_type"`
			Drop          struct {
				PgCode  string `json:"pgcode"`
				Message string `json:"message"`
			} `json:"drop"`
			Status7  string `json:"status_7"`
			Streamed int    `json:"streamed"`
		}
		if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
			t.Fatalf("agent output %q: %v\nstderr: %s", stdout.String(), err, stderr.String())
		}
		if !strings.HasPrefix(got.DateStyle, "ISO") || !got.SSL || got.CreatedAtType != "datetime" {
			t.Errorf("connection: DateStyle %q (psycopg2 sets ISO), ssl %v, created_at parsed as %s", got.DateStyle, got.SSL, got.CreatedAtType)
		}
		if want := g.directInt(t, "SELECT count(*) FROM orders WHERE status = 'paid' AND customer_id = 8"); got.PaidFor8 != want {
			t.Errorf("paid orders of customer 8: %d, want %d", got.PaidFor8, want)
		}
		if got.Drop.PgCode != "42501" || !strings.Contains(got.Drop.Message, "gatehouse: denied by rule agents/no-schema-or-admin") {
			t.Errorf("DROP: want InsufficientPrivilege naming the rule, got %+v", got.Drop)
		}
		var want7 string
		if err := g.direct(t).QueryRow(ctx, "SELECT status FROM orders WHERE id = 7").Scan(&want7); err != nil || got.Status7 != want7 {
			t.Errorf("status of order 7: %q, want %q (%v)", got.Status7, want7, err)
		}

		if got.Streamed != 300 {
			t.Errorf("the named cursor streamed %d rows, want 300", got.Streamed)
		}

		rec := g.closedSession(t, "py-agent")
		if rec.User != "py-agent" || rec.Protocol != "postgres" || rec.Target.Name != "shop" {
			t.Errorf("session: user %q protocol %q target %q", rec.User, rec.Protocol, rec.Target.Name)
		}
		set := stepByText(t, rec, "SET DATESTYLE")
		if set.Decision.Action != gate.Allow || set.Command.Class.Kind != gate.KindSession {
			t.Errorf("psycopg2's SET DATESTYLE: %s %s", set.Decision.Action, set.Command.Class.Kind)
		}
		drop := stepByText(t, rec, "DROP TABLE orders")
		if drop.Decision.Action != gate.Deny || drop.Decision.Rule != "no-schema-or-admin" || drop.Outcome != nil {
			t.Errorf("DROP step: %+v, outcome %+v", drop.Decision, drop.Outcome)
		}
		sel := stepByText(t, rec, "SELECT status FROM orders WHERE id = 7")
		wantReq := gate.Request{Reason: "checking refund status", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"}
		if sel.Command.Request != wantReq || sel.Outcome == nil || sel.Outcome.Rows != 1 {
			t.Errorf("commented SELECT: request %+v (want %+v), outcome %+v", sel.Command.Request, wantReq, sel.Outcome)
		}
		// psycopg2 opened three transactions (after rollback() and
		// commit()), and each BEGIN, ROLLBACK and COMMIT is a step.
		if b, r, c := countSteps(rec, "BEGIN"), countSteps(rec, "ROLLBACK"), countSteps(rec, "COMMIT"); b != 3 || r != 1 || c != 2 {
			t.Errorf("%d BEGIN, %d ROLLBACK, %d COMMIT steps, want 3, 1, 2\n%s", b, r, c, describeSteps(rec))
		}
		// The named cursor: DECLARE, then FETCH FORWARD 50 until a short
		// batch (7 fetches for 300 rows), then CLOSE; all reads.
		if d, f, c := countSteps(rec, `DECLARE "orders_stream"`), countSteps(rec, `FETCH FORWARD 50 FROM "orders_stream"`), countSteps(rec, `CLOSE "orders_stream"`); d != 1 || f != 7 || c != 1 {
			t.Errorf("named cursor: %d DECLARE, %d FETCH, %d CLOSE steps, want 1, 7, 1\n%s", d, f, c, describeSteps(rec))
		}
		for _, st := range rec.Steps {
			if st.Decision.Action != gate.Allow && !strings.HasPrefix(st.Command.Text, "DROP") {
				t.Errorf("step %d %q was denied", st.N, st.Command.Text)
			}
		}
	})
}

// countSteps counts steps whose text starts with prefix (ignoring case).
func countSteps(rec *gate.SessionRecord, prefix string) int {
	n := 0
	for _, st := range rec.Steps {
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(st.Command.Text)), strings.ToUpper(prefix)) {
			n++
		}
	}
	return n
}
