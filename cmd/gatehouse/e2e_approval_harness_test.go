package main

// Harness of the approval end-to-end tests: the whole gateway (start(), as
// `gatehouse serve` builds it) with approvers, held statements, grants and
// webhooks configured, in front of a throwaway PostgreSQL shop whose
// statistics are fresh (so that the planner's row estimates, which the
// big-writes rule reads, are stable). It reuses the e2e harness's gateway
// (tokens, pgx connections, the audit trail) with a configuration of its
// own.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// Groups of the approval tests. Each policy below matches one group, so a
// test picks the behaviour by the agent's group.
const (
	groupDBA    = "dba" // access.approvers
	groupAdmins = "platform"
	groupBatch  = "batch"  // big writes held in defer mode
	groupQuorum = "quorum" // big writes need two approvers
	groupBots   = "bots"   // writes only with a grant
)

// approvalPolicies: agents' big writes wait for one DBA, small writes run;
// batch agents' big writes are deferred; quorum agents' big writes need two
// DBAs; bots write only while granted "shop:write".
const approvalPolicies = `
  - name: agents
    match: '"agents" in identity.groups'
    connections: [shop]
    rules:
      - name: no-schema-or-admin
        when: 'command.kind in ["ddl", "admin"]'
        action: deny
        message: "schema and admin changes are not allowed for agents"
      - name: reads
        when: 'command.kind in ["read", "transaction", "session"]'
        action: allow
      - name: big-writes
        when: 'command.kind == "write" && (command.estimated_rows > 10 || command.estimated_rows < 0)'
        action: review
        message: "writes of more than 10 rows need a DBA"
      - name: small-writes
        when: 'command.kind == "write"'
        action: allow
  - name: batch
    match: '"batch" in identity.groups'
    connections: [shop]
    rules:
      - name: reads
        when: 'command.kind in ["read", "transaction", "session"]'
        action: allow
      - name: big-writes
        when: 'command.kind == "write" && (command.estimated_rows > 10 || command.estimated_rows < 0)'
        action: review
        mode: defer
        message: "big batch writes need a DBA"
      - name: small-writes
        when: 'command.kind == "write"'
        action: allow
  - name: quorum
    match: '"quorum" in identity.groups'
    connections: [shop]
    rules:
      - name: reads
        when: 'command.kind in ["read", "transaction", "session"]'
        action: allow
      - name: big-writes
        when: 'command.kind == "write" && command.estimated_rows > 10'
        action: review
        required: 2
        message: "two DBAs must agree"
      - name: small-writes
        when: 'command.kind == "write"'
        action: allow
  - name: bots
    match: '"bots" in identity.groups'
    connections: [shop]
    rules:
      - name: reads
        when: 'command.kind in ["read", "transaction", "session"]'
        action: allow
      - name: granted-writes
        when: 'command.kind == "write" && "shop:write" in identity.grants'
        action: allow
      - name: no-writes
        when: 'command.kind == "write"'
        action: deny
        message: "bots write only with a grant (gatehouse grants request)"
`

// approvalSchema is the shop with planner statistics: 300 orders, 180 of
// them paid, 60 shipped, 60 refunded.
var approvalSchema = append(append([]string{}, shopSchema...), `ANALYZE`)

// Statements of the tests. bigWrite touches 180 rows (held); payWrite adds
// 1 to each paid order's total, so its effect counts how often it ran.
const (
	bigWrite   = `UPDATE orders SET status = 'archived' WHERE status = 'paid'`
	payWrite   = `UPDATE orders SET total = total + 1 WHERE status = $1`
	smallWrite = `UPDATE orders SET status = 'shipped' WHERE id = 7`
	sumPaid    = `SELECT sum(total)::bigint FROM orders WHERE status = 'paid'`
)

// apOpts configures newApprovalGateway; the zero value is sqlite with the
// testenv issuer, approvalPolicies and a 2m timeout.
type apOpts struct {
	variant
	policies string
	timeout  time.Duration // approvals.timeout
	notify   []config.Notify
	// ui signs humans in to the web UI at the test's OIDC issuer
	// (identity.ui, client "gatehouse-ui"); the HTTP port is then chosen
	// before start, so external_url and the redirect URI name it.
	ui       bool
	maxGrant time.Duration // connections[0].max_grant (default 8h)
}

