// Command bench measures gatehouse against a direct PostgreSQL connection on
// this machine: it starts a throwaway PostgreSQL (pgbench -i), builds and
// starts the gateway as its own process (dev identity, SQLite audit store,
// TLS off on loopback, a realistic read-only agent policy, audit on), then
// runs pgbench -S directly and through the gateway, interleaved round by
// round, and prints medians and the ratio.
//
//	go run ./bench [-rounds 3] [-duration 15s] [-clients 8] [-scale 10]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/tempdb"
)

type options struct {
	rounds    int
	duration  time.Duration
	clients   []int
	scale     int
	modes     []string
	scenarios map[string]bool
	piiRows   int
	profile   string
}

func main() {
	var o options
	var clients, modes string
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds per measurement")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "pgbench run length")
	flag.StringVar(&clients, "clients", "8", "comma-separated client counts")
	flag.StringVar(&modes, "modes", "simple,prepared", "pgbench -M modes")
	flag.IntVar(&o.scale, "scale", 10, "pgbench -i scale")
	var scenarios string
	flag.StringVar(&scenarios, "scenarios", "pgbench,masking", "what to measure: pgbench (-S TPS), masking (SELECT of a PII table, masked vs not)")
	flag.IntVar(&o.piiRows, "pii-rows", 100000, "rows of the PII table for the masking scenario")
	flag.StringVar(&o.profile, "profile", "", "write the gateway's CPU and allocation profiles of the first gateway pgbench run to this directory")
	flag.Parse()
	o.scenarios = map[string]bool{}
	for _, sc := range strings.Split(scenarios, ",") {
		o.scenarios[strings.TrimSpace(sc)] = true
	}
	for _, c := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			fatal(fmt.Errorf("-clients %q", clients))
		}
		o.clients = append(o.clients, n)
	}
	o.modes = strings.Split(modes, ",")
	if err := run(o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// target is one way to reach the database.
type target struct {
	name string
	env  []string // PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE
}

func run(o options) error {
	ctx := context.Background()
	for _, bin := range []string{"pgbench"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found: apt-get install postgresql-contrib", bin)
		}
	}
	pg, err := tempdb.StartPostgres(tempdb.PostgresOptions{MaxConnections: 500})
	if err != nil {
		return err
	}
	defer pg.Stop()
	pw := tempdb.RandomHex(12)
	if err := pg.Exec(ctx, "", "CREATE ROLE svc_bench LOGIN PASSWORD '"+pw+"'", "CREATE DATABASE bench OWNER svc_bench"); err != nil {
		return err
	}
	direct := target{name: "direct", env: []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(pg.Port), "PGUSER=svc_bench",
		"PGPASSWORD=" + pw, "PGDATABASE=bench", "PGSSLMODE=disable"}}
	fmt.Printf("initialising pgbench scale %d...\n", o.scale)
	if out, err := pgbench(direct, "-i", "-q", "-s", strconv.Itoa(o.scale)); err != nil {
		return fmt.Errorf("pgbench -i: %v\n%s", err, out)
	}
	if o.scenarios["masking"] {
		fmt.Printf("loading %d rows of fictional customers...\n", o.piiRows)
		if err := loadPII(ctx, direct, o.piiRows); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	gw, stop, err := startGateway(dir, pg.Addr(), pw, o.profile != "")
	if err != nil {
		return err
	}
	defer stop()
	targets := []target{direct, gw}
	fmt.Printf("machine: nproc %d, %s\n\n", runtime.NumCPU(), cpuModel())
	if o.scenarios["masking"] {
		masked := gw
		masked.name = "gateway (masked)"
		masked.env = append(slices.Clone(gw.env), "PGDATABASE=bench_masked")
		if err := measureMasking(ctx, o.rounds, direct, gw, masked); err != nil {
			return err
		}
	}
	if !o.scenarios["pgbench"] {
		return nil
	}

	fmt.Printf("pgbench -S -T %s, %d interleaved rounds, medians (nproc %d, %s)\n\n", o.duration, o.rounds, runtime.NumCPU(), cpuModel())
	fmt.Printf("%-9s %7s  %12s %12s  %12s %12s  %7s\n", "mode", "clients", "direct tps", "latency ms", "gateway tps", "latency ms", "ratio")
	profiled := false
	for _, mode := range o.modes {
		for _, c := range o.clients {
			res := map[string][]result{}
			for r := 0; r < o.rounds; r++ {
				for _, t := range targets {
					var prof chan error
					if o.profile != "" && t.name == "gateway" && !profiled {
						profiled = true
						prof = captureProfiles(o.profile, o.duration)
					}
					out, err := pgbench(t, "-S", "-n", "-M", mode, "-c", strconv.Itoa(c), "-j", strconv.Itoa(min(c, runtime.NumCPU())),
						"-T", strconv.Itoa(int(o.duration.Seconds())))
					if prof != nil {
						if perr := <-prof; perr != nil {
							return perr
						}
					}
					if err != nil {
						return fmt.Errorf("pgbench through %s: %v\n%s", t.name, err, out)
					}
					rr, err := parse(out)
					if err != nil {
						return fmt.Errorf("%s: %v\n%s", t.name, err, out)
					}
					res[t.name] = append(res[t.name], rr)
				}
			}
			d, g := median(res["direct"]), median(res["gateway"])
			fmt.Printf("%-9s %7d  %12.0f %12.3f  %12.0f %12.3f  %7.2f\n", mode, c, d.tps, d.latency, g.tps, g.latency, g.tps/d.tps)
		}
	}
	return nil
}

