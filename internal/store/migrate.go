package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Schema migrations. Version N is element N-1 of each slice; a database
// records the versions it has in schema_migrations. To change the schema,
// append ONE script to each slice (never edit a released one): the engines
// apply every missing version in order at Open, each version in its own
// transaction together with its schema_migrations row.
//
// Concurrency: SQLite serialises migrating processes with BEGIN IMMEDIATE
// (the write lock) and re-reads the version under it; PostgreSQL takes a
// transaction-scoped advisory lock (migrateLockKey) before reading it, so
// replicas starting at once apply each version exactly once.
//
// A database whose version is newer than this binary knows is refused: an
// older gatehouse must not write into a schema it does not understand.

var sqliteMigrations = []string{
	// 1: audit trail and secrets.
	`CREATE TABLE audit_records (
		chain      TEXT    NOT NULL,
		seq        INTEGER NOT NULL,
		time_ns    INTEGER NOT NULL,
		kind       TEXT    NOT NULL,
		session_id TEXT    NOT NULL DEFAULT '',
		step       INTEGER NOT NULL DEFAULT 0,
		connection TEXT    NOT NULL DEFAULT '',
		subject    TEXT    NOT NULL DEFAULT '',
		trace_id   TEXT    NOT NULL DEFAULT '',
		action     TEXT    NOT NULL DEFAULT '',
		body       BLOB    NOT NULL,
		prev_hash  BLOB    NOT NULL,
		hash       BLOB    NOT NULL,
		PRIMARY KEY (chain, seq)
	) WITHOUT ROWID;
	CREATE INDEX audit_records_session ON audit_records (session_id, kind);
	CREATE INDEX audit_records_open_time ON audit_records (time_ns) WHERE kind = 'session_open';
	CREATE INDEX audit_records_open_connection ON audit_records (connection, time_ns) WHERE kind = 'session_open';
	CREATE INDEX audit_records_open_subject ON audit_records (subject, time_ns) WHERE kind = 'session_open';
	CREATE INDEX audit_records_trace ON audit_records (trace_id, session_id) WHERE trace_id <> '';
	CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
		BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
	CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
		BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
	CREATE TABLE secrets (
		name       TEXT    PRIMARY KEY,
		value      BLOB    NOT NULL,
		created_ns INTEGER NOT NULL
	);`,
	// 2: approvals. change_seq orders changes for other processes'
	// pollers (approvals_sqlite.go); it is bumped under the write lock.
	`CREATE TABLE approvals (
		id         TEXT    PRIMARY KEY,
		kind       TEXT    NOT NULL,
		status     TEXT    NOT NULL,
		requester  TEXT    NOT NULL,
		redeem_key TEXT    NOT NULL DEFAULT '',
		connection TEXT    NOT NULL DEFAULT '',
		created_ns INTEGER NOT NULL,
		expires_ns INTEGER NOT NULL,
		updated_ns INTEGER NOT NULL,
		change_seq INTEGER NOT NULL,
		body       BLOB    NOT NULL
	);
	CREATE INDEX approvals_created ON approvals (created_ns, id);
	CREATE INDEX approvals_status ON approvals (status, expires_ns);
	CREATE INDEX approvals_redeem ON approvals (redeem_key) WHERE redeem_key <> '';
	CREATE INDEX approvals_requester ON approvals (requester, kind);
	CREATE UNIQUE INDEX approvals_change ON approvals (change_seq);`,
}

