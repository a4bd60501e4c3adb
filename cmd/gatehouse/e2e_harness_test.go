package main

// End-to-end harness: the whole gateway as `gatehouse serve` builds it
// (start() from a parsed YAML file), in front of a throwaway PostgreSQL
// database holding the demo shop, with tokens from a real OIDC issuer over
// HTTP (testenv.NewIssuer) or from the gateway's own dev issuer, and an
// audit store on either engine. Tests drive it with real clients: the psql
// binary, pgx, database/sql, psycopg2, the admin API and the CLI.

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/web"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// Generous bounds: the suite shares two cores with other work.
const (
	e2eTimeout = 60 * time.Second // one client operation or test step
	pollLimit  = 30 * time.Second // waiting for the audit trail to catch up
)

// Groups and subjects the configurations below refer to.
const (
	groupAgents   = "agents"
	groupWriters  = "writers"
	groupSecurity = "security"
	subAuditor    = "auditor-1"
)

// readOnlyPolicies is the read-only agent policy of the brief: schema and
// admin changes denied with a message, reads, transactions and session
// settings allowed, writes denied.
const readOnlyPolicies = `
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
      - name: no-writes
        when: 'command.kind == "write"'
        action: deny
        message: "agents may only read"
`

// writerPolicies adds a policy that lets group writers change data, for
// tests that prove a statement did not run by its missing side effect.
const writerPolicies = readOnlyPolicies + `
  - name: writers
    match: '"writers" in identity.groups'
    connections: [shop]
    rules:
      - name: no-schema-or-admin
        when: 'command.kind in ["ddl", "admin"]'
        action: deny
        message: "schema and admin changes are not allowed"
      - name: data
        when: 'command.kind in ["read", "write", "transaction", "session"]'
        action: allow
`

// shopSchema is the demo shop (40 customers, 300 orders) plus a notes
// table that write tests insert into.
var shopSchema = append(append([]string{}, demoSchema...),
	`CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)`)

// variant is one way to run the gateway: its store engine and where its
// tokens come from.
type variant struct {
	name   string
	engine string // "sqlite" or "postgres"
	dev    bool   // identity.dev + a.mintDevToken instead of the OIDC issuer
}

var (
	sqliteOIDC   = variant{"sqlite", "sqlite", false}
	postgresOIDC = variant{"postgres", "postgres", false}
	sqliteDev    = variant{"sqlite-dev", "sqlite", true}
	// storeVariants runs a test on both store engines.
	storeVariants = []variant{sqliteOIDC, postgresOIDC}
	// allVariants adds the dev issuer.
	allVariants = []variant{sqliteOIDC, postgresOIDC, sqliteDev}
)

// forVariants runs fn as one subtest per variant.
func forVariants(t *testing.T, vs []variant, fn func(t *testing.T, v variant)) {
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) { fn(t, v) })
	}
}

// gwOpts configures newGateway; the zero value is the sqlite/OIDC variant
// with the read-only policy.
type gwOpts struct {
	variant
	policies string // YAML list under "policies:"; default readOnlyPolicies
}

// gateway is a running gatehouse with everything it stands on.
type gateway struct {
	opts     gwOpts
	pg       *testenv.Postgres
	shop     testenv.Database // the upstream behind connection "shop"
	storeDB  testenv.Database // postgres engine: the store's database
	storeURL string
	sqlite   string // sqlite engine: the database file
	issuer   *testenv.Issuer
	yaml     string
	cfgPath  string // the YAML written to a file, for the CLI
	node     string
	app      *app
	logs     *testLog
	stopOnce sync.Once
}