// startGateway builds gatehouse, starts it on free loopback ports and
// returns how to reach it with a dev token.
func startGateway(dir, upstream, pw string, profile bool) (target, func(), error) {
	bin := filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return target{}, nil, fmt.Errorf("building gatehouse (run from the repository root): %w", err)
	}
	pgPort, httpPort := freePort(), freePort()
	cfg := fmt.Sprintf(`node: bench
listen: {postgres: "127.0.0.1:%[1]d", http: "127.0.0.1:%[2]d"}
store: sqlite://%[5]s/gatehouse.db
identity: {dev: true}
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
`, pgPort, httpPort, upstream, pw, dir)
	path := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return target{}, nil, err
	}
	args := []string{"serve", "--config", path, "--log-level", "warn"}
	if profile {
		args = append(args, "--pprof", pprofAddr)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return target{}, nil, err
	}
	stop := func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	var token string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Post(base+"/dev/token", "application/json", strings.NewReader(`{"sub":"bench-agent","groups":["agents"],"ttl":"12h"}`))
		if err == nil {
			var out struct{ Token string }
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			token = out.Token
			if token != "" {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return target{}, nil, fmt.Errorf("gateway did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return target{name: "gateway", env: []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(pgPort), "PGUSER=bench-agent",
		"PGPASSWORD=" + token, "PGDATABASE=bench", "PGSSLMODE=disable"}}, stop, nil
}

func pgbench(t target, args ...string) ([]byte, error) {
	cmd := exec.Command("pgbench", args...)
	cmd.Env = append(os.Environ(), t.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

type result struct{ tps, latency float64 }

var (
	tpsRe     = regexp.MustCompile(`tps = ([0-9.]+) \((without|excluding)`)
	latencyRe = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
)

func parse(out []byte) (result, error) {
	t, l := tpsRe.FindSubmatch(out), latencyRe.FindSubmatch(out)
	if t == nil || l == nil {
		return result{}, fmt.Errorf("cannot read tps/latency from pgbench output")
	}
	tps, _ := strconv.ParseFloat(string(t[1]), 64)
	lat, _ := strconv.ParseFloat(string(l[1]), 64)
	return result{tps, lat}, nil
}

func median(rs []result) result {
	tps := make([]float64, len(rs))
	lat := make([]float64, len(rs))
	for i, r := range rs {
		tps[i], lat[i] = r.tps, r.latency
	}
	slices.Sort(tps)
	slices.Sort(lat)
	return result{tps[len(tps)/2], lat[len(lat)/2]}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			_, v, _ := strings.Cut(line, ":")
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
