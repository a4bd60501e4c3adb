package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// dsnOf is t's connection string for pgx.
func dsnOf(t target) string {
	kv := map[string]string{}
	for _, e := range t.env {
		k, v, _ := strings.Cut(e, "=")
		kv[k] = v // later entries override earlier ones, as in exec's Env
	}
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=%s",
		kv["PGHOST"], kv["PGPORT"], kv["PGUSER"], kv["PGPASSWORD"], kv["PGDATABASE"], kv["PGSSLMODE"])
}

// scan is one full read of a result.
type scan struct {
	rows, bytes int64 // rows and value bytes the client received
	d           time.Duration
}

func (s scan) rowsPerSec() float64 { return float64(s.rows) / s.d.Seconds() }
func (s scan) mbPerSec() float64   { return float64(s.bytes) / 1e6 / s.d.Seconds() }

// scanQuery connects through t and reads every row of sql with the
// extended protocol and text results, counting rows and value bytes. The
// time runs from sending the query to the last row; connecting is not
// counted.
func scanQuery(ctx context.Context, t target, sql string) (scan, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, dsnOf(t))
	if err != nil {
		return scan{}, fmt.Errorf("connecting through %s: %w", t.name, err)
	}
	defer c.Close(ctx)
	start := time.Now()
	rows, err := c.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return scan{}, fmt.Errorf("%s: %w", t.name, err)
	}
	var s scan
	for rows.Next() {
		s.rows++
		for _, v := range rows.RawValues() {
			s.bytes += int64(len(v))
		}
	}
	s.d = time.Since(start)
	if err := rows.Err(); err != nil {
		return scan{}, fmt.Errorf("%s: %w", t.name, err)
	}
	return s, nil
}

// scanRounds reads sql through every path, rounds times, interleaved with
// the order rotating by round, and returns each path's median read (by
// time). One unmeasured read through the first path warms the server's
// caches first.
func scanRounds(ctx context.Context, rounds int, sql string, paths []target) (map[string]scan, error) {
	if _, err := scanQuery(ctx, paths[0], sql); err != nil {
		return nil, err
	}
	runs := map[string][]scan{}
	for r := range rounds {
		for i := range paths {
			t := paths[(i+r)%len(paths)]
			s, err := scanQuery(ctx, t, sql)
			if err != nil {
				return nil, err
			}
			runs[t.name] = append(runs[t.name], s)
		}
	}
	out := map[string]scan{}
	for name, ss := range runs {
		slices.SortFunc(ss, func(a, b scan) int { return cmp.Compare(a.d, b.d) })
		out[name] = ss[len(ss)/2]
	}
	return out, nil
}
