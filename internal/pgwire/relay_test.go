package pgwire

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgErr(t *testing.T, err error) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PostgreSQL error, got %v", err)
	}
	return pe
}

func TestQueryThroughGatewayIsRecorded(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM items WHERE id > $1", 1).Scan(&n); err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}
	ev, ok := h.rec.WaitFor(5*time.Second, func(ev []gate.Event) bool {
		for _, e := range ev {
			if e.Kind == gate.EventStepResult && e.Outcome.Rows == 1 {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no step result; events %+v", ev)
	}
	if ev[0].Kind != gate.EventSessionOpen || ev[0].Session.Identity.Subject != "agent-1" || ev[0].Session.User != "agent" {
		t.Fatalf("first event = %+v", ev[0])
	}
	var step *gate.Event
	for i := range ev {
		if ev[i].Kind == gate.EventStep && strings.Contains(ev[i].Command.Text, "count(*)") {
			step = &ev[i]
		}
	}
	if step == nil || step.Decision.Action != gate.Allow || len(step.Command.Params) != 1 || step.Command.Params[0] != "1" {
		t.Fatalf("step = %+v", step)
	}
}

func TestDeniedStatementKeepsSessionUsable(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
		_, err := c.Exec(ctx, "DROP TABLE items", mode)
		pe := pgErr(t, err)
		if pe.Code != "42501" || !strings.Contains(pe.Message, "gatehouse: denied by rule test/kinds: ddl is not allowed") {
			t.Fatalf("mode %v: %s %s", mode, pe.Code, pe.Message)
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM items", mode).Scan(&n); err != nil || n != 3 {
			t.Fatalf("mode %v: after denial: %d %v", mode, n, err)
		}
	}
	h.direct(t, "SELECT 1 FROM items LIMIT 1") // the table still exists
}

func TestDeniedStatementAbortsTransaction(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO items VALUES (10, 'ten')")
	if _, err := c.Exec(ctx, "DROP TABLE items"); pgErr(t, err).Code != "42501" {
		t.Fatal("drop not denied")
	}
	// Like a real permission error, the denial aborted the transaction.
	if _, err := c.Exec(ctx, "SELECT 1"); pgErr(t, err).Code != "25P02" {
		t.Fatalf("want 25P02 in failed transaction, got %v", err)
	}
	tag, err := c.Exec(ctx, "COMMIT")
	if err != nil || tag.String() != "ROLLBACK" {
		t.Fatalf("commit = %q, %v", tag, err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 3 {
		t.Fatalf("insert survived the aborted transaction: %d %v", n, err)
	}
}

// A denied statement in the middle of a pipeline: the statements before it
// in the same implicit transaction are rolled back and the ones after it
// are skipped, exactly as if the server had refused it.
func TestDeniedStatementInPipeline(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	pc := c.PgConn()
	batch := &pgconn.Batch{}
	batch.ExecParams("INSERT INTO items VALUES (20, 'twenty')", nil, nil, nil, nil)
	batch.ExecParams("DROP TABLE items", nil, nil, nil, nil)
	batch.ExecParams("INSERT INTO items VALUES (21, 'twenty-one')", nil, nil, nil, nil)
	results, err := pc.ExecBatch(ctx, batch).ReadAll()
	if err == nil {
		t.Fatalf("batch succeeded: %+v", results)
	}
	if pe := pgErr(t, err); pe.Code != "42501" {
		t.Fatalf("batch error %v", pe)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 3 {
		t.Fatalf("rows = %d (%v): the pipeline was not rolled back", n, err)
	}
	// The insert before the denial ran (and was rolled back with the
	// pipeline); the denial is recorded; the insert after it was discarded
	// unseen, as the server discards messages after an error until Sync.
	var texts []string
	for _, e := range h.rec.Steps() {
		texts = append(texts, e.Decision.Action.String()+" "+e.Command.Text)
	}
	want := []string{"allow INSERT INTO items VALUES (20, 'twenty')", "deny DROP TABLE items", "allow SELECT count(*) FROM items"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Fatalf("steps = %q, want %q", texts, want)
	}
}

func TestUpstreamErrorInPipelineSkipsRest(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	batch := &pgx.Batch{}
	batch.Queue("INSERT INTO items VALUES (30, 'x')")
	batch.Queue("INSERT INTO items VALUES (1, 'duplicate')")
	batch.Queue("SELECT count(*) FROM items")
	err := c.SendBatch(ctx, batch).Close()
	if pe := pgErr(t, err); pe.Code != "23505" {
		t.Fatalf("want unique violation, got %v", pe)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 3 {
		t.Fatalf("count %d %v", n, err)
	}
}

func TestParseErrorIsDeniedWithParserMessage(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	_, err := c.Exec(context.Background(), "SYNTAX ERROR here")
	pe := pgErr(t, err)
	if pe.Code != "42601" || !strings.Contains(pe.Message, `syntax error at or near "SYNTAX"`) {
		t.Fatalf("%s %s", pe.Code, pe.Message)
	}
	steps := h.rec.Steps()
	if len(steps) == 0 || steps[len(steps)-1].Decision.Action != gate.Deny {
		t.Fatalf("parse failure not recorded as a denied step: %+v", steps)
	}
}

func TestAuditFailureRefusesStatement(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	h.rec.SetFail(gatetest.ErrInjected)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		_, err := c.Exec(ctx, "INSERT INTO items VALUES (40, 'unrecorded')", mode)
		pe := pgErr(t, err)
		if pe.Code != "58000" || !strings.Contains(pe.Message, "audit store unavailable") {
			t.Fatalf("mode %v: %s %s", mode, pe.Code, pe.Message)
		}
	}
	h.rec.SetFail(nil)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM items WHERE id = 40").Scan(&n); err != nil || n != 0 {
		t.Fatalf("an unrecorded statement ran: %d %v", n, err)
	}
}

func TestCopyInAndOut(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	pc := c.PgConn()
	tag, err := pc.CopyFrom(ctx, strings.NewReader("50\tfifty\n51\tfifty-one\n"), "COPY items FROM STDIN")
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("copy from: %v %v", tag, err)
	}
	var out bytes.Buffer
	tag, err = pc.CopyTo(ctx, &out, "COPY (SELECT id FROM items ORDER BY id) TO STDOUT")
	if err != nil || out.String() != "1\n2\n3\n50\n51\n" {
		t.Fatalf("copy to: %q %v", out.String(), err)
	}
}

func TestCancelRequest(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), "SELECT pg_sleep(60)")
		errc <- err
	}()
	// Wait until the sleep runs upstream, then cancel through the gateway.
	admin := connect(t, h.pg.SuperDSN())
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the query never started upstream")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.PgConn().CancelRequest(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if pe := pgErr(t, err); pe.Code != "57014" {
			t.Fatalf("want query_canceled, got %v", pe)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancel had no effect")
	}
	// A cancel request with a wrong key is ignored.
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 3 {
		t.Fatalf("after cancel: %d %v", n, err)
	}
}

func mustExec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
