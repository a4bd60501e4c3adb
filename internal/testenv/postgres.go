package testenv

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/tempdb"
)

// Postgres is a throwaway PostgreSQL server with test helpers.
type Postgres struct {
	*tempdb.Postgres
	mu    sync.Mutex
	dbSeq int
}

// WriteCerts is tempdb.WriteCerts, for tests that need a TLS certificate.
func WriteCerts(dir string) (tempdb.CertPair, error) { return tempdb.WriteCerts(dir) }

// StartPostgres starts a private server; the caller stops it.
func StartPostgres(opts tempdb.PostgresOptions) (*Postgres, error) {
	p, err := tempdb.StartPostgres(opts)
	if err != nil {
		return nil, err
	}
	return &Postgres{Postgres: p}, nil
}

// Database is a database created for one test, with its own owner role.
type Database struct {
	Name     string
	User     string
	Password string
}

// NewDatabase creates a fresh database owned by a new login role (SCRAM
// password), runs setup in it as that role, and drops both at test end.
func (p *Postgres) NewDatabase(t testing.TB, setup ...string) Database {
	t.Helper()
	p.mu.Lock()
	p.dbSeq++
	n := p.dbSeq
	p.mu.Unlock()
	d := Database{Name: fmt.Sprintf("db%d_%s", n, tempdb.RandomHex(4)), Password: tempdb.RandomHex(12)}
	d.User = "u_" + d.Name
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Exec(ctx, "", fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", d.User, d.Password),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", d.Name, d.User)); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Exec(ctx, "", "DROP DATABASE IF EXISTS "+d.Name+" WITH (FORCE)", "DROP ROLE IF EXISTS "+d.User)
	})
	if len(setup) > 0 {
		conn, err := pgx.Connect(ctx, p.DSN(d.Name, d.User, d.Password))
		if err != nil {
			t.Fatalf("testenv: connect as %s: %v", d.User, err)
		}
		defer conn.Close(ctx)
		for _, s := range setup {
			if _, err := conn.Exec(ctx, s); err != nil {
				t.Fatalf("testenv: setup %q: %v", tempdb.FirstLine(s), err)
			}
		}
	}
	return d
}