// apGateway is a gateway with approvals configured.
type apGateway struct {
	*gateway
	o apOpts
}

func newApprovalGateway(t *testing.T, o apOpts) *apGateway {
	t.Helper()
	ag := prepareApprovalGateway(t, o)
	g := ag.gateway
	httpAddr := "127.0.0.1:0"
	if ag.o.ui {
		httpAddr = freeAddr(t)
	}
	g.yaml = ag.render(g.node, "127.0.0.1:0", httpAddr)
	g.cfgPath = filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(g.cfgPath, []byte(g.yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ag.startApp(t)
	t.Cleanup(g.stop)
	return ag
}

// prepareApprovalGateway makes everything a gateway stands on (the shop,
// the store, the issuer) but starts nothing.
func prepareApprovalGateway(t *testing.T, o apOpts) *apGateway {
	t.Helper()
	if o.engine == "" {
		o.engine = "sqlite"
	}
	if o.policies == "" {
		o.policies = approvalPolicies
	}
	if o.timeout == 0 {
		o.timeout = 2 * time.Minute
	}
	g := &gateway{opts: gwOpts{variant: o.variant, policies: o.policies}, pg: testenv.SharedPostgres(t), node: "e2e-approvals-" + o.engine}
	g.logs = newTestLog(t)
	g.shop = g.pg.NewDatabase(t, approvalSchema...)
	dir := t.TempDir()
	switch o.engine {
	case "sqlite":
		g.sqlite = filepath.Join(dir, "store", "gatehouse.db")
		g.storeURL = "sqlite://" + g.sqlite
	case "postgres":
		g.storeDB = g.pg.NewDatabase(t)
		g.storeURL = storeURL(g.pg, g.storeDB)
	default:
		t.Fatalf("unknown engine %q", o.engine)
	}
	if !o.dev {
		g.issuer = testenv.NewIssuer(t)
	}
	return &apGateway{gateway: g, o: o}
}

// storeURL is a PostgreSQL store URL for db. The test server runs with
// synchronous_commit off, which the store refuses; the URL turns it on for
// the store's sessions.
func storeURL(pg *testenv.Postgres, db testenv.Database) string {
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&synchronous_commit=on",
		url.PathEscape(db.User), url.PathEscape(db.Password), pg.Addr(), db.Name)
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for configurations that must name their port before start.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// render writes the configuration for one node with these listeners.
func (ag *apGateway) render(node, pgAddr, httpAddr string) string {
	g, o := ag.gateway, ag.o
	var b strings.Builder
	fmt.Fprintf(&b, "node: %s\n", node)
	fmt.Fprintf(&b, "listen:\n  postgres: %s\n  http: %s\n", pgAddr, httpAddr)
	if !strings.HasSuffix(httpAddr, ":0") {
		fmt.Fprintf(&b, "external_url: http://%s\n", httpAddr)
	}
	fmt.Fprintf(&b, "store: %q\n", g.storeURL)
	b.WriteString("identity:\n")
	if o.dev {
		b.WriteString("  dev: true\n")
	} else {
		fmt.Fprintf(&b, "  issuers:\n    - url: %s\n      audience: gatehouse\n", g.issuer.URL())
	}
	if o.ui {
		fmt.Fprintf(&b, "  ui:\n    issuer: %s\n    client_id: gatehouse-ui\n    client_secret: s3cret\n", g.issuer.URL())
	}
	fmt.Fprintf(&b, "access:\n  admins: [\"group:%s\"]\n  auditors: [\"group:%s\"]\n  approvers: [\"group:%s\"]\n",
		groupAdmins, groupSecurity, groupDBA)
	fmt.Fprintf(&b, `connections:
  - name: shop
    kind: postgres
    address: %s
    database: %s
    user: %s
    password: %q
    tls: require
`, g.pg.Addr(), g.shop.Name, g.shop.User, g.shop.Password)
	if o.maxGrant > 0 {
		fmt.Fprintf(&b, "    max_grant: %s\n", o.maxGrant)
	}
	b.WriteString("policies:" + o.policies)
	fmt.Fprintf(&b, "approvals:\n  timeout: %s\n", o.timeout)
	if len(o.notify) > 0 {
		b.WriteString("  notify:\n")
		for _, n := range o.notify {
			fmt.Fprintf(&b, "    - url: %s\n      format: %s\n", n.URL, n.Format)
		}
	}
	b.WriteString("limits:\n  shutdown_grace: 20s\n")
	return b.String()
}

// startApp starts the gateway from its configuration file.
func (ag *apGateway) startApp(t *testing.T) {
	t.Helper()
	g := ag.gateway
	cfg, err := config.Parse(g.cfgPath, []byte(g.yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, g.yaml)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	if g.app, err = start(ctx, cfg, g.logs.logger()); err != nil {
		t.Fatalf("start: %v\n%s", err, g.yaml)
	}
}

// restart stops the gateway gracefully and starts a new one from the same
// configuration on the same store; connections to the old one end.
func (ag *apGateway) restart(t *testing.T) {
	t.Helper()
	ag.stop()
	ag.stopOnce = sync.Once{}
	ag.startApp(t)
}

// --- the admin API -----------------------------------------------------

// call sends method path with body (JSON; nil for none) to the admin API
// at base with token as the bearer, decodes a 2xx JSON answer into out (if
// non-nil) and returns the status and body.
func call(t testing.TB, base, token, method, path string, body, out any) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

// decide votes on request id as sub (a DBA unless groups say otherwise)
// and returns the status and body; approve false denies.
func (ag *apGateway) decide(t testing.TB, id, sub string, approve bool, comment string, groups ...string) (int, string) {
	t.Helper()
	if groups == nil {
		groups = []string{groupDBA}
	}
	verb := "deny"
	if approve {
		verb = "approve"
	}
	return call(t, ag.app.webURL, ag.token(t, sub, groups...), "POST", "/api/approvals/"+id+"/"+verb, map[string]string{"comment": comment}, nil)
}

// approve approves request id as DBA sub, failing unless the API accepts.
func (ag *apGateway) approve(t testing.TB, id, sub, comment string) *gate.Approval {
	t.Helper()
	var a gate.Approval
	code, body := call(t, ag.app.webURL, ag.token(t, sub, groupDBA), "POST", "/api/approvals/"+id+"/approve", map[string]string{"comment": comment}, &a)
	if code != http.StatusOK {
		t.Fatalf("approve %s as %s: %d %s", id, sub, code, body)
	}
	return &a
}

// approval reads request id as an admin.
func (ag *apGateway) approval(t testing.TB, id string) *gate.Approval {
	t.Helper()
	var a gate.Approval
	code, body := call(t, ag.app.webURL, ag.token(t, "root", groupAdmins), "GET", "/api/approvals/"+id, nil, &a)
	if code != http.StatusOK {
		t.Fatalf("GET approval %s: %d %s", id, code, body)
	}
	return &a
}

// wantStatus polls request id until it has status st.
func (ag *apGateway) wantStatus(t testing.TB, id string, st gate.ApprovalStatus) *gate.Approval {
	t.Helper()
	var a *gate.Approval
	poll(t, "request "+id+" to be "+string(st), func() (bool, string) {
		a = ag.approval(t, id)
		return a.Status == st, "it is " + string(a.Status)
	})
	return a
}

// --- agents ------------------------------------------------------------

// agent is a pgx connection through the gateway that collects the
// notices it receives.
type agent struct {
	*pgx.Conn
	sub     string
	notices chan *pgconn.Notice
}

// agent connects as sub in groups.
func (ag *apGateway) agent(t testing.TB, sub string, groups ...string) *agent {
	t.Helper()
	a := &agent{sub: sub, notices: make(chan *pgconn.Notice, 16)}
	a.Conn = ag.connectWith(t, sub, groups, func(cc *pgx.ConnConfig) {
		cc.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			select {
			case a.notices <- n:
			default:
			}
		}
	})
	return a
}

// result is what a statement run in the background returned.
type result struct {
	tag pgconn.CommandTag
	err error
	at  time.Time // when it returned
}

// start runs sql in the background; the channel delivers its result.
func (a *agent) start(sql string, args ...any) <-chan result {
	ch := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		tag, err := a.Exec(ctx, sql, args...)
		ch <- result{tag: tag, err: err, at: time.Now()}
	}()
	return ch
}

// exec runs sql and returns its tag and error.
func (a *agent) exec(t testing.TB, sql string, args ...any) (pgconn.CommandTag, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	return a.Exec(ctx, sql, args...)
}

// noticeRE is the notice a held statement's client receives at once.
var noticeRE = regexp.MustCompile(`^gatehouse: approval required \(request (ap_[a-z2-7]{16})\): (\S+); waiting up to (\S+)$`)

// held waits for the notice that the agent's statement is held and returns
// the request's ID and URL; it fails if the statement ended instead.
func (a *agent) held(t testing.TB, res <-chan result) (id, link string) {
	t.Helper()
	select {
	case n := <-a.notices:
		m := noticeRE.FindStringSubmatch(n.Message)
		if m == nil || n.Severity != "NOTICE" {
			t.Fatalf("%s got notice %s %q, want one saying the statement waits for approval", a.sub, n.Severity, n.Message)
		}
		return m[1], m[2]
	case r := <-res:
		t.Fatalf("%s's statement ended (tag %q, err %v) instead of waiting for approval", a.sub, r.tag, r.err)
	case <-time.After(e2eTimeout):
		t.Fatalf("%s got no approval notice within %s:\n%s", a.sub, e2eTimeout, dumpGoroutines(t))
	}
	return "", ""
}

// outcome waits for a statement started with start.
func outcome(t testing.TB, res <-chan result) result {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(2 * e2eTimeout):
		t.Fatalf("a held statement did not end within %s; goroutines in %s", 2*e2eTimeout, dumpGoroutines(t))
	}
	return result{}
}

