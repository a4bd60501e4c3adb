package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the store's SQLite driver, for tampering with its file

	"github.com/gatehouse/gatehouse/internal/gate"
)

const (
	auditTrace = "0af7651916cd43dd8448eb211c80319c"
	auditSpan  = "b7ad6b7169203331"
)

// auditComment is a sqlcommenter comment as an agent framework writes it.
var auditComment = fmt.Sprintf("/* traceparent='00-%s-%s-01',reason='checking%%20refund%%20status' */", auditTrace, auditSpan)

// runCLI runs the gatehouse command line in-process.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(&out, &errb)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errb.String(), err
}

// wantExit checks that err is an *exitError with code and a message
// containing each of parts.
func wantExit(t *testing.T, err error, code int, parts ...string) {
	t.Helper()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != code {
		t.Fatalf("want exit code %d, got %v (%T)", code, err, err)
	}
	for _, p := range parts {
		if !strings.Contains(ee.Error(), p) {
			t.Fatalf("error %q does not contain %q", ee.Error(), p)
		}
	}
}

// TestE2EAuditTrail records a session with a reason and trace id, reads it
// back through the admin API and the CLI, verifies the hash chain, then
// tampers with the store as an attacker with access to it would and checks
// that verification finds the first bad record.
func TestE2EAuditTrail(t *testing.T) {
	forVariants(t, storeVariants, func(t *testing.T, v variant) {
		g := newGateway(t, gwOpts{variant: v})
		ctx := ctxT(t)
		const sub = "audit-agent"

		// The session: a commented simple query, a parameterised extended
		// query and a denied DROP.
		c := g.connect(t, sub, groupAgents)
		q1 := "SELECT id, status FROM orders WHERE status = 'refunded' AND id < 30 ORDER BY id " + auditComment
		rows, err := c.Query(ctx, q1, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatal(err)
		}
		n1 := countRows(t, rows)
		q2 := "SELECT id FROM orders WHERE customer_id = $1 AND status = $2 " + auditComment
		rows, err = c.Query(ctx, q2, 8, "paid")
		if err != nil {
			t.Fatal(err)
		}
		n2 := countRows(t, rows)
		_, err = c.Exec(ctx, "DROP TABLE orders "+auditComment)
		wantPgError(t, err, "DROP", "42501")
		closeConn(c)
		if n1 == 0 || n2 == 0 {
			t.Fatalf("the shop data gave empty results (%d, %d): the outcome checks would prove nothing", n1, n2)
		}

		auditor := g.token(t, subAuditor, groupSecurity)
		var list struct {
			Sessions []gate.SessionSummary `json:"sessions"`
		}
		poll(t, "the session listed as closed by the API", func() (bool, string) {
			code, body := g.api(t, auditor, "/api/sessions?sub="+sub, &list)
			return code == 200 && len(list.Sessions) == 1 && list.Sessions[0].Closed != nil, body
		})
		s := list.Sessions[0]
		if s.Identity == nil || s.Identity.Subject != sub || !slices.Equal(s.Identity.Groups, []string{groupAgents}) ||
			s.Target != (gate.Target{Name: "shop", Kind: "postgres"}) || s.User != sub || s.Protocol != "postgres" ||
			s.Steps != 3 || s.Denied != 1 || s.EndReason != "client terminated" {
			t.Fatalf("session summary: %+v (identity %+v)", s, s.Identity)
		}

		t.Run("API replay", func(t *testing.T) {
			var rec gate.SessionRecord
			if code, body := g.api(t, auditor, "/api/sessions/"+s.ID, &rec); code != 200 {
				t.Fatalf("GET session: %d %s", code, body)
			}
			if len(rec.Steps) != 3 {
				t.Fatalf("%d steps, want 3:\n%s", len(rec.Steps), describeSteps(&rec))
			}
			for i, st := range rec.Steps {
				if st.N != i+1 || (i > 0 && st.Time.Before(rec.Steps[i-1].Time)) || st.Time.Before(rec.Opened) {
					t.Fatalf("steps out of order:\n%s", describeSteps(&rec))
				}
			}
			wantReq := gate.Request{Reason: "checking refund status", TraceID: auditTrace, SpanID: auditSpan}
			st := rec.Steps[0]
			if st.Command.Text != q1 || st.Command.Params != nil || st.Command.Request != wantReq ||
				st.Command.Class.Kind != gate.KindRead || !slices.Equal(st.Command.Class.Statements, []string{"SELECT"}) ||
				!slices.ContainsFunc(st.Command.Class.Tables, func(s string) bool { return strings.HasSuffix(s, "orders") }) {
				t.Errorf("step 1 command: %+v", st.Command)
			}
			if st.Decision.Action != gate.Allow || st.Decision.Policy != "agents" || st.Decision.Rule != "reads" {
				t.Errorf("step 1 decision: %+v", st.Decision)
			}
			if o := st.Outcome; o == nil || o.Tag != fmt.Sprintf("SELECT %d", n1) || o.Rows != int64(n1) || o.Bytes <= 0 || o.Error != "" {
				t.Errorf("step 1 outcome: %+v", o)
			}
			st = rec.Steps[1]
			if st.Command.Text != q2 || !slices.Equal(st.Command.Params, []string{"8", "paid"}) || st.Command.Request != wantReq {
				t.Errorf("step 2 command: %+v", st.Command)
			}
			if o := st.Outcome; st.Decision.Action != gate.Allow || o == nil || o.Tag != fmt.Sprintf("SELECT %d", n2) || o.Rows != int64(n2) {
				t.Errorf("step 2: %+v %+v", st.Decision, o)
			}
			st = rec.Steps[2]
			d := st.Decision
			if st.Command.Class.Kind != gate.KindDDL || d.Action != gate.Deny || d.Policy != "agents" || d.Rule != "no-schema-or-admin" ||
				d.Message != "schema and admin changes are not allowed for agents" || st.Outcome != nil || st.Command.Request != wantReq {
				t.Errorf("step 3: %+v %+v %+v", st.Command, st.Decision, st.Outcome)
			}
		})

		t.Run("API filters and access", func(t *testing.T) {
			var byTrace struct {
				Sessions []gate.SessionSummary `json:"sessions"`
			}
			if code, body := g.api(t, auditor, "/api/sessions?trace_id="+auditTrace, &byTrace); code != 200 ||
				len(byTrace.Sessions) != 1 || byTrace.Sessions[0].ID != s.ID {
				t.Errorf("by trace id: %d %s", code, body)
			}
			if code, body := g.api(t, auditor, "/api/sessions?sub=nobody", nil); code != 200 || !strings.Contains(body, `"sessions": []`) {
				t.Errorf("unknown subject: %d %s", code, body)
			}
			if code, body := g.api(t, auditor, "/api/sessions/00000000000000000000000000000000", nil); code != 404 {
				t.Errorf("unknown session: %d %s", code, body)
			}
			for _, c := range []struct {
				name, token, path string
				code              int
			}{
				{"no token", "", "/api/sessions", 401},
				{"no token, one session", "", "/api/sessions/" + s.ID, 401},
				{"not a token", "hunter2", "/api/sessions", 401},
				{"the agent itself", g.token(t, sub, groupAgents), "/api/sessions?sub=" + sub, 403},
				{"the agent, its own session", g.token(t, sub, groupAgents), "/api/sessions/" + s.ID, 403},
			} {
				if code, body := g.api(t, c.token, c.path, nil); code != c.code || strings.Contains(body, auditTrace) {
					t.Errorf("%s: GET %s = %d %s, want %d", c.name, c.path, code, body, c.code)
				}
			}
		})

		t.Run("metrics", func(t *testing.T) {
			for series, want := range map[string]float64{
				"gatehouse_sessions_total":                  1,
				"gatehouse_sessions_open":                   0,
				`gatehouse_steps_total{decision="allow"}`:   2,
				`gatehouse_steps_total{decision="deny"}`:    1,
				"gatehouse_upstream_duration_seconds_count": 2,
				"gatehouse_audit_errors_total":              0,
			} {
				if got := g.metric(t, series); got != want {
					t.Errorf("%s = %v, want %v", series, got, want)
				}
			}
		})

		t.Run("CLI sessions list and show", func(t *testing.T) {
			t.Setenv("GATEHOUSE_URL", g.app.webURL)
			t.Setenv("GATEHOUSE_TOKEN", auditor)
			out, _, err := runCLI(t, "sessions", "list", "--sub", sub)
			if err != nil {
				t.Fatal(err)
			}
			line := regexp.MustCompile(`(?m)^` + s.ID + `\s+\S+ \S+\s+` + sub + `\s+shop\s+3\s+1\s+client terminated$`)
			if !strings.HasPrefix(out, "ID ") || !line.MatchString(out) {
				t.Errorf("sessions list:\n%s", out)
			}
			out, _, err = runCLI(t, "sessions", "show", s.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"session " + s.ID + "\n",
				"connection shop (postgres) from 127.0.0.1:",
				`as user "` + sub + `"`,
				"ALLOW by agents/reads\n    | " + q1 + "\n",
				fmt.Sprintf(`intent  reason="checking refund status" trace=%s`, auditTrace),
				fmt.Sprintf("result  SELECT %d, %d rows, ", n1, n1),
				`params  $1="8" $2="paid"`,
				"DENY by agents/no-schema-or-admin: schema and admin changes are not allowed for agents\n    | DROP TABLE orders",
				"kind    ddl  DROP TABLE",
				": client terminated\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("sessions show lacks %q:\n%s", want, out)
				}
			}
			t.Setenv("GATEHOUSE_TOKEN", g.token(t, sub, groupAgents))
			_, _, err = runCLI(t, "sessions", "list")
			if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "neither access.admins nor access.auditors") {
				t.Errorf("sessions list as the agent: %v", err)
			}
		})

		// Verification, then tampering with the stopped gateway's store.
		out, _, err := runCLI(t, "audit", "verify", "--config", g.cfgPath)
		if err != nil {
			t.Fatalf("audit verify on an intact trail: %v\n%s", err, out)
		}
		head := regexp.MustCompile(`(?m)^ok\s+(\d+) records, head (chain="` + g.node + `" seq=\d+ sha256=[0-9a-f]+)$`).FindStringSubmatch(out)
		if head == nil {
			t.Fatalf("audit verify output:\n%s", out)
		}
		g.stop()
		tm := openTamper(t, g)
		defer tm.db.Close()
		openSeq := tm.seq(t, s.ID, "session_open", 0)
		stepSeq := tm.seq(t, s.ID, "step", 1)
		if openSeq >= stepSeq {
			t.Fatalf("session_open at seq %d, step 1 at %d", openSeq, stepSeq)
		}

		t.Run("truncated tail needs an anchor", func(t *testing.T) {
			tm.exec(t, "DELETE FROM audit_records WHERE chain = ? AND seq = (SELECT max(seq) FROM audit_records WHERE chain = ?)", g.node, g.node)
			if out, _, err := runCLI(t, "audit", "verify", "--config", g.cfgPath); err != nil {
				t.Fatalf("without an anchor a shorter chain is valid: %v\n%s", err, out)
			}
			out, _, err := runCLI(t, "audit", "verify", "--config", g.cfgPath, "--anchor", head[2])
			wantExit(t, err, 1, "first bad record", "truncated")
			if !strings.HasPrefix(out, "BROKEN") {
				t.Errorf("output:\n%s", out)
			}
		})

		t.Run("changed statement text", func(t *testing.T) {
			tm.exec(t, tm.replaceBody+" WHERE chain = ? AND seq = ?", "refunded", "shipped", g.node, stepSeq)
			_, _, err := runCLI(t, "audit", "verify", "--config", g.cfgPath)
			wantExit(t, err, 1, fmt.Sprintf("first bad record: chain %q seq %d: hash:", g.node, stepSeq))
		})

		t.Run("changed index column", func(t *testing.T) {
			// The subject column is not hashed; verify re-derives it from
			// the body. This record comes before the changed step, so it is
			// now the first bad one.
			tm.exec(t, "UPDATE audit_records SET subject = ? WHERE chain = ? AND seq = ?", "someone-else", g.node, openSeq)
			_, _, err := runCLI(t, "audit", "verify", "--config", g.cfgPath, "--chain", g.node)
			wantExit(t, err, 1, fmt.Sprintf("first bad record: chain %q seq %d: index:", g.node, openSeq))
		})
	})
}

