package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/tempdb"
)

// checkTools fails with one message naming every missing tool and the
// Debian package that has it.
func checkTools(o options) error {
	var missing []string
	need := map[string]string{"go": "the Go toolchain (https://go.dev/dl)"}
	if o.scenarios["pgbench"] || o.scenarios["large"] || o.scenarios["masking"] || o.scenarios["idle"] {
		need["pgbench"] = "pgbench (apt-get install postgresql-contrib)"
		if _, err := tempdb.PostgresBinDir(); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if o.scenarios["pgbench"] || o.scenarios["large"] {
		need["pgbouncer"] = "pgbouncer (apt-get install pgbouncer)"
	}
	for bin, what := range need {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, what)
		}
	}
	if len(missing) > 0 {
		return errors.New("missing: " + strings.Join(missing, "; "))
	}
	if _, err := os.Stat("cmd/gatehouse"); err != nil {
		return errors.New("run from the repository root (go run ./bench): cmd/gatehouse not found")
	}
	return nil
}

// runServers starts PostgreSQL, the gateways, pgbouncer and the relay, and
// runs the scenarios that need them. Everything it starts is stopped by j.
func runServers(ctx context.Context, o options, j *janitor, rep *report) error {
	pg, err := tempdb.StartPostgres(tempdb.PostgresOptions{
		MaxConnections: o.idleSessions + 300, // every idle gateway session holds an upstream connection
		Settings:       []string{"shared_buffers = 256MB"},
	})
	if err != nil {
		return err
	}
	j.add(pg.Stop)
	pw := tempdb.RandomHex(12)
	if err := pg.Exec(ctx, "", "CREATE ROLE svc_bench LOGIN PASSWORD '"+pw+"'", "CREATE DATABASE bench OWNER svc_bench"); err != nil {
		return err
	}
	direct := target{name: "direct", env: []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(pg.Port), "PGUSER=svc_bench",
		"PGPASSWORD=" + pw, "PGDATABASE=bench", "PGSSLMODE=disable"}}
	rep.versions = append(rep.versions, toolVersion(filepath.Join(pg.BinDir, "postgres")), toolVersion("pgbench"))
	fmt.Printf("PostgreSQL on %s (max_connections %d); pgbench -i -s %d...\n", pg.Addr(), o.idleSessions+300, o.scale)
	if out, err := pgbenchRaw(direct, "-i", "-q", "-s", strconv.Itoa(o.scale)); err != nil {
		return fmt.Errorf("pgbench -i: %v\n%s", err, out)
	}
	fmt.Printf("loading %d rows of fictional customers...\n", o.piiRows)
	if err := loadPII(ctx, direct, o.piiRows); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return err
	}
	j.add(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // pgbouncer runs as postgres below it
		return err
	}
	fmt.Println("building gatehouse and bench/relay...")
	bin, err := buildGatehouse(dir)
	if err != nil {
		return err
	}
	gw, err := startGateway(j, bin, filepath.Join(dir, "gw"), pg.Addr(), pw, o.profile != "")
	if err != nil {
		return err
	}
	paths := []target{direct, gw.target}
	if o.scenarios["pgbench"] || o.scenarios["large"] {
		bouncer, err := startPgbouncer(j, filepath.Join(dir, "pgbouncer"), pg.Port, pw)
		if err != nil {
			return err
		}
		relay, err := startRelay(j, dir, pg.Addr(), direct)
		if err != nil {
			return err
		}
		paths = append(paths, bouncer, relay)
		rep.versions = append(rep.versions, toolVersion("pgbouncer"))
	}
	if o.scenarios["pgbench"] && o.syncCompare {
		// The same gateway with an audit store that commits without
		// fsync, to show what per-statement durability costs.
		nofsync, err := startGatewaySync(j, bin, filepath.Join(dir, "gw-nofsync"), pg.Addr(), pw, false, "normal")
		if err != nil {
			return err
		}
		paths = append(paths, nofsync.target)
	}

	if o.scenarios["pgbench"] {
		rep.scenario("pgbench")
		fmt.Printf("pgbench -S -T %s, %d rounds...\n", o.duration, o.rounds)
		if rep.pgbench, err = measurePgbench(o, paths, gw); err != nil {
			return err
		}
	}
	if o.scenarios["masking"] {
		rep.scenario("masking")
		fmt.Printf("masking: SELECT * FROM customers, %d rounds...\n", o.rounds)
		m, err := measureMasking(ctx, o.rounds, direct, gw)
		if err != nil {
			return err
		}
		rep.masking = &m
	}
	gw.stop()
	if o.scenarios["large"] {
		rep.scenario("large")
		fmt.Printf("large result: about %d MB through each path, %d rounds, a fresh gateway...\n", o.largeMB, o.rounds)
		fresh, err := startGateway(j, bin, filepath.Join(dir, "gw-large"), pg.Addr(), pw, false)
		if err != nil {
			return err
		}
		paths[1] = fresh.target
		l, err := measureLarge(ctx, o.rounds, o.largeMB, paths, fresh)
		fresh.stop()
		if err != nil {
			return err
		}
		rep.large = &l
	}
	if o.scenarios["idle"] {
		rep.scenario("idle")
		fmt.Printf("idle: %d authenticated sessions through a fresh gateway...\n", o.idleSessions)
		fresh, err := startGateway(j, bin, filepath.Join(dir, "gw-idle"), pg.Addr(), pw, false)
		if err != nil {
			return err
		}
		r, err := measureIdle(ctx, o.idleSessions, fresh, direct)
		fresh.stop()
		if err != nil {
			return err
		}
		rep.idle = &r
	}
	return nil
}
