// Command bench measures gatehouse on this machine against a direct
// PostgreSQL connection, pgbouncer and a plain TCP relay, in one run.
//
// It starts a throwaway PostgreSQL (pgbench -i, plus the demo's 100k-row
// customers table); gatehouse built from the working tree and run as its own
// process (dev identity, SQLite audit store, TLS off on loopback, the agent
// policy of gateway.go, audit on); pgbouncer in session mode; and
// bench/relay. Then, each interleaved over the four paths for -rounds
// rounds, medians reported:
//
//  1. pgbench -S, -M simple and prepared, 1, 8 and 64 clients;
//  2. a SELECT of about 200 MB of rows, and the gateway's peak RSS;
//  3. SELECT * FROM customers masked against unmasked;
//  4. 2,000 idle authenticated sessions: gateway RSS per session;
//
// and then the internal packages' microbenchmarks. It prints the tables
// and writes them, with the goals and pass/fail, to bench/RESULTS.md.
//
//	go run ./bench [-rounds 3] [-duration 5s] [-clients 1,8,64] [-scenarios ...] [-profile DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

type options struct {
	rounds         int
	duration       time.Duration
	clients        []int
	modes          []string
	scale          int
	scenarios      map[string]bool
	piiRows        int
	largeMB        int
	idleSessions   int
	benchtime      string
	profile        string
	profileClients int
	syncCompare    bool
	out            string
}

var allScenarios = []string{"pgbench", "large", "masking", "idle", "micro"}

func main() {
	var o options
	var clients, modes, scenarios string
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds per measurement")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "pgbench run length (whole seconds)")
	flag.StringVar(&clients, "clients", "1,8,64", "comma-separated pgbench client counts")
	flag.StringVar(&modes, "modes", "simple,prepared", "pgbench -M modes")
	flag.IntVar(&o.scale, "scale", 10, "pgbench -i scale")
	flag.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","),
		"what to measure: pgbench (-S TPS and latency), large (a ~200 MB result, peak RSS), masking (customers masked vs not), idle (RSS per idle session), micro (go test -bench)")
	flag.IntVar(&o.piiRows, "pii-rows", 100000, "rows of the customers table for the masking scenario")
	flag.IntVar(&o.largeMB, "large-mb", 200, "size of the large result, in MB of values")
	flag.IntVar(&o.idleSessions, "idle-sessions", 2000, "idle authenticated sessions to hold open")
	flag.StringVar(&o.benchtime, "benchtime", "500ms", "go test -benchtime for the microbenchmarks")
	flag.StringVar(&o.profile, "profile", "", "write the gateway's CPU and allocation profiles of its first pgbench run with -profile-clients clients to this directory")
	flag.IntVar(&o.profileClients, "profile-clients", 8, "client count of the profiled pgbench run")
	flag.BoolVar(&o.syncCompare, "sync-compare", true, "also run pgbench through a gateway whose SQLite store commits without fsync (sync=normal), to show what the write-ahead fsync costs")
	flag.StringVar(&o.out, "out", "bench/RESULTS.md", "where to write the results (\"\" for nowhere); written by default only when every scenario runs")
	flag.Parse()
	o.scenarios = map[string]bool{}
	for _, sc := range strings.Split(scenarios, ",") {
		sc = strings.TrimSpace(sc)
		if !slices.Contains(allScenarios, sc) {
			fatal(fmt.Errorf("-scenarios: unknown %q (want some of %s)", sc, strings.Join(allScenarios, ",")))
		}
		o.scenarios[sc] = true
	}
	outSet := false
	flag.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
	if len(o.scenarios) < len(allScenarios) && !outSet {
		o.out = "" // a partial run does not replace the full results
	}
	for _, c := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			fatal(fmt.Errorf("-clients %q", clients))
		}
		o.clients = append(o.clients, n)
	}
	o.modes = strings.Split(modes, ",")
	if o.duration < time.Second || o.rounds < 1 {
		fatal(errors.New("-duration must be at least 1s and -rounds at least 1"))
	}
	if o.profile != "" && (!o.scenarios["pgbench"] || !slices.Contains(o.clients, o.profileClients)) {
		fatal(fmt.Errorf("-profile needs scenario pgbench and -profile-clients %d among -clients", o.profileClients))
	}

	j := &janitor{}
	j.onSignal()
	rep := &report{command: "go run ./bench " + strings.Join(os.Args[1:], " "), opts: o}
	err := run(context.Background(), o, j, rep)
	j.run()
	if err != nil {
		fatal(err)
	}
	rep.finish()
	text := rep.markdown()
	fmt.Println()
	fmt.Print(text)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
			fatal(err)
		}
		fmt.Printf("\nwritten to %s\n", o.out)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func run(ctx context.Context, o options, j *janitor, rep *report) error {
	if err := checkTools(o); err != nil {
		return err
	}
	rep.start()
	servers := &janitor{}
	j.add(servers.run)
	if o.scenarios["pgbench"] || o.scenarios["large"] || o.scenarios["masking"] || o.scenarios["idle"] {
		if err := runServers(ctx, o, servers, rep); err != nil {
			return err
		}
	}
	servers.run() // the microbenchmarks get an idle machine
	if o.scenarios["micro"] {
		rep.scenario("micro")
		fmt.Println("microbenchmarks (go test -bench, -benchtime " + o.benchtime + ")...")
		var err error
		if rep.micro, err = runMicro(o.benchtime); err != nil {
			return err
		}
	}
	return nil
}
