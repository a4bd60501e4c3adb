package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// newDB returns the URL of a fresh, empty database for one test.
type newDB func(t *testing.T) string

// runConformance is the contract every engine must meet.
func runConformance(t *testing.T, fresh newDB) {
	t.Run("AppendReadOrder", func(t *testing.T) { testAppendReadOrder(t, open(t, fresh(t))) })
	t.Run("ScanPages", func(t *testing.T) { testScanPages(t, open(t, fresh(t))) })
	t.Run("BatchAtomicity", func(t *testing.T) { testBatchAtomicity(t, open(t, fresh(t))) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t, fresh(t))) })
	t.Run("SecretRace", func(t *testing.T) { testSecretRace(t, fresh(t)) })
	t.Run("MigrateIdempotent", func(t *testing.T) { testMigrateIdempotent(t, fresh(t)) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, fresh(t)) })
	t.Run("Approvals", func(t *testing.T) { testApprovals(t, open(t, fresh(t))) })
	t.Run("ApprovalUpdateRace", func(t *testing.T) { testApprovalUpdateRace(t, fresh(t)) })
	t.Run("ApprovalWatch", func(t *testing.T) { testApprovalWatch(t, fresh(t)) })
	t.Run("StepRecords", func(t *testing.T) { testStepRecords(t, open(t, fresh(t))) })
}

func open(t *testing.T, url string) Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// rec builds a record with distinguishable contents.
func rec(chain string, seq int64, kind, session string, step int) Record {
	return Record{
		Chain: chain, Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second), Kind: kind,
		Session: session, Step: step,
		Body:     []byte(fmt.Sprintf(`{"chain":%q,"seq":%d}`, chain, seq)),
		PrevHash: bytes.Repeat([]byte{byte(seq - 1)}, 32),
		Hash:     bytes.Repeat([]byte{byte(seq)}, 32),
	}
}

func scanAll(t *testing.T, s Store, chain string, after int64) []Record {
	t.Helper()
	var out []Record
	for r, err := range s.Scan(context.Background(), chain, after) {
		if err != nil {
			t.Fatalf("Scan(%s, %d): %v", chain, after, err)
		}
		out = append(out, r)
	}
	return out
}

