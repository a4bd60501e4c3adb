package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// idleResult is what n idle authenticated sessions cost the gateway.
type idleResult struct {
	sessions          int
	beforeKB, afterKB int64 // gateway VmRSS
	upstream          int   // upstream connections the sessions added
	open              time.Duration
}

func (r idleResult) perSessionKiB() float64 {
	return float64(r.afterKB-r.beforeKB) / float64(r.sessions)
}

// idleConcurrency bounds the start-ups in flight while opening sessions.
const idleConcurrency = 32

// measureIdle opens n sessions through gw, each through start-up and
// authentication to ReadyForQuery, and compares the gateway's VmRSS with
// them all open against before. gw should be a gateway started for this
// scenario, so earlier load does not leave freed memory for the sessions to
// reuse. direct counts the upstream connections, to show each session
// holds one.
func measureIdle(ctx context.Context, n int, gw *gateway, direct target) (idleResult, error) {
	r := idleResult{sessions: n}
	dsn := dsnOf(gw.target) + " connect_timeout=60"
	warm, err := pgconn.Connect(ctx, dsn) // the first session's one-off costs are not per session
	if err != nil {
		return r, fmt.Errorf("idle sessions: %w", err)
	}
	warm.Close(ctx)
	time.Sleep(time.Second)
	before, err := upstreamCount(ctx, direct)
	if err != nil {
		return r, err
	}
	if r.beforeKB, err = rssKB(gw.pid(), "VmRSS"); err != nil {
		return r, err
	}

	conns := make([]*pgconn.PgConn, n)
	defer closeAll(conns)
	errs := make(chan error, n)
	sem := make(chan struct{}, idleConcurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := pgconn.Connect(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	r.open = time.Since(start)
	close(errs)
	if failed := len(errs); failed > 0 {
		return r, fmt.Errorf("idle sessions: %d of %d did not start, first: %w", failed, n, <-errs)
	}
	time.Sleep(2 * time.Second) // let the gateway finish recording the sessions' start
	if r.afterKB, err = rssKB(gw.pid(), "VmRSS"); err != nil {
		return r, err
	}
	after, err := upstreamCount(ctx, direct)
	if err != nil {
		return r, err
	}
	r.upstream = after - before
	fmt.Printf("  %d sessions opened in %s; gatehouse VmRSS %.1f -> %.1f MB, %.1f KiB per session; %d upstream connections\n",
		n, r.open.Round(time.Millisecond), kbToMB(r.beforeKB), kbToMB(r.afterKB), r.perSessionKiB(), r.upstream)
	return r, nil
}

// upstreamCount is the number of client backends of the bench role.
func upstreamCount(ctx context.Context, direct target) (int, error) {
	c, err := pgx.Connect(ctx, dsnOf(direct))
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var n int
	err = c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'svc_bench' AND backend_type = 'client backend' AND pid <> pg_backend_pid()").Scan(&n)
	return n, err
}

// closeAll closes the open connections, a few at a time.
func closeAll(conns []*pgconn.PgConn) {
	sem := make(chan struct{}, idleConcurrency)
	var wg sync.WaitGroup
	for _, c := range conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c.Close(ctx)
		})
	}
	wg.Wait()
}
