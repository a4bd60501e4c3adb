package store

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// postgresURL creates a fresh database and returns its store URL.
func postgresURL(t *testing.T) string {
	pg := testenv.SharedPostgres(t)
	db := pg.NewDatabase(t)
	// testenv runs the server with synchronous_commit off for speed; the
	// store refuses that unless the URL turns it on.
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&synchronous_commit=on", url.PathEscape(db.User), url.PathEscape(db.Password), pg.Addr(), db.Name)
}

func TestPostgres(t *testing.T) {
	runConformance(t, postgresURL)
}

func TestPostgresAppendOnly(t *testing.T) {
	s := open(t, postgresURL(t)).(*postgresStore)
	ctx := context.Background()
	if err := s.Append(ctx, []Record{rec("a", 1, KindStep, "s", 1)}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit_records SET body = '\x00'`, `DELETE FROM audit_records`, `TRUNCATE audit_records`} {
		if _, err := s.pool.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want append-only", q, err)
		}
	}
}

func TestPostgresSynchronousCommitOffRefused(t *testing.T) {
	u := postgresURL(t)
	_, err := Open(context.Background(), strings.Replace(u, "synchronous_commit=on", "synchronous_commit=off", 1))
	if err == nil || !strings.Contains(err.Error(), "synchronous_commit") {
		t.Fatalf("Open with synchronous_commit=off: %v", err)
	}
}

func TestPostgresConcurrentMigrations(t *testing.T) {
	// Many replicas starting at once on an empty database (the conformance
	// suite runs 4; this runs more to widen the window).
	u := postgresURL(t)
	errs := make(chan error, 12)
	for range cap(errs) {
		go func() {
			s, err := Open(context.Background(), u)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestPostgresWatchReconnects: when the listener's connection is killed,
// watchers hear WatchLost, then WatchResumed once it listens again, and
// changes flow again. A short ping interval exercises the liveness check
// on the way.
func TestPostgresWatchReconnects(t *testing.T) {
	defer func(d time.Duration) { pgListenPing = d }(pgListenPing)
	pgListenPing = 50 * time.Millisecond
	pg := testenv.SharedPostgres(t)
	db := pg.NewDatabase(t)
	u := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&synchronous_commit=on", url.PathEscape(db.User), url.PathEscape(db.Password), pg.Addr(), db.Name)
	s := open(t, u)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := s.WatchApprovals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * pgListenPing) // let a few pings pass: the connection must survive them
	if err := s.CreateApproval(ctx, approvalRow("ap_1", "pending", 0)); err != nil {
		t.Fatal(err)
	}
	waitChange(t, "before", w, ApprovalChange{ID: "ap_1", Status: "pending"})
	err = pg.Exec(ctx, "", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '`+db.Name+`' AND application_name = '`+listenAppName+`'`)
	if err != nil {
		t.Fatal(err)
	}
	waitChange(t, "lost", w, ApprovalChange{State: WatchLost})
	waitChange(t, "resumed", w, ApprovalChange{State: WatchResumed})
	if err := s.CreateApproval(ctx, approvalRow("ap_2", "pending", time.Second)); err != nil {
		t.Fatal(err)
	}
	waitChange(t, "after", w, ApprovalChange{ID: "ap_2", Status: "pending"})
}