func testAppendReadOrder(t *testing.T, s Store) {
	ctx := context.Background()
	if h, err := s.Head(ctx, "a"); err != nil || h.Seq != 0 || h.Hash != nil {
		t.Fatalf("empty Head = %+v, %v", h, err)
	}
	a1 := rec("a", 1, KindSessionOpen, "s1", 0)
	a1.Connection, a1.Subject = "orders", "bot-1"
	// A non-UTC location and nanoseconds must survive.
	a1.Time = time.Date(2026, 3, 1, 12, 0, 0, 987654321, time.FixedZone("CET", 3600))
	a2 := rec("a", 2, KindStep, "s1", 1)
	a2.TraceID, a2.Action = "4bf92f3577b34da6a3ce929d0e0e4736", "allow"
	b1 := rec("b", 1, KindSessionOpen, "s2", 0)
	if err := s.Append(ctx, []Record{a1, a2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, []Record{b1}); err != nil {
		t.Fatal(err)
	}
	a3 := rec("a", 3, KindStepResult, "s1", 1)
	if err := s.Append(ctx, []Record{a3}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, nil); err != nil {
		t.Fatalf("empty Append: %v", err)
	}
	h, err := s.Head(ctx, "a")
	if err != nil || h.Seq != 3 || !bytes.Equal(h.Hash, a3.Hash) {
		t.Fatalf("Head(a) = %+v, %v", h, err)
	}
	got := scanAll(t, s, "a", 0)
	want := []Record{a1, a2, a3}
	for i := range want {
		want[i].Time = want[i].Time.UTC()
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Scan(a) =\n%+v\nwant\n%+v", got, want)
	}
	if got := scanAll(t, s, "a", 2); len(got) != 1 || got[0].Seq != 3 {
		t.Fatalf("Scan(a, after 2) = %+v", got)
	}
	chains, err := s.Chains(ctx)
	if err != nil || !reflect.DeepEqual(chains, []string{"a", "b"}) {
		t.Fatalf("Chains = %v, %v", chains, err)
	}
	recs, err := s.SessionRecords(ctx, "s1")
	if err != nil || len(recs) != 3 || recs[0].Seq != 1 || recs[2].Seq != 3 {
		t.Fatalf("SessionRecords(s1) = %+v, %v", recs, err)
	}
	if recs, err := s.SessionRecords(ctx, "nope"); err != nil || len(recs) != 0 {
		t.Fatalf("SessionRecords(nope) = %+v, %v", recs, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testScanPages(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 2*scanPage + 7
	var batch []Record
	for i := int64(1); i <= n; i++ {
		batch = append(batch, rec("p", i, KindStepResult, "s", int(i)))
	}
	if err := s.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got := scanAll(t, s, "p", 0)
	if len(got) != n {
		t.Fatalf("Scan yielded %d records, want %d", len(got), n)
	}
	for i, r := range got {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
	// Breaking out of the loop stops the scan.
	count := 0
	for range s.Scan(ctx, "p", 0) {
		count++
		if count == 3 {
			break
		}
	}
	if count != 3 {
		t.Fatalf("break after 3, count %d", count)
	}
}

func testBatchAtomicity(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.Append(ctx, []Record{rec("c", 1, KindStep, "s", 1)}); err != nil {
		t.Fatal(err)
	}
	// A duplicate inside the batch.
	err := s.Append(ctx, []Record{rec("c", 2, KindStep, "s", 2), rec("c", 3, KindStep, "s", 3), rec("c", 3, KindStep, "s", 3)})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate in batch: err = %v, want ErrConflict", err)
	}
	// A clash with a committed record, last in the batch.
	err = s.Append(ctx, []Record{rec("c", 2, KindStep, "s", 2), rec("c", 1, KindStep, "s", 1)})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("clash with committed: err = %v, want ErrConflict", err)
	}
	// An invalid record fails before anything is written.
	bad := rec("c", 0, KindStep, "s", 2)
	if err := s.Append(ctx, []Record{rec("c", 2, KindStep, "s", 2), bad}); err == nil {
		t.Fatal("seq 0 accepted")
	}
	if got := scanAll(t, s, "c", 0); len(got) != 1 {
		t.Fatalf("after failed batches the chain has %d records, want 1", len(got))
	}
	if h, _ := s.Head(ctx, "c"); h.Seq != 1 {
		t.Fatalf("Head = %d", h.Seq)
	}
	// The store still works after the failures.
	if err := s.Append(ctx, []Record{rec("c", 2, KindStep, "s", 2)}); err != nil {
		t.Fatal(err)
	}
}

func testSessions(t *testing.T, s Store) {
	ctx := context.Background()
	var batch []Record
	seq := int64(0)
	add := func(kind, session string, step int, at time.Duration, f func(*Record)) {
		seq++
		r := rec("n1", seq, kind, session, step)
		r.Time = t0.Add(at)
		if f != nil {
			f(&r)
		}
		batch = append(batch, r)
	}
	open := func(conn, sub string) func(*Record) {
		return func(r *Record) { r.Connection, r.Subject = conn, sub }
	}
	step := func(action, trace string) func(*Record) {
		return func(r *Record) { r.Action, r.TraceID = action, trace }
	}
	add(KindSessionOpen, "s1", 0, 1*time.Minute, open("orders", "bot-a"))
	add(KindStep, "s1", 1, 2*time.Minute, step("allow", "t1"))
	add(KindStepResult, "s1", 1, 2*time.Minute, nil)
	add(KindStep, "s1", 2, 3*time.Minute, step("deny", "t1"))
	add(KindSessionClose, "s1", 0, 4*time.Minute, nil)
	add(KindSessionOpen, "s2", 0, 5*time.Minute, open("billing", "bot-a"))
	add(KindStep, "s2", 1, 6*time.Minute, step("deny", "t2"))
	add(KindSessionOpen, "s3", 0, 7*time.Minute, open("orders", "bot-b"))
	add(KindAuthFailure, "s4", 0, 8*time.Minute, open("orders", ""))
	if err := s.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	ids := func(rows []SessionRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.Open.Session)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    SessionQuery
		want []string
	}{
		{"all newest first", SessionQuery{}, []string{"s3", "s2", "s1"}},
		{"connection", SessionQuery{Connection: "orders"}, []string{"s3", "s1"}},
		{"subject", SessionQuery{Subject: "bot-a"}, []string{"s2", "s1"}},
		{"trace", SessionQuery{TraceID: "t1"}, []string{"s1"}},
		{"since", SessionQuery{Since: t0.Add(5 * time.Minute)}, []string{"s3", "s2"}},
		{"limit", SessionQuery{Limit: 1}, []string{"s3"}},
		{"combined", SessionQuery{Connection: "orders", Subject: "bot-a", TraceID: "t1"}, []string{"s1"}},
		{"none", SessionQuery{Connection: "nope"}, nil},
	} {
		rows, err := s.ListSessions(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ids(rows); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: sessions %v, want %v", tc.name, got, tc.want)
		}
	}
	rows, err := s.ListSessions(ctx, SessionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := rows[2], rows[1]
	if s1.Steps != 2 || s1.Denied != 1 || s1.Close == nil || s1.Close.Seq != 5 || s1.Open.Connection != "orders" {
		t.Errorf("s1 row = %+v (close %+v)", s1, s1.Close)
	}
	if s2.Steps != 1 || s2.Denied != 1 || s2.Close != nil {
		t.Errorf("s2 row = %+v", s2)
	}
}

func testSecretRace(t *testing.T, url string) {
	ctx := context.Background()
	stores := []Store{open(t, url), open(t, url)}
	const perStore = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		got     [][]byte
		created int
	)
	start := make(chan struct{})
	for _, s := range stores {
		for range perStore {
			wg.Go(func() {
				<-start
				v, err := s.Secret(ctx, "signing-key", func() ([]byte, error) {
					mu.Lock()
					created++
					mu.Unlock()
					b := make([]byte, 32)
					rand.Read(b)
					return b, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
			})
		}
	}
	close(start)
	wg.Wait()
	if len(got) != len(stores)*perStore {
		t.Fatalf("%d results", len(got))
	}
	for _, v := range got[1:] {
		if !bytes.Equal(v, got[0]) || len(v) != 32 {
			t.Fatalf("racing Secret calls returned different values (create ran %d times)", created)
		}
	}
	t.Logf("create ran %d times for %d callers", created, len(got))
	// Once created, create is not called again, and other names are apart.
	v, err := stores[1].Secret(ctx, "signing-key", func() ([]byte, error) { return nil, errors.New("must not be called") })
	if err != nil || !bytes.Equal(v, got[0]) {
		t.Fatalf("second read = %x, %v", v, err)
	}
	boom := errors.New("boom")
	if _, err := stores[0].Secret(ctx, "other", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("create error = %v", err)
	}
	if _, err := stores[0].Secret(ctx, "other", func() ([]byte, error) { return nil, nil }); err == nil {
		t.Fatal("empty secret accepted")
	}
	if _, err := stores[0].Secret(ctx, "", func() ([]byte, error) { return []byte("x"), nil }); err == nil {
		t.Fatal("empty name accepted")
	}
}

func testMigrateIdempotent(t *testing.T, url string) {
	ctx := context.Background()
	// Concurrent first opens: each version must be applied exactly once.
	const n = 4
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			s, err := Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	s := open(t, url) // and once more, on a migrated database
	if err := s.Append(ctx, []Record{rec("m", 1, KindStep, "s", 1)}); err != nil {
		t.Fatal(err)
	}
	versions := schemaVersions(t, s)
	want := make([]int, len(sqliteMigrations))
	for i := range want {
		want[i] = i + 1
	}
	if !reflect.DeepEqual(versions, want) {
		t.Fatalf("schema_migrations = %v, want %v", versions, want)
	}
}

func testClosed(t *testing.T, url string) {
	ctx := context.Background()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Append(ctx, []Record{rec("x", 1, KindStep, "s", 1)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := s.Head(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Head after Close = %v", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping after Close = %v", err)
	}
}

func TestMigrationsPerEngine(t *testing.T) {
	if len(sqliteMigrations) != len(postgresMigrations) {
		t.Fatalf("%d sqlite migrations, %d postgres: add one script per engine", len(sqliteMigrations), len(postgresMigrations))
	}
}

// schemaVersions reads schema_migrations through the engine's own handle.
func schemaVersions(t *testing.T, s Store) []int {
	t.Helper()
	ctx := context.Background()
	var out []int
	switch s := s.(type) {
	case *sqliteStore:
		rows, err := s.r.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			rows.Scan(&v)
			out = append(out, v)
		}
	case *postgresStore:
		rows, err := s.pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			rows.Scan(&v)
			out = append(out, v)
		}
	}
	return out
}