// stillWaiting fails if the statement has ended; it checks without
// waiting (the caller knows the statement had time to end wrongly).
func stillWaiting(t testing.TB, res <-chan result, why string) {
	t.Helper()
	select {
	case r := <-res:
		t.Fatalf("the held statement ended (tag %q, err %v) %s", r.tag, r.err, why)
	default:
	}
}

// deferRE is the refusal of a statement held in defer mode.
var deferRE = regexp.MustCompile(`approval required \(request (ap_[a-z2-7]{16})\): (\S+); send the identical statement again once it is approved`)

// deferred checks that err is the defer-mode refusal (42501) and returns
// the request's ID and URL.
func deferred(t testing.TB, err error, what string) (id, link string) {
	t.Helper()
	pe := wantPgError(t, err, what, "42501")
	m := deferRE.FindStringSubmatch(pe.Message)
	if m == nil {
		t.Fatalf("%s: %q is not a defer-mode approval refusal", what, pe.Message)
	}
	return m[1], m[2]
}

// isPgError reports whether err is a PostgreSQL error with code.
func isPgError(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// sessionsOf waits until every session of sub is recorded as closed and
// returns their steps, oldest session first, as one record.
func (ag *apGateway) sessionsOf(t testing.TB, sub string) *gate.SessionRecord {
	t.Helper()
	all := &gate.SessionRecord{SessionSummary: gate.SessionSummary{ID: "all sessions of " + sub}}
	poll(t, "the sessions of "+sub+" recorded as closed", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
		defer cancel()
		list, err := ag.app.trail.Sessions(ctx, gate.SessionFilter{Subject: sub, Limit: 100})
		if err != nil {
			return false, err.Error()
		}
		all.Steps = nil
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].Closed == nil {
				return false, "session " + list[i].ID + " is open"
			}
			rec, err := ag.app.trail.Session(ctx, list[i].ID)
			if err != nil {
				return false, err.Error()
			}
			all.Steps = append(all.Steps, rec.Steps...)
		}
		return true, ""
	})
	return all
}

// stepsOf returns the steps of rec whose statement contains s, in order.
func stepsOf(rec *gate.SessionRecord, s string) []gate.StepRecord {
	var out []gate.StepRecord
	for _, st := range rec.Steps {
		if strings.Contains(st.Command.Text, s) {
			out = append(out, st)
		}
	}
	return out
}
