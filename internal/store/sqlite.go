package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite settings, applied to every connection.
//
//   - journal_mode=WAL: readers never block the writer, and a commit is one
//     append to the WAL.
//   - synchronous=FULL: the WAL is fsynced at every commit, so a commit
//     that returned survives a power loss. The URL parameter sync=normal
//     chooses NORMAL instead: a commit is written to the operating system
//     but not fsynced, so it survives a gateway crash but a power loss can
//     lose the newest records. The default is full.
//   - busy_timeout: another process holding the write lock (a second
//     gatehouse on the same file, the CLI) makes us wait, not fail.
//   - _txlock=immediate: write transactions take the write lock at BEGIN,
//     so they never fail half-way with SQLITE_BUSY on lock upgrade.
const (
	sqliteBusyTimeout = 10 * time.Second
	sqliteReaders     = 4
)

// sqliteStore is the embedded engine. Writes go through one connection (w)
// because SQLite admits one writer at a time anyway; reads use a small
// query-only pool (r) that, thanks to WAL, never waits for the writer.
type sqliteStore struct {
	path   string
	w, r   *sql.DB
	insert *sql.Stmt // on w
	closed atomic.Bool
	watch  sqliteWatch
	secretOps
}

func openSQLite(ctx context.Context, u *url.URL) (Store, error) {
	switch {
	case u.User != nil:
		return nil, errors.New("store: sqlite URL must not carry a user or password")
	case u.Host != "" || u.Opaque != "":
		return nil, fmt.Errorf("store: sqlite URL %q: want an absolute path, sqlite:///abs/path.db (three slashes)", u.Redacted())
	case u.Path == "" || !filepath.IsAbs(u.Path):
		return nil, fmt.Errorf("store: sqlite URL %q: the path must be absolute, sqlite:///abs/path.db", u.Redacted())
	case strings.HasSuffix(u.Path, "/"):
		return nil, fmt.Errorf("store: sqlite URL %q names a directory, not a database file", u.Redacted())
	case u.Fragment != "":
		return nil, fmt.Errorf("store: sqlite URL %q: fragments are not supported", u.Redacted())
	}
	sync := "FULL"
	for k, v := range u.Query() {
		switch {
		case k == "sync" && len(v) == 1 && (v[0] == "full" || v[0] == "normal"):
			sync = strings.ToUpper(v[0])
		case k == "sync":
			return nil, fmt.Errorf("store: sqlite URL %q: sync must be full (the default: every commit is fsynced) or normal (committed to the operating system, not fsynced: a power loss can lose the newest records)", u.Redacted())
		default:
			return nil, fmt.Errorf("store: sqlite URL %q: unknown parameter %q (the only one is sync=full|normal)", u.Redacted(), k)
		}
	}
	path := filepath.Clean(u.Path)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: sqlite: create directory: %w", err)
	}
	// Create the file ourselves so that it (and the -wal and -shm files,
	// which SQLite creates with the database file's mode) is private: it
	// holds secrets.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	f.Close()

	common := fmt.Sprintf("%s?_busy_timeout=%d&_foreign_keys=1", path, sqliteBusyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", common+"&_journal_mode=WAL&_synchronous="+sync+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &sqliteStore{path: path, w: w}
	if err := s.init(ctx, common); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *sqliteStore) init(ctx context.Context, common string) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: sqlite %s: %w", s.path, err)
	}
	if err := migrateSQLite(ctx, s.w); err != nil {
		return err
	}
	r, err := sql.Open("sqlite", common+"&_synchronous=FULL&_query_only=1")
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	r.SetMaxOpenConns(sqliteReaders)
	r.SetMaxIdleConns(sqliteReaders)
	s.r = r
	s.insert, err = s.w.PrepareContext(ctx, `INSERT INTO audit_records (`+recordCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store: sqlite: prepare: %w", err)
	}
	s.secretOps = secretOps{read: s.readSecret, insert: s.insertSecret}
	return nil
}

func (s *sqliteStore) check() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Append implements Store.
func (s *sqliteStore) Append(ctx context.Context, recs []Record) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := checkRecords(recs); err != nil || len(recs) == 0 {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr("append: begin", err)
	}
	defer tx.Rollback()
	ins := tx.StmtContext(ctx, s.insert)
	for i := range recs {
		if _, err := ins.ExecContext(ctx, insertArgs(&recs[i])...); err != nil {
			return sqliteErr(fmt.Sprintf("append %s/%d", recs[i].Chain, recs[i].Seq), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return sqliteErr("append: commit", err)
	}
	return nil
}

// sqliteErr wraps err, translating a primary-key violation into ErrConflict.
func sqliteErr(what string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return fmt.Errorf("store: sqlite: %s: %w (%v)", what, ErrConflict, err)
	}
	return fmt.Errorf("store: sqlite: %s: %w", what, err)
}