func countRows(t *testing.T, rows pgx.Rows) int {
	t.Helper()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// tamper is direct write access to a store's database, with its
// append-only triggers removed, as an attacker with the file or a database
// superuser has.
type tamper struct {
	db          *sql.DB
	postgres    bool
	replaceBody string // UPDATE ... SET body = replace(body, ?, ?)
}

func openTamper(t *testing.T, g *gateway) *tamper {
	t.Helper()
	tm := &tamper{postgres: g.opts.engine == "postgres"}
	var err error
	if tm.postgres {
		tm.db, err = sql.Open("pgx", g.storeURL)
		tm.replaceBody = "UPDATE audit_records SET body = convert_to(replace(convert_from(body, 'UTF8'), ?, ?), 'UTF8')"
	} else {
		tm.db, err = sql.Open("sqlite", g.sqlite+"?_busy_timeout=30000")
		tm.replaceBody = "UPDATE audit_records SET body = CAST(replace(CAST(body AS TEXT), ?, ?) AS BLOB)"
	}
	if err != nil {
		t.Fatal(err)
	}
	if tm.postgres {
		tm.exec(t, "ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only")
	} else {
		tm.exec(t, "DROP TRIGGER audit_records_no_update")
		tm.exec(t, "DROP TRIGGER audit_records_no_delete")
	}
	return tm
}

// rebind turns ? placeholders into $1, $2... for PostgreSQL.
func (tm *tamper) rebind(q string) string {
	if !tm.postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (tm *tamper) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	res, err := tm.db.ExecContext(ctxT(t), tm.rebind(q), args...)
	if err != nil {
		t.Fatalf("tamper %q: %v", q, err)
	}
	if strings.HasPrefix(q, "UPDATE") || strings.HasPrefix(q, "DELETE") {
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("tamper %q changed %d rows, want 1", q, n)
		}
	}
}

