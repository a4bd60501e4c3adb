package audit

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// engine is a store under test plus raw SQL access to its database, the
// way an attacker (or an outage) would reach it.
type engine struct {
	name string
	url  string
	// exec runs SQL with ? placeholders on a connection of its own.
	exec func(t *testing.T, q string, args ...any)
	// unlock drops the append-only guard, as someone tampering would.
	unlock func(t *testing.T)
	// breakInserts makes every insert into audit_records fail until
	// fixInserts; the store's connections stay up.
	breakInserts, fixInserts func(t *testing.T)
	// killConnections terminates the server side of every connection to
	// the database (PostgreSQL only).
	killConnections func(t *testing.T)
}

func (e engine) open(t *testing.T) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sqliteEngine(t *testing.T) engine {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	e := engine{name: "sqlite", url: "sqlite://" + path}
	e.open(t) // create and migrate
	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.exec = func(t *testing.T, q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e.unlock = func(t *testing.T) {
		e.exec(t, `DROP TRIGGER audit_records_no_update`)
		e.exec(t, `DROP TRIGGER audit_records_no_delete`)
	}
	e.breakInserts = func(t *testing.T) {
		e.exec(t, `CREATE TRIGGER injected_failure BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
	}
	e.fixInserts = func(t *testing.T) { e.exec(t, `DROP TRIGGER injected_failure`) }
	return e
}

func postgresEngine(t *testing.T) engine {
	pg := testenv.SharedPostgres(t)
	db := pg.NewDatabase(t)
	e := engine{name: "postgres", url: fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&synchronous_commit=on",
		url.PathEscape(db.User), url.PathEscape(db.Password), pg.Addr(), db.Name)}
	e.open(t)
	conn, err := pgx.Connect(context.Background(), pg.DSN(db.Name, db.User, db.Password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	e.exec = func(t *testing.T, q string, args ...any) {
		t.Helper()
		n := 0
		q2 := strings.Builder{}
		for _, c := range q {
			if c == '?' {
				n++
				q2.WriteString("$" + strconv.Itoa(n))
			} else {
				q2.WriteRune(c)
			}
		}
		if _, err := conn.Exec(context.Background(), q2.String(), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e.unlock = func(t *testing.T) { e.exec(t, `ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only`) }
	e.killConnections = func(t *testing.T) {
		t.Helper()
		err := pg.Exec(context.Background(), "", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '`+db.Name+`'`)
		if err != nil {
			t.Fatal(err)
		}
	}
	e.breakInserts = func(t *testing.T) {
		e.exec(t, `CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`)
		e.exec(t, `CREATE TRIGGER injected_failure BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION injected_failure()`)
	}
	e.fixInserts = func(t *testing.T) {
		e.exec(t, `DROP TRIGGER injected_failure ON audit_records`)
		e.exec(t, `DROP FUNCTION injected_failure()`)
	}
	return e
}

// factories make a fresh database of each engine.
var factories = []struct {
	name string
	make func(t *testing.T) engine
}{{"sqlite", sqliteEngine}, {"postgres", postgresEngine}}

// engines runs f against a fresh database of each engine.
func engines(t *testing.T, f func(t *testing.T, e engine)) {
	for _, fac := range factories {
		t.Run(fac.name, func(t *testing.T) { f(t, fac.make(t)) })
	}
}

func newRecorder(t *testing.T, st store.Store, chain string, mod ...func(*Config)) *Recorder {
	t.Helper()
	cfg := Config{Store: st, Chain: chain, Logger: testLogger(t)}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

var base = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Event builders.

func openEvent(session, conn, subject string, at time.Duration) gate.Event {
	return gate.Event{Kind: gate.EventSessionOpen, Time: base.Add(at), SessionID: session, Session: &gate.SessionInfo{
		Identity: &gate.Identity{Issuer: "https://idp.example", Subject: subject, Groups: []string{"agents"},
			Claims: map[string]any{"sub": subject, "azp": "agent", "n": 1.5}},
		Target: gate.Target{Name: conn, Kind: "postgres"}, ClientAddr: "10.0.0.7:5555", User: "agent", Protocol: "postgres",
	}}
}

func stepEvent(session string, n int, text string, action gate.Action, trace string, at time.Duration) gate.Event {
	return gate.Event{Kind: gate.EventStep, Time: base.Add(at), SessionID: session, Step: n,
		Command: &gate.Command{Text: text, Class: gate.Class{Kind: gate.KindRead, Statements: []string{"SELECT"}},
			Request: gate.Request{Reason: "check orders", TraceID: trace}},
		Decision: &gate.Decision{Action: action, Policy: "p", Rule: "r" + strconv.Itoa(n)}}
}

func resultEvent(session string, n int, rows int64, at time.Duration) gate.Event {
	return gate.Event{Kind: gate.EventStepResult, Time: base.Add(at), SessionID: session, Step: n,
		Outcome: &gate.Outcome{Tag: "SELECT " + strconv.FormatInt(rows, 10), Rows: rows, Duration: time.Millisecond}}
}

func closeEvent(session, reason string, at time.Duration) gate.Event {
	return gate.Event{Kind: gate.EventSessionClose, Time: base.Add(at), SessionID: session, Reason: reason}
}

func record(t *testing.T, r *Recorder, events ...gate.Event) {
	t.Helper()
	for _, e := range events {
		if err := r.Record(context.Background(), e); err != nil {
			t.Fatalf("Record(%s %s/%d): %v", e.Kind, e.SessionID, e.Step, err)
		}
	}
}

func scan(t *testing.T, st store.Store, chain string) []store.Record {
	t.Helper()
	var out []store.Record
	for r, err := range st.Scan(context.Background(), chain, 0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// testLogger sends the recorder's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
