package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strings"
	"time"
)

// Store is the persistence interface of gatehouse. Implementations are safe
// for concurrent use; several Stores may share one database.
//
// Every method that takes a context stops waiting when it ends; a write
// whose context ended may or may not have committed.
type Store interface {
	// Append inserts recs in ONE transaction: all of them or none. When it
	// returns nil the transaction is durable (fsynced by SQLite, committed
	// by PostgreSQL). A record whose (Chain, Seq) exists already, here or
	// earlier in recs, fails the whole batch with an error wrapping
	// ErrConflict. Append does not check hashes or seq continuity; that is
	// the writer's job (package audit). recs are not retained.
	Append(ctx context.Context, recs []Record) error
	// Head returns the record with the highest Seq of chain, or the zero
	// Head (Seq 0) when the chain has no records.
	Head(ctx context.Context, chain string) (Head, error)
	// Chains lists the chains that have records, sorted.
	Chains(ctx context.Context) ([]string, error)
	// Scan yields the records of chain with Seq > after in ascending Seq
	// order, then stops. It reads in pages and holds no connection or
	// transaction while the loop body runs, so the body may call the Store.
	// Records appended during the scan may or may not be yielded. An error
	// is yielded once, as the last pair.
	Scan(ctx context.Context, chain string, after int64) iter.Seq2[Record, error]
	// ListSessions returns session-open records matching q, newest first
	// (by Time, then Session), with their step counts and close record.
	ListSessions(ctx context.Context, q SessionQuery) ([]SessionRow, error)
	// SessionRecords returns every record of one session, ordered by Time,
	// Chain and Seq; an empty slice when there is none.
	SessionRecords(ctx context.Context, session string) ([]Record, error)
	// Secret returns the secret called name. If there is none it calls
	// create, stores its result and returns it, atomically across
	// goroutines, Stores and replicas: every caller gets the same value.
	// create may run in several places at once, and all values but one are
	// discarded, so it must have no side effects. It must return a
	// non-empty value.
	Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error)
	// StepRecords returns the step records of one agent run, with their
	// step_result records: the newest q.Limit steps carrying q.TraceID
	// (across sessions) or, when TraceID is empty, of q.Session. They are
	// ordered by Time, Chain and Seq (oldest first).
	StepRecords(ctx context.Context, q StepQuery) ([]Record, error)

	// CreateApproval inserts r. An existing id fails with an error
	// wrapping ErrConflict. Watchers hear of it once it committed.
	CreateApproval(ctx context.Context, r ApprovalRow) error
	// Approval returns one approval, or an error wrapping ErrNotFound.
	Approval(ctx context.Context, id string) (ApprovalRow, error)
	// ListApprovals returns the approvals matching q, newest first (by
	// Created, then ID).
	ListApprovals(ctx context.Context, q ApprovalQuery) ([]ApprovalRow, error)
	// UpdateApproval reads approval id and calls fn with it inside one
	// transaction that holds the row (SELECT ... FOR UPDATE; SQLite's
	// write lock), then writes back what fn left in Status, RedeemKey,
	// Connection, Expires, Updated and Body (the other fields cannot
	// change). Concurrent updates of one approval, from any goroutine,
	// Store or replica, therefore run one after the other, each seeing
	// the previous one's result: none is lost. If fn returns an error
	// nothing is written and UpdateApproval returns that error unwrapped.
	// fn must be quick and must not call the Store (on SQLite it holds
	// the only write connection). Missing id: an error wrapping
	// ErrNotFound. It returns the row as written.
	UpdateApproval(ctx context.Context, id string, fn func(*ApprovalRow) error) (ApprovalRow, error)
	// WatchApprovals delivers an ApprovalChange for every approval created
	// or updated through any Store on this database after it returns,
	// until ctx ends or the Store closes; then the channel is closed.
	// An event says that an approval changed and what its status became;
	// events may repeat or (SQLite, racing writers) arrive out of order,
	// so re-read the approval for its current state. A subscriber that falls far behind gets WatchResumed
	// instead of the changes it missed; WatchLost and WatchResumed bracket
	// an outage of the PostgreSQL listener (see WatchState). On
	// PostgreSQL it returns once the listener is listening.
	WatchApprovals(ctx context.Context) (<-chan ApprovalChange, error)

	// PublishCancel asks every gateway sharing this database to apply a
	// cancel key (a CancelRequest's process id and secret) that the
	// publisher did not issue itself. On SQLite, which serves one gateway,
	// it does nothing.
	PublishCancel(ctx context.Context, key []byte) error
	// WatchCancels delivers the keys published on any Store of this
	// database until ctx ends; then the channel is closed. Keys are
	// best-effort: a slow subscriber loses some.
	WatchCancels(ctx context.Context) (<-chan []byte, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections. Calls after Close fail with an error
	// wrapping ErrClosed.
	Close() error
}

