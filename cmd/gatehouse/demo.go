package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/tempdb"
	"github.com/gatehouse/gatehouse/internal/web"
)

//go:embed demo.yaml
var demoConfig []byte

// demoSchema is the fictional shop the demo agent queries.
var demoSchema = []string{
	`CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, phone text, city text)`,
	`CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, total numeric(10,2) NOT NULL,
		status text NOT NULL, created_at timestamptz NOT NULL)`,
	`INSERT INTO customers
	 SELECT g, (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Ken','Margaret','Dennis'])[1 + g % 8] || ' ' ||
	           (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Thompson','Hamilton','Ritchie'])[1 + (g / 8) % 8],
	        'customer' || g || '@example.org', '+1 555 01' || lpad(g::text, 2, '0'),
	        (ARRAY['Lisbon','Oslo','Quito','Osaka','Perth'])[1 + g % 5]
	 FROM generate_series(1, 40) g`,
	`INSERT INTO orders
	 SELECT g, 1 + (g * 7) % 40, round((10 + (g * 37) % 490)::numeric, 2),
	        (ARRAY['paid','paid','paid','shipped','refunded'])[1 + g % 5], now() - (g || ' hours')::interval
	 FROM generate_series(1, 300) g`,
}

type demoOpts struct {
	pgListen, httpListen string
	once                 bool
}

func newDemoCmd(g *globals) *cobra.Command {
	var o demoOpts
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a throwaway PostgreSQL and a gateway in front of it, run a scripted agent session, then stay up",
		Long: "The demo needs the PostgreSQL server binaries (Debian package \"postgresql\"). It creates a database of\n" +
			"fictional customers and orders, starts gatehouse with its own dev token issuer and an SQLite audit store\n" +
			"in a temporary directory, runs a short agent session through it and prints the replay. Everything is\n" +
			"deleted when it stops (Ctrl-C).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(g, o) },
	}
	cmd.Flags().StringVar(&o.pgListen, "postgres-listen", "127.0.0.1:6432", "gateway PostgreSQL listener")
	cmd.Flags().StringVar(&o.httpListen, "http-listen", "127.0.0.1:8080", "gateway admin HTTP listener")
	cmd.Flags().BoolVar(&o.once, "once", false, "exit after the scripted session instead of staying up")
	return cmd
}

func runDemo(g *globals, o demoOpts) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	out := g.stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintln(out, "==> starting a throwaway PostgreSQL with a fictional shop database")
	pg, err := tempdb.StartPostgres(tempdb.PostgresOptions{})
	if err != nil {
		return err
	}
	defer pg.Stop()
	svcPassword := tempdb.RandomHex(16)
	if err := pg.Exec(ctx, "", "CREATE ROLE svc_shop LOGIN PASSWORD '"+svcPassword+"'", "CREATE DATABASE shop OWNER svc_shop"); err != nil {
		return err
	}
	if err := execAs(ctx, pg.DSN("shop", "svc_shop", svcPassword), demoSchema); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gatehouse-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	vars := map[string]string{
		"DEMO_PG_LISTEN": o.pgListen, "DEMO_HTTP_LISTEN": o.httpListen,
		"DEMO_STORE":    "sqlite://" + filepath.Join(dir, "gatehouse.db"),
		"DEMO_UPSTREAM": pg.Addr(), "DEMO_UPSTREAM_PASSWORD": svcPassword,
	}
	cfg, err := config.Parse("demo.yaml (embedded)", demoConfig, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "==> starting gatehouse (dev token issuer, SQLite audit store)")
	a, err := start(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("%w (use --postgres-listen / --http-listen if the port is taken)", err)
	}
	err = demoSession(ctx, a, out)
	if err == nil {
		printTryIt(out, a)
		if !o.once {
			err = a.wait(ctx)
			return err
		}
	}
	gctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.stop(gctx)
	return err
}

func execAs(ctx context.Context, dsn string, stmts []string) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			return fmt.Errorf("demo schema: %w", err)
		}
	}
	return nil
}