// Head implements Store. Every read is its own transaction, so it sees all
// commits that returned before it started.
func (s *sqliteStore) Head(ctx context.Context, chain string) (Head, error) {
	if err := s.check(); err != nil {
		return Head{}, err
	}
	var h Head
	err := s.r.QueryRowContext(ctx, `SELECT seq, hash FROM audit_records WHERE chain = ? ORDER BY seq DESC LIMIT 1`, chain).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Head{}, nil
	}
	if err != nil {
		return Head{}, sqliteErr("head", err)
	}
	return h, nil
}

// Chains implements Store.
func (s *sqliteStore) Chains(ctx context.Context) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	// A skip-scan over the primary key: one probe per chain.
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT chain FROM audit_records ORDER BY chain`)
	if err != nil {
		return nil, sqliteErr("chains", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, sqliteErr("chains", err)
		}
		out = append(out, c)
	}
	return out, sqliteErrOrNil("chains", rows.Err())
}

func sqliteErrOrNil(what string, err error) error {
	if err == nil {
		return nil
	}
	return sqliteErr(what, err)
}

// Scan implements Store.
func (s *sqliteStore) Scan(ctx context.Context, chain string, after int64) iter.Seq2[Record, error] {
	return scanPages(after, func(after int64) ([]Record, error) {
		if err := s.check(); err != nil {
			return nil, err
		}
		recs, err := s.query(ctx, `SELECT `+recordCols+` FROM audit_records WHERE chain = ? AND seq > ? ORDER BY seq LIMIT ?`, chain, after, scanPage)
		return recs, sqliteErrOrNil("scan", err)
	})
}

// query runs a recordCols query on the readers.
func (s *sqliteStore) query(ctx context.Context, q string, args ...any) ([]Record, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ListSessions implements Store.
func (s *sqliteStore) ListSessions(ctx context.Context, q SessionQuery) ([]SessionRow, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	text, args := sessionsSQL(q, question)
	rows, err := s.r.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, sqliteErr("list sessions", err)
	}
	defer rows.Close()
	var out []SessionRow
	for rows.Next() {
		var row SessionRow
		var err error
		row.Open, err = scanRecord(func(dest ...any) error {
			return rows.Scan(append(dest, &row.Steps, &row.Denied)...)
		})
		if err != nil {
			return nil, sqliteErr("list sessions", err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, sqliteErrOrNil("list sessions", err)
	}
	ids := make([]any, len(out))
	for i := range out {
		ids[i] = out[i].Open.Session
	}
	closes, err := s.query(ctx, `SELECT `+recordCols+` FROM audit_records
		WHERE kind = '`+KindSessionClose+`' AND session_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)
		ORDER BY time_ns, chain, seq`, ids...)
	if err != nil {
		return nil, sqliteErr("list sessions: close records", err)
	}
	attachCloses(out, closes)
	return out, nil
}

// SessionRecords implements Store.
func (s *sqliteStore) SessionRecords(ctx context.Context, session string) ([]Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	recs, err := s.query(ctx, `SELECT `+recordCols+` FROM audit_records WHERE session_id = ? ORDER BY time_ns, chain, seq`, session)
	return recs, sqliteErrOrNil("session records", err)
}

// StepRecords implements Store.
func (s *sqliteStore) StepRecords(ctx context.Context, q StepQuery) ([]Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	text, args := stepsSQL(q, question)
	recs, err := s.query(ctx, text, args...)
	return recs, sqliteErrOrNil("step records", err)
}

// Secret implements Store.
func (s *sqliteStore) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.secretOps.secret(ctx, name, create)
}

func (s *sqliteStore) readSecret(ctx context.Context, name string) ([]byte, bool, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, sqliteErr("read secret", err)
	}
	return v, true, nil
}

func (s *sqliteStore) insertSecret(ctx context.Context, name string, v []byte) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO secrets (name, value, created_ns) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, v, time.Now().UnixNano())
	return sqliteErrOrNil("insert secret", err)
}

// Ping implements Store.
func (s *sqliteStore) Ping(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations LIMIT 1`).Scan(&one); err != nil {
		return sqliteErr("ping", err)
	}
	return nil
}

// Close implements Store. It waits for nothing: statements running on other
// goroutines fail.
func (s *sqliteStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.watch.closeWatch()
	var errs []error
	if s.insert != nil {
		errs = append(errs, s.insert.Close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}
