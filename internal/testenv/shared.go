package testenv

import (
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/tempdb"
)

var shared struct {
	mu sync.Mutex
	pg *Postgres
	// err is remembered so that every test of a binary reports the same
	// start-up failure instead of retrying initdb.
	err error
}

// SharedPostgres returns the test binary's PostgreSQL server, starting it
// on first use. Use NewDatabase for per-test isolation. Main stops it.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg == nil && shared.err == nil {
		shared.pg, shared.err = StartPostgres(tempdb.PostgresOptions{})
	}
	if shared.err != nil {
		t.Fatalf("testenv: %v", shared.err)
	}
	return shared.pg
}

// Main runs the tests and then stops the shared servers. Use it from
// TestMain: os.Exit(testenv.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	if shared.pg != nil {
		shared.pg.Stop()
	}
	shared.mu.Unlock()
	return code
}