var postgresMigrations = []string{
	// 1: audit trail and secrets.
	`CREATE TABLE audit_records (
		chain      text   NOT NULL,
		seq        bigint NOT NULL,
		time_ns    bigint NOT NULL,
		kind       text   NOT NULL,
		session_id text   NOT NULL DEFAULT '',
		step       bigint NOT NULL DEFAULT 0,
		connection text   NOT NULL DEFAULT '',
		subject    text   NOT NULL DEFAULT '',
		trace_id   text   NOT NULL DEFAULT '',
		action     text   NOT NULL DEFAULT '',
		body       bytea  NOT NULL,
		prev_hash  bytea  NOT NULL,
		hash       bytea  NOT NULL,
		PRIMARY KEY (chain, seq)
	);
	CREATE INDEX audit_records_session ON audit_records (session_id, kind);
	CREATE INDEX audit_records_open_time ON audit_records (time_ns) WHERE kind = 'session_open';
	CREATE INDEX audit_records_open_connection ON audit_records (connection, time_ns) WHERE kind = 'session_open';
	CREATE INDEX audit_records_open_subject ON audit_records (subject, time_ns) WHERE kind = 'session_open';
	CREATE INDEX audit_records_trace ON audit_records (trace_id, session_id) WHERE trace_id <> '';
	CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit_records is append-only'; END $$;
	CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_records
		FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
	CREATE TABLE secrets (
		name       text   PRIMARY KEY,
		value      bytea  NOT NULL,
		created_ns bigint NOT NULL
	);`,
	// 2: approvals. Changes are announced with NOTIFY gatehouse_approvals.
	`CREATE TABLE approvals (
		id         text   PRIMARY KEY,
		kind       text   NOT NULL,
		status     text   NOT NULL,
		requester  text   NOT NULL,
		redeem_key text   NOT NULL DEFAULT '',
		connection text   NOT NULL DEFAULT '',
		created_ns bigint NOT NULL,
		expires_ns bigint NOT NULL,
		updated_ns bigint NOT NULL,
		body       bytea  NOT NULL
	);
	CREATE INDEX approvals_created ON approvals (created_ns, id);
	CREATE INDEX approvals_status ON approvals (status, expires_ns);
	CREATE INDEX approvals_redeem ON approvals (redeem_key) WHERE redeem_key <> '';
	CREATE INDEX approvals_requester ON approvals (requester, kind);`,
}

// schemaMigrationsDDL is the same for both engines.
const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_ns BIGINT  NOT NULL
)`

// migrateLockKey is the PostgreSQL advisory lock key that serialises
// migrations ("gatehous" in ASCII).
const migrateLockKey int64 = 0x6761746568_6f7573

// migrateSQLite applies the missing sqliteMigrations to db, one version per
// transaction. db must begin transactions with BEGIN IMMEDIATE so that the
// version is read under the write lock.
func migrateSQLite(ctx context.Context, db *sql.DB) error {
	for {
		done, err := migrateSQLiteOne(ctx, db)
		if err != nil || done {
			return err
		}
	}
}

func migrateSQLiteOne(ctx context.Context, db *sql.DB) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schemaMigrationsDDL); err != nil {
		return false, fmt.Errorf("store: migrate: %w", err)
	}
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return false, fmt.Errorf("store: migrate: read version: %w", err)
	}
	next, done, err := nextMigration(v, sqliteMigrations)
	if err != nil || done {
		return done, err
	}
	if _, err := tx.ExecContext(ctx, next); err != nil {
		return false, fmt.Errorf("store: migrate to version %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ns) VALUES (?, ?)`, v+1, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("store: migrate to version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: migrate to version %d: commit: %w", v+1, err)
	}
	return false, nil
}

// migratePostgres applies the missing postgresMigrations, one version per
// transaction, each under the advisory lock.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	for {
		done, err := migratePostgresOne(ctx, pool)
		if err != nil || done {
			return err
		}
	}
}

func migratePostgresOne(ctx context.Context, pool *pgxpool.Pool) (done bool, err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return false, fmt.Errorf("store: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, schemaMigrationsDDL); err != nil {
		return false, fmt.Errorf("store: migrate: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return false, fmt.Errorf("store: migrate: read version: %w", err)
	}
	next, done, err := nextMigration(v, postgresMigrations)
	if err != nil || done {
		return done, err
	}
	if _, err := tx.Exec(ctx, next); err != nil {
		return false, fmt.Errorf("store: migrate to version %d: %w", v+1, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_ns) VALUES ($1, $2)`, v+1, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("store: migrate to version %d: %w", v+1, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("store: migrate to version %d: commit: %w", v+1, err)
	}
	return false, nil
}

// nextMigration returns the script that follows version have, or done when
// there is none.
func nextMigration(have int, scripts []string) (script string, done bool, err error) {
	switch {
	case have > len(scripts):
		return "", false, fmt.Errorf("store: database schema version %d is newer than this gatehouse knows (%d); upgrade gatehouse", have, len(scripts))
	case have == len(scripts):
		return "", true, nil
	}
	return scripts[have], false, nil
}
