package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// TestE2EConcurrentSessions: agents working at once share one hash chain
// (their write-ahead records are committed in groups); every session's
// steps come back in order with their own parameters and outcomes, and the
// chain verifies.
func TestE2EConcurrentSessions(t *testing.T) {
	forVariants(t, storeVariants, func(t *testing.T, v variant) {
		g := newGateway(t, gwOpts{variant: v})
		ctx := ctxT(t)
		const agents, each = 6, 15
		var wg sync.WaitGroup
		errs := make(chan error, agents)
		for a := range agents {
			sub := fmt.Sprintf("swarm-%d", a)
			c := g.connect(t, sub, groupAgents)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer closeConn(c)
				for i := range each {
					id := 1 + (a*each+i)%300
					var got int
					var err error
					if i%3 == 2 {
						_, err = c.Exec(ctx, "DELETE FROM orders WHERE id = $1", id)
						if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
							errs <- fmt.Errorf("%s: DELETE: %v", sub, err)
							return
						}
						continue
					}
					mode := pgx.QueryExecModeCacheStatement
					if i%2 == 1 {
						mode = pgx.QueryExecModeSimpleProtocol
					}
					if err = c.QueryRow(ctx, "SELECT id FROM orders WHERE id = $1", mode, id).Scan(&got); err != nil || got != id {
						errs <- fmt.Errorf("%s: statement %d: %d, %v", sub, i, got, err)
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
		for a := range agents {
			rec := g.closedSession(t, fmt.Sprintf("swarm-%d", a))
			if len(rec.Steps) != each {
				t.Fatalf("%s: %d steps, want %d\n%s", rec.Identity.Subject, len(rec.Steps), each, describeSteps(rec))
			}
			for i, st := range rec.Steps {
				id := fmt.Sprint(1 + (a*each+i)%300)
				wantAction := gate.Allow
				if i%3 == 2 {
					wantAction = gate.Deny
				}
				ok := st.N == i+1 && st.Decision.Action == wantAction
				switch {
				case wantAction == gate.Deny:
					// Refused at Parse, before any parameter was bound.
					ok = ok && strings.HasPrefix(st.Command.Text, "DELETE") && st.Outcome == nil
				case i%2 == 1:
					// The simple protocol: pgx inlines the value.
					ok = ok && st.Command.Params == nil && strings.Contains(st.Command.Text, id) && st.Outcome != nil && st.Outcome.Rows == 1
				default:
					ok = ok && len(st.Command.Params) == 1 && st.Command.Params[0] == id && st.Outcome != nil && st.Outcome.Rows == 1
				}
				if !ok {
					t.Fatalf("%s step %d: %+v %+v %+v", rec.Identity.Subject, i+1, st.Command, st.Decision, st.Outcome)
				}
			}
		}
		g.stop()
		if out, _, err := runCLI(t, "audit", "verify", "--config", g.cfgPath); err != nil {
			t.Fatalf("audit verify: %v\n%s", err, out)
		}
	})
}