func (tm *tamper) seq(t *testing.T, session, kind string, step int) int64 {
	t.Helper()
	var seq int64
	err := tm.db.QueryRowContext(ctxT(t), tm.rebind("SELECT seq FROM audit_records WHERE session_id = ? AND kind = ? AND step = ?"), session, kind, step).Scan(&seq)
	if err != nil {
		t.Fatalf("seq of %s %s %d: %v", session, kind, step, err)
	}
	return seq
}

// TestE2EAuditParamsReadable: bind parameters are recorded as text an
// auditor can read, whichever format the client chose; pgx sends most
// types in binary.
func TestE2EAuditParamsReadable(t *testing.T) {
	g := newGateway(t, gwOpts{})
	ctx := ctxT(t)
	c := g.connect(t, "param-agent", groupAgents)
	before := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	q := "SELECT count(*) FROM orders WHERE id = $1 AND created_at < $2 AND status = $3 AND total > $4"
	var n int
	if err := c.QueryRow(ctx, q, 7, before, "paid", 100).Scan(&n); err != nil {
		t.Fatal(err)
	}
	closeConn(c)
	st := stepByText(t, g.closedSession(t, "param-agent"), q)
	if len(st.Command.Params) != 4 {
		t.Fatalf("params %q", st.Command.Params)
	}
	if want := []string{"7", "2030-01-02 03:04:05Z", "paid"}; !slices.Equal(st.Command.Params[:3], want) {
		t.Errorf("params %q, want %q first", st.Command.Params, want)
	}
	t.Run("numeric", func(t *testing.T) {
		if got := st.Command.Params[3]; got != "100" {
			t.Errorf("the numeric parameter 100 is recorded as %q", got)
		}
	})
}
