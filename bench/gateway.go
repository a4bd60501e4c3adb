package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// gateway is a running gatehouse process.
type gateway struct {
	*child
	target        // connection "bench": the agent policy, no masking
	masked target // connection "bench_masked": masking on customers
	pprof  string // profiling endpoint address, "" when off
}

// buildGatehouse builds ./cmd/gatehouse (the working tree, as it is) into dir.
func buildGatehouse(dir string) (string, error) {
	bin := filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building gatehouse (run from the repository root): %w", err)
	}
	return bin, nil
}

// gatewayConfig is the configuration every bench gateway runs: dev
// identity, a SQLite audit store (write-ahead, synchronous=FULL), TLS off on
// loopback, and a realistic agent policy: schema and admin statements
// denied, writes without WHERE denied, reads allowed. Connection
// bench_masked allows only reads and masks customers' PII columns, with
// every value detector on every other column.
const gatewayConfig = `node: bench
listen: {postgres: "127.0.0.1:%[1]d", http: "127.0.0.1:%[2]d"}
store: sqlite://%[5]s/gatehouse.db%[6]s
identity: {dev: true}
limits: {shutdown_grace: 2s}
connections:
  - {name: bench, kind: postgres, address: "%[3]s", database: bench, user: svc_bench, password: "%[4]s", tls: disable}
  - {name: bench_masked, kind: postgres, address: "%[3]s", database: bench, user: svc_bench, password: "%[4]s", tls: disable}
policies:
  - name: masked
    match: '"agents" in identity.groups'
    connections: [bench_masked]
    mask:
      columns: [customers.email, customers.phone, customers.card_number, customers.ssn]
      detectors: [all]
    rules:
      - {name: reads, when: 'command.kind in ["read", "transaction", "session"]', action: allow}
  - name: agents
    match: '"agents" in identity.groups'
    connections: [bench]
    rules:
      - {name: no-schema-or-admin, when: 'command.kind in ["ddl", "admin"]', action: deny, message: "schema and admin changes are not allowed for agents"}
      - {name: no-unbounded-writes, when: 'command.kind == "write" && !command.has_where', action: deny, message: "writes need a WHERE"}
      - {name: reads, when: 'command.kind in ["read", "transaction", "session"]', action: allow}
`

// startGateway starts bin as its own process with a fresh store under dir,
// on free loopback ports, and fetches a dev token for agent bench-agent
// (group agents).
func startGateway(j *janitor, bin, dir, upstream, pw string, profile bool) (*gateway, error) {
	return startGatewaySync(j, bin, dir, upstream, pw, profile, "")
}

// startGatewaySync is startGateway with the SQLite store's sync mode
// ("" for the default, full; "normal" commits without fsync) and the target
// named after it.
func startGatewaySync(j *janitor, bin, dir, upstream, pw string, profile bool, sync string) (*gateway, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	pgPort, httpPort := freePort(), freePort()
	path := filepath.Join(dir, "gatehouse.yaml")
	param := ""
	if sync != "" {
		param = "?sync=" + sync
	}
	cfg := fmt.Sprintf(gatewayConfig, pgPort, httpPort, upstream, pw, dir, param)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	args := []string{"serve", "--config", path, "--log-level", "warn"}
	g := &gateway{}
	if profile {
		g.pprof = "127.0.0.1:" + strconv.Itoa(freePort())
		args = append(args, "--pprof", g.pprof)
	}
	c, err := startChild(j, "gatehouse", nil, bin, args...)
	if err != nil {
		return nil, err
	}
	g.child = c
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	token, err := devToken(c, base)
	if err != nil {
		return nil, err
	}
	if err := c.waitListening(fmt.Sprintf("127.0.0.1:%d", pgPort), 30*time.Second); err != nil {
		return nil, err
	}
	env := []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(pgPort), "PGUSER=bench-agent",
		"PGPASSWORD=" + token, "PGDATABASE=bench", "PGSSLMODE=disable"}
	g.target = target{name: "gatehouse", env: env}
	if sync != "" {
		g.target.name = "gatehouse sync=" + sync
	}
	g.masked = target{name: "gatehouse (masked)", env: append(env[:len(env):len(env)], "PGDATABASE=bench_masked")}
	return g, nil
}

// devToken asks the gateway's dev issuer for a 12-hour agent token,
// retrying until the HTTP listener is up.
func devToken(c *child, base string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Post(base+"/dev/token", "application/json",
			strings.NewReader(`{"sub":"bench-agent","groups":["agents"],"ttl":"12h"}`))
		if err == nil {
			var out struct{ Token string }
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if out.Token != "" {
				return out.Token, nil
			}
			if err == nil {
				err = fmt.Errorf("HTTP %s", resp.Status)
			}
		}
		if c.exited() {
			return "", fmt.Errorf("gatehouse exited: %s", c.output())
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("gatehouse gave no dev token: %v\n%s", err, c.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