// demoSession plays an agent: a token from the dev issuer, a connection
// through the gateway, statements carrying a reason and trace id, one of
// them refused; then it prints the session's replay from the audit trail.
func demoSession(ctx context.Context, a *app, out io.Writer) error {
	token, _, err := a.mintDevToken(struct2req("demo-agent", "agents"))
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(a.pgAddr)
	dsn := fmt.Sprintf("host=%s port=%s dbname=shop user=report-bot password=%s sslmode=require application_name=demo-agent", host, port, token)
	fmt.Fprintf(out, "\n==> agent \"demo-agent\" connects with a 1h dev token as its password:\n    psql \"host=%s port=%s dbname=shop user=report-bot sslmode=require\"\n\n", host, port)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("demo agent cannot connect: %w", err)
	}
	trace := "0af7651916cd43dd8448eb211c80319c"
	steps := []struct{ sql, span, reason string }{
		{"SELECT count(*) AS orders, sum(total) AS revenue FROM orders WHERE status = 'paid'", "b7ad6b7169203331", "weekly revenue report"},
		{"SELECT c.name, c.email, c.phone, c.city FROM customers c ORDER BY c.id LIMIT 3", "c7ad6b7169203332", "who are our first customers"},
		{"SELECT name FROM customers WHERE email LIKE 'customer1%'", "d7ad6b7169203333", "guessing emails"},
		{"DROP TABLE orders", "e7ad6b7169203334", "tidying up after the report"},
		{"UPDATE orders SET status = 'refunded' WHERE id = 7", "f7ad6b7169203335", "customer asked for a refund"},
	}
	run := func(s struct{ sql, span, reason string }) error {
		sql := fmt.Sprintf("%s /* traceparent='00-%s-%s-01',reason='%s' */", s.sql, trace, s.span, strings.ReplaceAll(s.reason, " ", "%20"))
		fmt.Fprintf(out, "agent> %s\n", sql)
		rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		if err == nil {
			err = printRows(out, rows)
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			fmt.Fprintf(out, "  ERROR %s: %s\n\n", pe.Code, pe.Message)
			return nil
		}
		return err
	}
	for _, s := range steps {
		if err := run(s); err != nil {
			conn.Close(ctx)
			return err
		}
	}
	// A DBA approves the held UPDATE (here through the approvals service; a
	// person would use the web inbox, the API or `gatehouse approvals`),
	// and the agent sends the identical statement again: it runs, once.
	pending, err := a.approvals.List(ctx, gate.ApprovalFilter{Status: gate.ApprovalPending})
	if err != nil || len(pending) == 0 {
		conn.Close(ctx)
		return fmt.Errorf("the held UPDATE has no pending approval request (%v)", err)
	}
	dba := &gate.Identity{Issuer: devIssuerName, Subject: "dba-on-call", Groups: []string{"dba"}}
	if _, err := a.approvals.Decide(ctx, pending[0].ID, dba, true, "one order, fine"); err != nil {
		conn.Close(ctx)
		return err
	}
	fmt.Fprintf(out, "==> dba-on-call approves %s in the inbox (%s) with the comment \"one order, fine\"\n\n", pending[0].ID, pending[0].URL)
	if err := run(struct{ sql, span, reason string }{steps[4].sql, "07ad6b7169203336", "retrying the approved refund"}); err != nil {
		conn.Close(ctx)
		return err
	}
	conn.Close(ctx)
	rec, err := waitClosedSession(ctx, a, "demo-agent")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "==> the audit trail's replay of that session (gatehouse sessions show ID):")
	fmt.Fprintln(out)
	printReplay(out, rec)
	return nil
}

func struct2req(sub string, groups ...string) (r web.DevTokenRequest) {
	r.Subject, r.Groups = sub, groups
	return r
}

func printRows(out io.Writer, rows pgx.Rows) error {
	defer rows.Close()
	var names []string
	for _, f := range rows.FieldDescriptions() {
		names = append(names, f.Name)
	}
	if len(names) == 0 {
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s\n\n", rows.CommandTag())
		return nil
	}
	fmt.Fprintf(out, "  %s\n", strings.Join(names, " | "))
	for rows.Next() {
		raw := rows.RawValues() // text format: the simple protocol
		cells := make([]string, len(raw))
		for i, v := range raw {
			cells[i] = string(v)
		}
		fmt.Fprintf(out, "  %s\n", strings.Join(cells, " | "))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return nil
}

// waitClosedSession polls the audit trail until the newest session of sub
// is recorded as closed (its last events are written asynchronously).
func waitClosedSession(ctx context.Context, a *app, sub string) (*gate.SessionRecord, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := a.trail.Sessions(ctx, gate.SessionFilter{Subject: sub, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(list) == 1 && list[0].Closed != nil {
			return a.trail.Session(ctx, list[0].ID)
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the demo session was not recorded as closed within 10s")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func printTryIt(out io.Writer, a *app) {
	host, port, _ := net.SplitHostPort(a.pgAddr)
	fmt.Fprintf(out, `
==> gatehouse is running. Try it from another terminal (Ctrl-C here stops everything):

  export GATEHOUSE_URL=%[3]s

  # a token for an agent (the dev issuer only answers on loopback):
  export PGPASSWORD=$(go run ./cmd/gatehouse token --sub me --groups agents --ttl 15m)
  psql "host=%[1]s port=%[2]s dbname=shop user=me sslmode=require" -c 'select count(*) from orders'
  psql "host=%[1]s port=%[2]s dbname=shop user=me sslmode=require" -c 'drop table orders'      # denied

  # a write is held for a DBA (defer mode): decide it in the web inbox
  # (%[3]s/approvals, dev sign-in as a member of group dba) or the API, then
  # send the identical statement again:
  psql "host=%[1]s port=%[2]s dbname=shop user=me sslmode=require" -c "update orders set status = 'paid' where id = 3"

  # read the audit trail as an auditor:
  export GATEHOUSE_TOKEN=$(go run ./cmd/gatehouse token --sub auditor-1 --groups security)
  go run ./cmd/gatehouse sessions list
  go run ./cmd/gatehouse sessions show <ID>
`, host, port, a.webURL)
}
