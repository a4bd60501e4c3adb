package main

import (
	"context"
	"fmt"
)

// largeResult is the large-result scenario's medians per path and the
// gateway's memory.
type largeResult struct {
	sql     string
	paths   map[string]scan
	startKB int64 // the fresh gateway's VmRSS before the scenario
	peakKB  int64 // its VmHWM after it: the peak over every read through it
}

// largeRowBytes is the value bytes of one row of largeSQL: a 640-byte
// text and an integer of about six digits.
const largeRowBytes = 646

// largeSQL returns about mb megabytes of rows.
func largeSQL(mb int) string {
	return fmt.Sprintf("SELECT repeat(md5(g::text), 20) AS payload, g FROM generate_series(1, %d) g", mb*1_000_000/largeRowBytes)
}

// measureLarge reads about mb megabytes of rows through every path,
// interleaved round by round. gw must be a gateway started for this
// scenario alone: its VmHWM (which cannot be reset) is then the peak of
// these reads.
func measureLarge(ctx context.Context, rounds, mb int, paths []target, gw *gateway) (largeResult, error) {
	r := largeResult{sql: largeSQL(mb)}
	var err error
	if r.startKB, err = rssKB(gw.pid(), "VmRSS"); err != nil {
		return r, err
	}
	if r.paths, err = scanRounds(ctx, rounds, r.sql, paths); err != nil {
		return r, err
	}
	if r.peakKB, err = rssKB(gw.pid(), "VmHWM"); err != nil {
		return r, err
	}
	d := r.paths["direct"]
	fmt.Printf("  %d rows, %.0f MB each read;", d.rows, float64(d.bytes)/1e6)
	for _, t := range paths {
		fmt.Printf(" %s %.0f MB/s", t.name, r.paths[t.name].mbPerSec())
	}
	fmt.Printf("; gatehouse peak RSS %.1f MB\n", kbToMB(r.peakKB))
	return r, nil
}
