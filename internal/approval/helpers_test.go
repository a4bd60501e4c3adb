package approval

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is one database of one engine, a manual clock and a metrics
// registry, shared by the Services a test builds on it.
type env struct {
	t      *testing.T
	engine string
	url    string
	st     store.Store
	clock  *gatetest.Clock
	reg    *prometheus.Registry
}

// engines runs f against a fresh database of each store engine.
func engines(t *testing.T, f func(t *testing.T, e *env)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) { f(t, newEnv(t, name)) })
	}
}

func newEnv(t *testing.T, engine string) *env {
	e := &env{t: t, engine: engine, clock: gatetest.NewClock(t0), reg: prometheus.NewRegistry()}
	switch engine {
	case "sqlite":
		e.url = "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db")
	case "postgres":
		pg := testenv.SharedPostgres(t)
		db := pg.NewDatabase(t)
		e.url = fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&synchronous_commit=on",
			url.PathEscape(db.User), url.PathEscape(db.Password), pg.Addr(), db.Name)
	}
	e.st = e.openStore()
	return e
}

// openStore opens another Store on the env's database (a second replica,
// or the same gateway restarted).
func (e *env) openStore() store.Store {
	st, err := store.Open(context.Background(), e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	return st
}

// config is the Config tests start from: approvers group:dba, connection
// shop (max_grant 2h), the manual clock.
func (e *env) config(st store.Store) Config {
	return Config{
		Store: st, BaseURL: "https://gatehouse.example/", Approvers: []string{"group:dba"},
		Connections: []Connection{{Name: "shop", MaxGrant: 2 * time.Hour}, {Name: "billing"}},
		Clock:       e.clock, Logger: testLogger(e.t), Registerer: e.reg,
		NotifyBackoff: 5 * time.Millisecond, NotifyMaxWait: 20 * time.Millisecond,
	}
}

// service starts a Service on st (the env's store when nil).
func (e *env) service(st store.Store, mods ...func(*Config)) *Service {
	e.t.Helper()
	if st == nil {
		st = e.st
	}
	cfg := e.config(st)
	for _, m := range mods {
		m(&cfg)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// Identities.
var (
	bot     = &gate.Identity{Issuer: "https://idp.example", Subject: "bot-1", Email: "bot@example.com", Groups: []string{"agents"}}
	alice   = &gate.Identity{Issuer: "https://idp.example", Subject: "alice", Email: "alice@example.com", Groups: []string{"dba"}}
	bob     = &gate.Identity{Issuer: "https://idp.example", Subject: "bob", Groups: []string{"dba"}}
	carol   = &gate.Identity{Issuer: "https://idp.example", Subject: "carol", Groups: []string{"dba", "ops"}}
	mallory = &gate.Identity{Issuer: "https://idp.example", Subject: "mallory", Groups: []string{"agents"}}
	// dbaBot is a requester that is itself in the approvers group.
	dbaBot = &gate.Identity{Issuer: "https://idp.example", Subject: "dba-bot", Groups: []string{"dba"}}
	// aliceElsewhere has alice's subject at another issuer: another identity.
	aliceElsewhere = &gate.Identity{Issuer: "https://other-idp.example", Subject: "alice", Groups: []string{"dba"}}
)

// stmt builds the request Hold would make for text, by bot on shop, in
// wait mode under policy version v1.
func stmt(text string, params ...string) *gate.ApprovalRequest {
	return &gate.ApprovalRequest{
		SessionID: "sess-1", Step: 3, Identity: bot, Target: gate.Target{Name: "shop", Kind: "postgres"},
		Command: gate.Command{Text: text, Params: params,
			Class:   gate.Class{Kind: gate.KindWrite, Statements: []string{"DELETE"}, Tables: []string{"public.orders"}},
			Request: gate.Request{Reason: "clean up test orders", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}},
		Decision: gate.Decision{Action: gate.Review, Policy: "agents", Rule: "big-writes", Message: "writes need a DBA",
			PolicyVersion: "v1", Review: &gate.ReviewSpec{Approvers: []string{"group:dba"}, Required: 1, Mode: "wait"}},
		Impact: &gate.Impact{EstimatedRows: 42},
	}
}

const deleteOrders = "DELETE FROM orders WHERE created < now() - interval '30 days'"

// waitResult is what a Wait in a goroutine returned.
type waitResult struct {
	a   *gate.Approval
	err error
	at  time.Time // wall clock
}

// goWait runs Wait in a goroutine.
func goWait(ctx context.Context, s *Service, id string) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		a, err := s.Wait(ctx, id)
		ch <- waitResult{a, err, time.Now()}
	}()
	return ch
}

// result reads a waitResult, failing after a generous bound.
func result(t *testing.T, ch <-chan waitResult) waitResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return")
		return waitResult{}
	}
}

// blocked asserts that Wait has not returned.
func blocked(t *testing.T, ch <-chan waitResult) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("Wait returned early: %+v, %v", r.a, r.err)
	case <-time.After(50 * time.Millisecond):
	}
}

func mustRequest(t *testing.T, s *Service, req *gate.ApprovalRequest) *gate.Approval {
	t.Helper()
	a, err := s.Request(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustDecide(t *testing.T, s *Service, id string, by *gate.Identity, approve bool, comment string) *gate.Approval {
	t.Helper()
	a, err := s.Decide(context.Background(), id, by, approve, comment)
	if err != nil {
		t.Fatalf("Decide(%s, %s, %v): %v", id, by, approve, err)
	}
	return a
}

// testLogger sends logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// counter reads gatehouse_approval_webhooks_total{target, result}.
func counter(t *testing.T, reg *prometheus.Registry, target, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_approval_webhooks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["target"] == target && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
