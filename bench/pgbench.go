package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"syscall"
)

// target is one way to reach the database.
type target struct {
	name string
	env  []string // PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE
}

// pgbenchConfig is one cell of the pgbench matrix.
type pgbenchConfig struct {
	mode    string // simple or prepared
	clients int
}

// pgbenchResult is a median over rounds.
type pgbenchResult struct{ tps, latency float64 }

// measurePgbench runs pgbench -S for every mode and client count through
// every path, interleaved: each round runs every path once, the paths'
// order rotating by round so that no path always follows the same one.
// It returns medians per configuration and path. With profile set, the
// gateway's CPU and allocation profiles of its first run with
// profileClients clients are written there.
func measurePgbench(o options, paths []target, gw *gateway) (map[pgbenchConfig]map[string]pgbenchResult, error) {
	out := map[pgbenchConfig]map[string]pgbenchResult{}
	profiled := o.profile == ""
	// Warm the server's caches so that the first path measured does not pay for it.
	if _, err := pgbench(paths[0], "-S", "-n", "-c", "2", "-j", "2", "-T", "2"); err != nil {
		return nil, fmt.Errorf("pgbench warm-up through %s: %w", paths[0].name, err)
	}
	for _, mode := range o.modes {
		for _, c := range o.clients {
			cfg := pgbenchConfig{mode, c}
			runs := map[string][]pgbenchResult{}
			for r := range o.rounds {
				for i := range paths {
					t := paths[(i+r)%len(paths)]
					var prof chan error
					if !profiled && t.name == "gatehouse" && c == o.profileClients {
						profiled = true
						prof = captureProfiles(gw.pprof, o.profile, o.duration)
					}
					res, err := pgbench(t, "-S", "-n", "-M", mode, "-c", strconv.Itoa(c),
						"-j", strconv.Itoa(min(c, runtime.NumCPU())), "-T", strconv.Itoa(int(o.duration.Seconds())))
					if prof != nil {
						if perr := <-prof; perr != nil {
							return nil, perr
						}
					}
					if err != nil {
						return nil, fmt.Errorf("pgbench -S -M %s -c %d through %s: %w", mode, c, t.name, err)
					}
					runs[t.name] = append(runs[t.name], res)
				}
			}
			out[cfg] = map[string]pgbenchResult{}
			fmt.Printf("  -M %-8s -c %-3d", mode, c)
			for _, t := range paths {
				m := medianPgbench(runs[t.name])
				out[cfg][t.name] = m
				fmt.Printf("  %s %.0f tps %.3f ms", t.name, m.tps, m.latency)
			}
			fmt.Println()
		}
	}
	return out, nil
}

var (
	tpsRe     = regexp.MustCompile(`tps = ([0-9.]+) \((without|excluding)`)
	latencyRe = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
	failedRe  = regexp.MustCompile(`number of failed transactions: ([1-9][0-9]*)`)
)

// pgbench runs pgbench against t and reads its TPS (without the initial
// connection time) and mean latency.
func pgbench(t target, args ...string) (pgbenchResult, error) {
	out, err := pgbenchRaw(t, args...)
	if err != nil {
		return pgbenchResult{}, fmt.Errorf("%v\n%s", err, out)
	}
	tm, lm := tpsRe.FindSubmatch(out), latencyRe.FindSubmatch(out)
	if tm == nil || lm == nil {
		return pgbenchResult{}, fmt.Errorf("cannot read tps/latency from pgbench output:\n%s", out)
	}
	if f := failedRe.FindSubmatch(out); f != nil {
		return pgbenchResult{}, fmt.Errorf("%s failed transactions:\n%s", f[1], out)
	}
	tps, _ := strconv.ParseFloat(string(tm[1]), 64)
	lat, _ := strconv.ParseFloat(string(lm[1]), 64)
	return pgbenchResult{tps, lat}, nil
}

func pgbenchRaw(t target, args ...string) ([]byte, error) {
	cmd := exec.Command("pgbench", args...)
	cmd.Env = append(os.Environ(), t.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // it does not outlive an interrupted harness
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// medianPgbench takes TPS and latency medians independently.
func medianPgbench(rs []pgbenchResult) pgbenchResult {
	var tps, lat []float64
	for _, r := range rs {
		tps = append(tps, r.tps)
		lat = append(lat, r.latency)
	}
	return pgbenchResult{median(tps), median(lat)}
}

// median of xs (the upper middle one for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
