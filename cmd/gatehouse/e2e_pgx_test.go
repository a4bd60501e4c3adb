package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// TestE2EPgx drives the gateway with pgx as an application would: the
// default extended protocol (statement cache), the simple protocol,
// pipelined batches, transactions, prepared statements and COPY.
func TestE2EPgx(t *testing.T) {
	forVariants(t, allVariants, func(t *testing.T, v variant) {
		g := newGateway(t, gwOpts{variant: v})
		const sub = "pgx-agent"
		c := g.connect(t, sub, groupAgents)
		direct := g.direct(t)
		ctx := ctxT(t)

		// paidOver is the reference answer, straight from the upstream.
		const paidOver = "SELECT count(*), sum(total)::text FROM orders WHERE status = $1 AND total > $2"
		var wantN int64
		var wantSum string
		if err := direct.QueryRow(ctx, paidOver, "paid", 100).Scan(&wantN, &wantSum); err != nil {
			t.Fatal(err)
		}

		t.Run("extended protocol with parameters", func(t *testing.T) {
			var n int64
			var sum string
			if err := c.QueryRow(ctx, paidOver, "paid", 100).Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			if n != wantN || sum != wantSum {
				t.Fatalf("got %d, %s; want %d, %s", n, sum, wantN, wantSum)
			}
			// Typed results in binary format survive the relay.
			var total pgtype.Numeric
			var created pgtype.Timestamptz
			var email string
			err := c.QueryRow(ctx, "SELECT o.total, o.created_at, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = $1", 7).
				Scan(&total, &created, &email)
			if err != nil || !total.Valid || !created.Valid || email == "" {
				t.Fatalf("typed row: %v %v %v %q", err, total, created, email)
			}
		})

		t.Run("simple protocol", func(t *testing.T) {
			var n int64
			var sum string
			if err := c.QueryRow(ctx, paidOver, pgx.QueryExecModeSimpleProtocol, "paid", 100).Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			if n != wantN || sum != wantSum {
				t.Fatalf("got %d, %s; want %d, %s", n, sum, wantN, wantSum)
			}
		})

		t.Run("batch", func(t *testing.T) {
			b := &pgx.Batch{}
			var n1, n2 int64
			var name string
			b.Queue("SELECT count(*) FROM orders").QueryRow(func(r pgx.Row) error { return r.Scan(&n1) })
			b.Queue("SELECT name FROM customers WHERE id = $1", 3).QueryRow(func(r pgx.Row) error { return r.Scan(&name) })
			b.Queue("SELECT count(*) FROM customers WHERE city = $1", "Oslo").QueryRow(func(r pgx.Row) error { return r.Scan(&n2) })
			if err := c.SendBatch(ctx, b).Close(); err != nil {
				t.Fatal(err)
			}
			if n1 != 300 || name == "" || n2 != g.directInt(t, "SELECT count(*) FROM customers WHERE city = 'Oslo'") {
				t.Fatalf("batch results %d %q %d", n1, name, n2)
			}

			// A batch in the default mode prepares every statement first:
			// the gateway refuses the INSERT's Parse, so nothing runs.
			b = &pgx.Batch{}
			b.Queue("SELECT 1")
			b.Queue("INSERT INTO notes VALUES ($1, 'batch')", 1)
			b.Queue("SELECT 3")
			br := c.SendBatch(ctx, b)
			_, err := br.Exec()
			wantPgError(t, err, "batch with an INSERT", "42501", "denied by rule agents/no-writes")
			_ = br.Close()
			if n := g.directInt(t, "SELECT count(*) FROM notes"); n != 0 {
				t.Fatalf("notes has %d rows after the refused batch", n)
			}
			var one int
			if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("connection after the batch: %v", err)
			}

			// In exec mode the batch is one pipeline of Parse/Bind/Execute:
			// the read before the denied statement runs, the denied one fails
			// with 42501 and the rest, up to Sync, is skipped.
			ce := g.connectWith(t, "pgx-exec-mode", []string{groupAgents}, func(cc *pgx.ConnConfig) { cc.DefaultQueryExecMode = pgx.QueryExecModeExec })
			b = &pgx.Batch{}
			b.Queue("SELECT count(*) FROM orders")
			b.Queue("INSERT INTO notes VALUES ($1, 'batch')", 2)
			b.Queue("SELECT 3")
			br = ce.SendBatch(ctx, b)
			var n int64
			if err := br.QueryRow().Scan(&n); err != nil || n != 300 {
				t.Fatalf("first statement of the pipeline: %d, %v", n, err)
			}
			_, err = br.Exec()
			wantPgError(t, err, "denied INSERT in a pipeline", "42501", "denied by rule agents/no-writes")
			if _, err := br.Exec(); err == nil {
				t.Fatal("the statement after a denied one in the same pipeline ran")
			}
			_ = br.Close()
			if n := g.directInt(t, "SELECT count(*) FROM notes"); n != 0 {
				t.Fatalf("notes has %d rows after the refused pipeline", n)
			}
			if err := ce.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("connection after the pipeline: %v", err)
			}
		})

		t.Run("transaction with a denied statement", func(t *testing.T) {
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM orders WHERE id < $1", 10).Scan(&n); err != nil || n != 9 {
				t.Fatalf("read in the transaction: %d, %v", n, err)
			}
			_, err = tx.Exec(ctx, "DELETE FROM orders WHERE id = $1", 1)
			wantPgError(t, err, "DELETE in a transaction", "42501", "agents may only read")
			// The gateway aborted the upstream transaction as a real
			// refusal would: the next statement fails with 25P02.
			err = tx.QueryRow(ctx, "SELECT 1").Scan(&n)
			wantPgError(t, err, "statement after the denial", "25P02")
			if st := c.PgConn().TxStatus(); st != 'E' {
				t.Fatalf("transaction status %q, want E (failed)", st)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if st := c.PgConn().TxStatus(); st != 'I' {
				t.Fatalf("transaction status after ROLLBACK %q, want I", st)
			}
			if n := g.directInt(t, "SELECT count(*) FROM orders WHERE id = 1"); n != 1 {
				t.Fatal("order 1 was deleted")
			}
			// A transaction that commits.
			err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n)
			})
			if err != nil || n != 40 {
				t.Fatalf("committed read-only transaction: %d, %v", n, err)
			}
		})

		t.Run("prepared statement reuse", func(t *testing.T) {
			const q = "SELECT status FROM orders WHERE id = $1"
			if _, err := c.Prepare(ctx, "order_status", q); err != nil {
				t.Fatal(err)
			}
			for _, id := range []int{5, 6, 5} {
				var got, want string
				if err := c.QueryRow(ctx, "order_status", id).Scan(&got); err != nil {
					t.Fatalf("execute order_status(%d): %v", id, err)
				}
				if err := direct.QueryRow(ctx, q, id).Scan(&want); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("order_status(%d) = %q, want %q", id, got, want)
				}
			}
			// Preparing a denied statement fails at Parse.
			_, err := c.Prepare(ctx, "wipe", "DELETE FROM orders WHERE id = $1")
			wantPgError(t, err, "Prepare of a DELETE", "42501")
		})

		t.Run("CopyFrom refused", func(t *testing.T) {
			rows := [][]any{{101, "copied"}, {102, "copied"}}
			_, err := c.CopyFrom(ctx, pgx.Identifier{"notes"}, []string{"id", "body"}, pgx.CopyFromRows(rows))
			wantPgError(t, err, "COPY FROM STDIN", "42501", "denied by rule agents/no-writes")
			if n := g.directInt(t, "SELECT count(*) FROM notes"); n != 0 {
				t.Fatalf("notes has %d rows after the refused COPY", n)
			}
			var one int
			if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				t.Fatalf("connection after the refused COPY: %v", err)
			}
		})

		t.Run("COPY TO STDOUT", func(t *testing.T) {
			const q = "COPY (SELECT id, status, total FROM orders WHERE id <= 20 ORDER BY id) TO STDOUT"
			var got, want bytes.Buffer
			tag, err := c.PgConn().CopyTo(ctx, &got, q)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := direct.PgConn().CopyTo(ctx, &want, q); err != nil {
				t.Fatal(err)
			}
			if tag.RowsAffected() != 20 || got.String() != want.String() {
				t.Fatalf("COPY TO STDOUT: %s\n%s\nwant\n%s", tag, got.String(), want.String())
			}
		})

		t.Run("large result", func(t *testing.T) {
			rows, err := c.Query(ctx, "SELECT g, repeat('x', 100) FROM generate_series(1, $1::int) g", 100000)
			if err != nil {
				t.Fatal(err)
			}
			n, sum := 0, 0
			for rows.Next() {
				var g int
				var s string
				if err := rows.Scan(&g, &s); err != nil {
					t.Fatal(err)
				}
				n++
				sum += g
			}
			if err := rows.Err(); err != nil || n != 100000 || sum != 100000*100001/2 {
				t.Fatalf("%d rows, sum %d, %v", n, sum, err)
			}
		})

		t.Run("cancel", func(t *testing.T) {
			// A context that ends makes pgx send a CancelRequest, which the
			// gateway must route to the right upstream backend.
			cc := g.connect(t, "pgx-cancel", groupAgents)
			qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			if _, err := cc.Exec(qctx, "SELECT pg_sleep(60)"); err == nil {
				t.Fatal("pg_sleep(60) returned without error under a 300ms context")
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Fatalf("the cancelled query returned after %s", d)
			}
			poll(t, "the upstream backend to stop sleeping", func() (bool, string) {
				var n int
				err := direct.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(60)'").Scan(&n)
				return err == nil && n == 0, fmt.Sprint(n, " still sleeping, ", err)
			})
		})

		// Every Execute is a step of its own, with its parameters.
		closeConn(c)
		rec := g.closedSession(t, sub)
		var params [][]string
		for _, st := range rec.Steps {
			if st.Command.Text == "SELECT status FROM orders WHERE id = $1" {
				params = append(params, st.Command.Params)
				if st.Decision.Action != gate.Allow || st.Outcome == nil || st.Outcome.Tag != "SELECT 1" {
					t.Errorf("prepared step %d: %+v %+v", st.N, st.Decision, st.Outcome)
				}
			}
		}
		if want := [][]string{{"5"}, {"6"}, {"5"}}; !slices.EqualFunc(params, want, slices.Equal) {
			t.Errorf("recorded executions of the prepared statement have params %q, want %q\n%s", params, want, describeSteps(rec))
		}
		big := stepByText(t, rec, "generate_series")
		if o := big.Outcome; o == nil || o.Rows != 100000 || o.Tag != "SELECT 100000" || o.Bytes < 100000*100 {
			t.Errorf("large result step outcome: %+v", o)
		}
		copyStep := stepByText(t, rec, "from stdin")
		if copyStep.Decision.Action != gate.Deny || copyStep.Command.Class.Kind != gate.KindWrite || !strings.Contains(copyStep.Command.Text, `"notes"`) {
			t.Errorf("COPY FROM step: %+v %+v", copyStep.Command, copyStep.Decision)
		}
	})
}