// newGateway starts a gateway for the test and stops it at cleanup.
func newGateway(t *testing.T, o gwOpts) *gateway {
	t.Helper()
	if o.engine == "" {
		o.engine = "sqlite"
	}
	if o.policies == "" {
		o.policies = readOnlyPolicies
	}
	g := &gateway{opts: o, pg: testenv.SharedPostgres(t), node: "e2e-" + o.engine}
	g.logs = newTestLog(t)
	g.shop = g.pg.NewDatabase(t, shopSchema...)
	dir := t.TempDir()
	switch o.engine {
	case "sqlite":
		g.sqlite = filepath.Join(dir, "store", "gatehouse.db")
		g.storeURL = "sqlite://" + g.sqlite
	case "postgres":
		g.storeDB = g.pg.NewDatabase(t)
		// The test server runs with synchronous_commit off, which the store
		// refuses; the URL turns it on for the store's sessions.
		g.storeURL = fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&synchronous_commit=on",
			url.PathEscape(g.storeDB.User), url.PathEscape(g.storeDB.Password), g.pg.Addr(), g.storeDB.Name)
	default:
		t.Fatalf("unknown engine %q", o.engine)
	}
	if !o.dev {
		g.issuer = testenv.NewIssuer(t)
	}
	g.yaml = g.config()
	g.cfgPath = filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(g.cfgPath, []byte(g.yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(g.cfgPath, []byte(g.yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, g.yaml)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	g.app, err = start(ctx, cfg, g.logs.logger())
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(g.stop)
	return g
}

// config renders the gateway's configuration file.
func (g *gateway) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node: %s\n", g.node)
	b.WriteString("listen:\n  postgres: 127.0.0.1:0\n  http: 127.0.0.1:0\n")
	fmt.Fprintf(&b, "store: %q\n", g.storeURL)
	b.WriteString("identity:\n")
	if g.opts.dev {
		b.WriteString("  dev: true\n")
	} else {
		fmt.Fprintf(&b, "  issuers:\n    - url: %s\n      audience: gatehouse\n", g.issuer.URL())
	}
	fmt.Fprintf(&b, "access:\n  admins: [\"group:platform\"]\n  auditors: [\"group:%s\"]\n", groupSecurity)
	fmt.Fprintf(&b, `connections:
  - name: shop
    kind: postgres
    address: %s
    database: %s
    user: %s
    password: %q
    tls: require
`, g.pg.Addr(), g.shop.Name, g.shop.User, g.shop.Password)
	b.WriteString("policies:" + g.opts.policies)
	b.WriteString("limits:\n  shutdown_grace: 20s\n")
	return b.String()
}

// stop shuts the gateway down gracefully, once.
func (g *gateway) stop() {
	g.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		g.app.stop(ctx)
	})
}

// token returns a valid token for sub in groups from the variant's issuer.
func (g *gateway) token(t testing.TB, sub string, groups ...string) string {
	t.Helper()
	if groups == nil {
		groups = []string{}
	}
	if g.opts.dev {
		tok, _, err := g.app.mintDevToken(web.DevTokenRequest{Subject: sub, Groups: groups})
		if err != nil {
			t.Fatalf("dev token: %v", err)
		}
		return tok
	}
	return g.issuer.Token(t, map[string]any{"sub": sub, "groups": groups})
}

// hostPort splits the gateway's PostgreSQL address.
func (g *gateway) hostPort() (string, string) {
	h, p, _ := net.SplitHostPort(g.app.pgAddr)
	return h, p
}

// dsn is a libpq key/value connection string to connection "shop" through
// the gateway with token as the password.
func (g *gateway) dsn(user, token string) string {
	h, p := g.hostPort()
	return fmt.Sprintf("host=%s port=%s dbname=shop user=%s password='%s' sslmode=require connect_timeout=30", h, p, user, token)
}

// connect opens a pgx connection through the gateway as sub in groups and
// closes it at cleanup.
func (g *gateway) connect(t testing.TB, sub string, groups ...string) *pgx.Conn {
	t.Helper()
	return g.connectWith(t, sub, groups, nil)
}

// connectWith is connect with a chance to change pgx's configuration.
func (g *gateway) connectWith(t testing.TB, sub string, groups []string, edit func(*pgx.ConnConfig)) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	cc, err := pgx.ParseConfig(g.dsn(sub, g.token(t, sub, groups...)))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cc)
	}
	c, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatalf("connect through the gateway as %s: %v", sub, err)
	}
	t.Cleanup(func() { closeConn(c) })
	return c
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// direct opens a connection straight to the upstream database, bypassing
// the gateway, to check side effects.
func (g *gateway) direct(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, g.pg.DSN(g.shop.Name, g.shop.User, g.shop.Password))
	if err != nil {
		t.Fatalf("direct connect: %v", err)
	}
	t.Cleanup(func() { closeConn(c) })
	return c
}

// directInt runs a query returning one integer straight on the upstream.
func (g *gateway) directInt(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	c := g.direct(t)
	var n int64
	if err := c.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("direct %q: %v", sql, err)
	}
	return n
}
