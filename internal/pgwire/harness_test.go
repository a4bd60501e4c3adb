package pgwire

import (
	"context"
	"fmt"
	"github.com/jackc/pgx/v5/pgproto3"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// fakeClassifier stands in for sqlpg so that these tests exercise the wire
// protocol only: it classifies by the first keyword. "SYNTAX ERROR" fails to
// parse. The real classifier is tested in internal/sqlpg and end to end in
// cmd/gatehouse.
type fakeClassifier struct{}

func (fakeClassifier) Classify(sql string, _ sqlpg.Resolver) (*gate.Class, error) {
	s := strings.ToUpper(strings.TrimSpace(sql))
	if strings.HasPrefix(s, "SYNTAX ERROR") {
		return nil, &sqlpg.ParseError{Message: `syntax error at or near "SYNTAX"`, Cursor: 1}
	}
	word, _, _ := strings.Cut(s, " ")
	word = strings.TrimRight(word, ";")
	kinds := map[string]gate.Kind{"SELECT": gate.KindRead, "VALUES": gate.KindRead, "SHOW": gate.KindRead, "": gate.KindRead,
		"INSERT": gate.KindWrite, "UPDATE": gate.KindWrite, "DELETE": gate.KindWrite, "COPY": gate.KindWrite,
		"BEGIN": gate.KindTransaction, "COMMIT": gate.KindTransaction, "ROLLBACK": gate.KindTransaction,
		"SET": gate.KindSession, "DEALLOCATE": gate.KindSession, "DISCARD": gate.KindSession,
		"DROP": gate.KindDDL, "CREATE": gate.KindDDL}
	k, ok := kinds[word]
	if !ok {
		k = gate.KindAdmin
	}
	if strings.HasPrefix(s, "COPY") && strings.Contains(s, "TO STDOUT") {
		k = gate.KindRead
	}
	return &gate.Class{Kind: k, Statements: []string{word}, HasWhere: true}, nil
}

func (fakeClassifier) PreparedChanges(string) ([]sqlpg.PreparedChange, error) { return nil, nil }

func (fakeClassifier) ParamKind(name, _ string) gate.Kind {
	switch strings.ToLower(name) {
	case "application_name", "datestyle", "timezone", "extra_float_digits", "client_encoding":
		return gate.KindSession
	}
	return gate.KindAdmin
}

const (
	tokenAgent   = "tok-agent"
	tokenExpired = "tok-expired"
)

type harness struct {
	pg    *testenv.Postgres
	db    testenv.Database
	rec   *gatetest.Recorder
	clock *gatetest.Clock
	srv   *Server
	addr  string
}

type harnessOpt func(*Config, *gate.Config)

// newHarness starts a gateway in front of a fresh database holding table
// items(id int primary key, name text) with rows 1..3. Connection "shop"
// routes to it. The policy allows read, transaction, session and write and
// denies ddl and admin (rule test/kinds).
func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{pg: testenv.SharedPostgres(t), rec: gatetest.NewRecorder(), clock: gatetest.NewClock(time.Now())}
	h.db = h.pg.NewDatabase(t,
		"CREATE TABLE items (id int PRIMARY KEY, name text)",
		"INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 3) g")
	exp := h.clock.Now().Add(time.Hour)
	ids := gatetest.Tokens{
		tokenAgent:   {Issuer: "test", Subject: "agent-1", Groups: []string{"agents"}, Expiry: exp},
		tokenExpired: {Issuer: "test", Subject: "agent-2", Expiry: h.clock.Now().Add(-time.Minute)},
	}
	gcfg := gate.Config{Authenticator: ids, Policy: gatetest.AllowKinds(gate.KindRead, gate.KindTransaction, gate.KindSession, gate.KindWrite),
		Recorder: h.rec, Clock: h.clock}
	cfg := Config{
		Classifier: fakeClassifier{},
		Upstreams: map[string]*Upstream{"shop": {Name: "shop", Address: h.pg.Addr(), Database: h.db.Name,
			User: h.db.User, Password: h.db.Password, TLS: "disable"}},
	}
	for _, o := range opts {
		o(&cfg, &gcfg)
	}
	g, err := gate.New(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gate = g
	h.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	go h.srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.srv.Shutdown(ctx)
	})
	return h
}

// dsn is a libpq connection string for the gateway.
func (h *harness) dsn(token string, extra ...string) string {
	host, port, _ := net.SplitHostPort(h.addr)
	s := fmt.Sprintf("host=%s port=%s dbname=shop user=agent password=%s sslmode=disable", host, port, token)
	for _, e := range extra {
		s += " " + e
	}
	return s
}

// direct runs SQL against the upstream database as its owner.
func (h *harness) direct(t *testing.T, sql string) {
	t.Helper()
	if err := h.pg.Exec(context.Background(), h.db.Name, sql); err != nil {
		t.Fatal(err)
	}
}

// pgproto3Query builds a simple Query message.
type pgproto3Query struct{ sql string }

func (q pgproto3Query) msg() *pgproto3.Query { return &pgproto3.Query{String: q.sql} }

func fmtSprint(v any) string { return fmt.Sprint(v) }
