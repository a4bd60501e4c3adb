package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gate"
)

// TestE2EDevIssuer follows the trial path of the README: a gateway with
// identity.dev, tokens from `gatehouse token`, used by an agent and an
// auditor; a restart on the same store keeps the dev key and continues the
// audit chain.
func TestE2EDevIssuer(t *testing.T) {
	g := newGateway(t, gwOpts{variant: sqliteDev})
	ctx := ctxT(t)
	t.Setenv("GATEHOUSE_URL", g.app.webURL)
	t.Setenv("GATEHOUSE_TOKEN", "")

	token := func(args ...string) string {
		t.Helper()
		out, _, err := runCLI(t, append([]string{"token"}, args...)...)
		if err != nil {
			t.Fatalf("gatehouse token %v: %v", args, err)
		}
		return strings.TrimSpace(out)
	}
	agentTok := token("--sub", "cli-agent", "--groups", "agents", "--ttl", "10m")
	c, err := pgx.Connect(ctx, g.dsn("cli-agent", agentTok))
	if err != nil {
		t.Fatalf("connect with a token from `gatehouse token`: %v", err)
	}
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n); err != nil || n != 40 {
		t.Fatalf("read as the dev agent: %d, %v", n, err)
	}
	_, err = c.Exec(ctx, "TRUNCATE orders")
	wantPgError(t, err, "TRUNCATE", "42501", "agents/no-")
	closeConn(c)

	if _, _, err := runCLI(t, "token", "--sub", "greedy", "--ttl", "48h"); err == nil || !strings.Contains(err.Error(), "ttl") {
		t.Errorf("a 48h dev token: %v", err)
	}

	t.Setenv("GATEHOUSE_TOKEN", token("--sub", subAuditor, "--groups", groupSecurity))
	g.closedSession(t, "cli-agent")
	out, _, err := runCLI(t, "sessions", "list", "--sub", "cli-agent")
	if err != nil || !strings.Contains(out, "cli-agent") || !strings.Contains(out, "client terminated") {
		t.Fatalf("sessions list as a dev auditor: %v\n%s", err, out)
	}

	// Restart on the same store: the dev key is the stored one, so tokens
	// issued before still work, and the chain continues where it was.
	g.stop()
	cfg, err := config.Parse(g.cfgPath, []byte(g.yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	a2, err := start(ctx, cfg, g.logs.logger())
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer a2.stop(context.Background())
	g.app = a2
	c = g.connect(t, "cli-agent", groupAgents) // a fresh token from the restarted gateway
	closeConn(c)
	c, err = pgx.Connect(ctx, g.dsn("cli-agent", agentTok))
	if err != nil {
		t.Fatalf("a dev token issued before the restart: %v", err)
	}
	closeConn(c)
	poll(t, "both sessions after the restart closed", func() (bool, string) {
		list, err := a2.trail.Sessions(ctx, gate.SessionFilter{Subject: "cli-agent"})
		closed := 0
		for _, s := range list {
			if s.Closed != nil {
				closed++
			}
		}
		return err == nil && closed == 3, fmt.Sprintf("%d of %d sessions closed (want 3), %v", closed, len(list), err)
	})
	a2.stop(ctx)
	if out, _, err := runCLI(t, "audit", "verify", "--config", g.cfgPath); err != nil || !strings.HasPrefix(out, "ok ") {
		t.Fatalf("audit verify after a restart: %v\n%s", err, out)
	}
}

// TestE2EDevTokenEndpointOff: a gateway without identity.dev issues no
// tokens.
func TestE2EDevTokenEndpointOff(t *testing.T) {
	g := newGateway(t, gwOpts{variant: sqliteOIDC})
	resp, err := http.Post(g.app.webURL+"/dev/token", "application/json", strings.NewReader(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /dev/token on a gateway without identity.dev: %s", resp.Status)
	}
	t.Setenv("GATEHOUSE_URL", g.app.webURL)
	if _, _, err := runCLI(t, "token", "--sub", "x"); err == nil || !strings.Contains(err.Error(), "identity.dev") {
		t.Fatalf("gatehouse token against it: %v", err)
	}
}