// StepQuery selects the steps of StepRecords.
type StepQuery struct {
	TraceID string // the agent run; takes precedence over Session
	Session string
	// Subject, when set, keeps only steps of sessions opened by this
	// subject: an agent chooses its own trace id, and must not pull
	// another identity's steps into what is shown as its run.
	Subject string
	// Limit caps the steps (not records): DefaultStepLimit when <= 0, at
	// most MaxListLimit.
	Limit int
}

// DefaultStepLimit replaces a non-positive StepQuery.Limit.
const DefaultStepLimit = 20

// Record kinds the store queries by. They are the names of the
// corresponding gate.EventKind values.
const (
	KindSessionOpen  = "session_open"
	KindStep         = "step"
	KindStepResult   = "step_result"
	KindSessionClose = "session_close"
	KindAuthFailure  = "auth_failure"
)

// ActionDeny is the Action of a step that was denied.
const ActionDeny = "deny"

// Record is one row of the audit trail. The store treats Body and the
// hashes as opaque bytes and returns them exactly as appended.
type Record struct {
	Chain string
	Seq   int64 // from 1, contiguous within Chain (the writer ensures it)
	// Time is stored as Unix nanoseconds, so it must lie between the years
	// 1678 and 2262; it is read back in UTC without a monotonic reading.
	Time    time.Time
	Kind    string // a Kind* constant
	Session string // session id; empty for records of no session
	Step    int    // step number within Session, 0 for session records

	// Index columns, derived from Body by the writer so that sessions can
	// be listed without decoding bodies. They are not covered by Hash; the
	// audit verifier re-derives them from Body and compares.
	Connection string // session_open, auth_failure: the target's name
	Subject    string // session_open: the identity's subject
	TraceID    string // step: the W3C trace id the agent sent
	Action     string // step: the decision ("allow", "deny", "review")

	Body     []byte
	PrevHash []byte
	Hash     []byte
}

// Head is the newest record of a chain: its Seq (0 for an empty chain) and
// Hash (nil for an empty chain).
type Head struct {
	Seq  int64
	Hash []byte
}

// SessionQuery filters ListSessions. Zero fields match everything.
type SessionQuery struct {
	Connection string
	Subject    string
	// TraceID matches sessions with at least one step carrying it.
	TraceID string
	// Since matches sessions opened at or after it.
	Since time.Time
	// Limit caps the rows returned: DefaultListLimit when <= 0, at most
	// MaxListLimit.
	Limit int
}

// SessionRow is a session as listed: its open record, the number of step
// records and of denied ones (Action "deny"), and its close record if
// there is one (the first, should there be several).
type SessionRow struct {
	Open   Record
	Close  *Record
	Steps  int
	Denied int
}

var (
	// ErrConflict: Append met a (chain, seq) that exists already.
	ErrConflict = errors.New("store: record exists already")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("store: closed")
)

// Open connects to the store named by rawURL and migrates its schema:
//
//	sqlite:///abs/path/gatehouse.db   (the parent directory is created)
//	postgres://user:pw@host:5432/db?sslmode=verify-full   (also postgresql://)
//
// For PostgreSQL every parameter pgxpool.ParseConfig accepts may be given
// (pool_max_conns, sslrootcert...). Errors say what is wrong with the URL
// and never contain the password.
func Open(ctx context.Context, rawURL string) (Store, error) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("store: URL %q: want sqlite:///abs/path.db or postgres://user:password@host:port/db", redactURL(rawURL))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: URL %q does not parse (check that special characters in the password are percent-encoded)", redactURL(rawURL))
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return openSQLite(ctx, u)
	case "postgres", "postgresql":
		return openPostgres(ctx, u, rawURL)
	default:
		return nil, fmt.Errorf("store: URL %q: unknown scheme %q (want sqlite or postgres)", redactURL(rawURL), scheme)
	}
}

// redactURL returns rawURL with the password replaced, for error messages.
// When rawURL does not parse, everything between "://" and the last "@" is
// replaced, since it may hold an unencoded password.
func redactURL(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "<unparsable>"
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = "xxxxx" + rest[i:]
	}
	return scheme + "://" + rest
}

// scrub removes secret from msg. Drivers are careful not to print passwords,
// but a store error is logged and shown to operators, so we make sure.
// Both the password and its percent-encoded form are removed.
func scrub(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	msg := err.Error()
	for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return scrubbedError{msg: msg, err: err}
}

// scrubbedError keeps the chain for errors.Is but prints the scrubbed text.
type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.err }

// minTime and maxTime bound what Unix nanoseconds can represent.
var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

// checkRecords validates what the engines cannot store faithfully.
func checkRecords(recs []Record) error {
	for i := range recs {
		r := &recs[i]
		switch {
		case r.Chain == "":
			return fmt.Errorf("store: record %d: empty chain", i)
		case r.Seq < 1:
			return fmt.Errorf("store: record %s/%d: seq must be >= 1", r.Chain, r.Seq)
		case r.Time.Before(minTime) || r.Time.After(maxTime):
			return fmt.Errorf("store: record %s/%d: time %v out of range", r.Chain, r.Seq, r.Time)
		}
	}
	return nil
}
