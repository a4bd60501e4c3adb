package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// postgresStore is the shared engine for several replicas. Statements are
// prepared once per pooled connection by pgx's statement cache; Append
// sends a whole batch in one round trip inside one transaction.
//
// Durability is the server's: a commit returns once PostgreSQL has flushed
// it, unless synchronous_commit is off, which Open refuses.
type postgresStore struct {
	pool     *pgxpool.Pool
	password string // only to scrub it from errors
	closed   atomic.Bool
	listen   pgListen
	cancels  cancelSubs
	secretOps
}

const insertPostgres = `INSERT INTO audit_records (` + recordCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

func openPostgres(ctx context.Context, u *url.URL, rawURL string) (Store, error) {
	password, _ := u.User.Password()
	switch {
	case u.Host == "" && u.Query().Get("host") == "":
		return nil, fmt.Errorf("store: postgres URL %q: no host", u.Redacted())
	case len(u.Path) <= 1 && u.Query().Get("dbname") == "":
		return nil, fmt.Errorf("store: postgres URL %q: no database name (postgres://user:password@host:5432/DATABASE)", u.Redacted())
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: postgres URL: %w", scrub(err, password))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %w", u.Redacted(), scrub(err, password))
	}
	s := &postgresStore{pool: pool, password: password}
	s.secretOps = secretOps{read: s.readSecret, insert: s.insertSecret}
	if err := s.init(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", u.Redacted(), err)
	}
	return s, nil
}

func (s *postgresStore) init(ctx context.Context) error {
	var sc string
	if err := s.pool.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&sc); err != nil {
		return s.err("connect", err)
	}
	if sc == "off" {
		return errors.New("synchronous_commit is off, so a commit would not be durable when it returns; " +
			"turn it on for the gatehouse role or add ?synchronous_commit=on to the URL")
	}
	return s.err("migrate", migratePostgres(ctx, s.pool))
}

func (s *postgresStore) check() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// err wraps a driver error, translating a unique violation into ErrConflict
// and scrubbing the password.
func (s *postgresStore) err(what string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("store: postgres: %s: %w (%v)", what, ErrConflict, scrub(err, s.password))
	}
	return fmt.Errorf("store: postgres: %s: %w", what, scrub(err, s.password))
}

// Append implements Store.
func (s *postgresStore) Append(ctx context.Context, recs []Record) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := checkRecords(recs); err != nil || len(recs) == 0 {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for i := range recs {
			b.Queue(insertPostgres, insertArgs(&recs[i])...)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	return s.err("append", err)
}

// Head implements Store.
func (s *postgresStore) Head(ctx context.Context, chain string) (Head, error) {
	if err := s.check(); err != nil {
		return Head{}, err
	}
	var h Head
	err := s.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1`, chain).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Head{}, nil
	}
	return h, s.err("head", err)
}

// Chains implements Store. A recursive skip-scan over the primary key costs
// one index probe per chain instead of reading every record.
func (s *postgresStore) Chains(ctx context.Context) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `WITH RECURSIVE c(chain) AS (
			(SELECT chain FROM audit_records ORDER BY chain LIMIT 1)
			UNION ALL
			SELECT (SELECT a.chain FROM audit_records a WHERE a.chain > c.chain ORDER BY a.chain LIMIT 1)
			FROM c WHERE c.chain IS NOT NULL)
		SELECT chain FROM c WHERE chain IS NOT NULL`)
	if err != nil {
		return nil, s.err("chains", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, s.err("chains", err)
}

// Scan implements Store.
func (s *postgresStore) Scan(ctx context.Context, chain string, after int64) iter.Seq2[Record, error] {
	return scanPages(after, func(after int64) ([]Record, error) {
		if err := s.check(); err != nil {
			return nil, err
		}
		recs, err := s.query(ctx, `SELECT `+recordCols+` FROM audit_records WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3`, chain, after, scanPage)
		return recs, s.err("scan", err)
	})
}

func (s *postgresStore) query(ctx context.Context, q string, args ...any) ([]Record, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) { return scanRecord(row.Scan) })
}

// ListSessions implements Store.
func (s *postgresStore) ListSessions(ctx context.Context, q SessionQuery) ([]SessionRow, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	text, args := sessionsSQL(q, dollar)
	rows, err := s.pool.Query(ctx, text, args...)
	if err != nil {
		return nil, s.err("list sessions", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SessionRow, error) {
		var r SessionRow
		var err error
		r.Open, err = scanRecord(func(dest ...any) error { return row.Scan(append(dest, &r.Steps, &r.Denied)...) })
		return r, err
	})
	if err != nil || len(out) == 0 {
		return out, s.err("list sessions", err)
	}
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].Open.Session
	}
	closes, err := s.query(ctx, `SELECT `+recordCols+` FROM audit_records
		WHERE kind = '`+KindSessionClose+`' AND session_id = ANY($1) ORDER BY time_ns, chain, seq`, ids)
	if err != nil {
		return nil, s.err("list sessions: close records", err)
	}
	attachCloses(out, closes)
	return out, nil
}

// SessionRecords implements Store.
func (s *postgresStore) SessionRecords(ctx context.Context, session string) ([]Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	recs, err := s.query(ctx, `SELECT `+recordCols+` FROM audit_records WHERE session_id = $1 ORDER BY time_ns, chain, seq`, session)
	return recs, s.err("session records", err)
}

// StepRecords implements Store.
func (s *postgresStore) StepRecords(ctx context.Context, q StepQuery) ([]Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	text, args := stepsSQL(q, dollar)
	recs, err := s.query(ctx, text, args...)
	return recs, s.err("step records", err)
}

// Secret implements Store.
func (s *postgresStore) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.secretOps.secret(ctx, name, create)
}

func (s *postgresStore) readSecret(ctx context.Context, name string) ([]byte, bool, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, s.err("read secret", err)
	}
	return v, true, nil
}

func (s *postgresStore) insertSecret(ctx context.Context, name string, v []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO secrets (name, value, created_ns) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		name, v, time.Now().UnixNano())
	return s.err("insert secret", err)
}

// Ping implements Store.
func (s *postgresStore) Ping(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.err("ping", s.pool.Ping(ctx))
}

// Close implements Store. It waits for acquired connections to be released.
func (s *postgresStore) Close() error {
	if !s.closed.Swap(true) {
		s.listen.closeListen()
		s.pool.Close()
	}
	return nil
}
