package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// BenchmarkRecordWriteAhead measures what the gateway waits for on every
// statement: a write-ahead step record committed to SQLite (WAL,
// synchronous=FULL), with p goroutines per CPU recording concurrently.
// events/commit shows the group commit at work.
func BenchmarkRecordWriteAhead(b *testing.B) {
	for _, p := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("goroutines=%dxCPU", p), func(b *testing.B) {
			ctx := context.Background()
			st, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			r, err := New(ctx, Config{Store: st, Chain: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close(ctx)
			cmd := &gate.Command{Text: "SELECT id, status FROM orders WHERE customer_id = $1", Params: []string{"42"},
				Class:   gate.Class{Kind: gate.KindRead, Statements: []string{"SELECT"}, Tables: []string{"public.orders"}},
				Request: gate.Request{Reason: "look up the order", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}}
			dec := &gate.Decision{Action: gate.Allow, Policy: "agents", Rule: "reads", PolicyVersion: "v1"}
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(p)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e := gate.Event{Kind: gate.EventStep, SessionID: "0195a1b2c3d4e5f60718293a4b5c6d7e", Step: int(n.Add(1)), Command: cmd, Decision: dec}
					if err := r.Record(ctx, e); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			s := r.Stats()
			if s.Commits > 0 {
				b.ReportMetric(float64(s.Events)/float64(s.Commits), "events/commit")
			}
		})
	}
}
