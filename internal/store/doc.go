// Package store is gatehouse's persistence: one small interface, Store, with
// two engines behind it.
//
//   - sqlite:///abs/path/gatehouse.db — embedded (modernc.org/sqlite, pure Go)
//     for a single gateway. WAL journal, synchronous=FULL (a commit is on disk
//     before Append returns), busy_timeout, foreign keys, BEGIN IMMEDIATE for
//     writes.
//   - postgres://user:pw@host:5432/db?... — a shared PostgreSQL (pgx/v5
//     pgxpool) for several gateway replicas.
//
// Open picks the engine from the URL scheme, connects and brings the schema
// up to date (migrate.go). Both engines pass the same conformance suite
// (conformance_test.go).
//
// What is stored:
//
//   - audit_records: the append-only audit trail. The store knows the shape
//     of a record (chain, seq, hashes, a few index columns, an opaque body)
//     but not what the hashes mean; package audit computes and verifies
//     them. (chain, seq) is the primary key, so two writers that disagree
//     about a chain's head cannot fork it: the second Append fails. UPDATE
//     and DELETE are refused by a trigger; that stops accidents, not an
//     attacker with database access, which is what the hash chain is for.
//   - secrets: small named values (signing keys, HMAC keys), created once
//     and shared by every replica. They are stored in clear: protect the
//     database (file mode 0600 for SQLite, a dedicated role for PostgreSQL).
//   - approvals: approval requests and time-bound grants (approvals.go).
//     The store knows a few columns to find them by (status, kind,
//     requester, redeem key, times); the request itself, its votes and a
//     grant's bounds are an opaque body owned by package approval.
//     UpdateApproval is a read-modify-write that holds the row, so votes
//     from several replicas serialise. Every change is announced to
//     WatchApprovals subscribers: by NOTIFY gatehouse_approvals, sent in
//     the writing transaction and heard by one dedicated LISTEN connection
//     per Store (PostgreSQL); in-process, plus a one-second poll of a
//     change counter for other processes on the same file (SQLite).
//
// Every Store is safe for concurrent use by many goroutines, and several
// Stores (processes, replicas) may share one database.
package store
