package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestE2EFirstResponseOfEachSession opens many short sessions (TLS to the
// upstream, as the harness configures it) whose first statement is refused
// or allowed, and checks that each gets its own answer.
//
// It guards a fixed bug: pgwire's Upstream.dial hijacked the pgconn
// connection without calling SyncConn first. When a write during pgconn's
// connect took over 15 ms (a loaded machine), pgconn started a background
// reader whose last Read could still be pending at Hijack; it then took the
// first bytes the upstream sent in the session, so a refused statement lost
// its ErrorResponse (the client saw ReadyForQuery alone) and an allowed one
// its whole result. The failure is timing-dependent: it shows most while
// the machine is busy.
func TestE2EFirstResponseOfEachSession(t *testing.T) {
	g := newGateway(t, gwOpts{})
	const workers, each = 4, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				sub := fmt.Sprintf("first-%d-%d", w, i)
				if err := firstStatement(g, sub, g.token(t, sub, groupAgents), i%2 == 0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// firstStatement connects and sends one statement as the session's first:
// a DROP that must be refused, or a SELECT that must answer.
func firstStatement(g *gateway, sub, tok string, refused bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, g.dsn(sub, tok))
	if err != nil {
		return fmt.Errorf("%s: connect: %w", sub, err)
	}
	defer closeConn(c)
	if refused {
		tag, err := c.Exec(ctx, "DROP TABLE orders", pgx.QueryExecModeSimpleProtocol)
		if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
			return fmt.Errorf("%s: the refused DROP answered tag %q, error %v", sub, tag, err)
		}
		return nil
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM customers", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 40 {
		return fmt.Errorf("%s: the first SELECT: %d, %v", sub, n, err)
	}
	return nil
}
