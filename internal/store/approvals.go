package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Approvals are stored as rows the store understands only as far as it
// must to find them: an id, a kind, a status, the requester, a redeem key,
// the connection and three times are columns; everything else (the
// request, the votes, a grant's bounds) is Body, opaque JSON owned by
// package approval. The columns and Body must agree; the writer ensures it.
//
// Every create and update is announced to WatchApprovals subscribers of
// every Store on the database once it has committed: through
// LISTEN/NOTIFY on PostgreSQL (the notification is sent inside the
// writing transaction, so it is delivered if and only if the change
// committed), in-process on SQLite, plus a poll of a change counter that
// notices writes by other processes on the same file.

// Approval kinds.
const (
	ApprovalStatement = "statement" // a held statement
	ApprovalGrant     = "grant"     // time-bound access
)

// ErrNotFound: no approval has the id.
var ErrNotFound = errors.New("store: not found")

// ApprovalRow is one approval as stored.
type ApprovalRow struct {
	ID   string
	Kind string // ApprovalStatement or ApprovalGrant
	// Status is a gate.ApprovalStatus name ("pending", "approved"...).
	Status string
	// Requester identifies who asked (package approval's identity key).
	Requester string
	// RedeemKey is what an identical retry of a statement looks up; empty
	// for grants.
	RedeemKey  string
	Connection string
	// Times are stored as Unix nanoseconds (years 1678 to 2262) and read
	// back in UTC without a monotonic reading.
	Created time.Time
	Expires time.Time
	Updated time.Time
	Body    []byte
}

// ApprovalQuery filters ListApprovals. Zero fields match everything.
type ApprovalQuery struct {
	Statuses  []string // any of these
	Kind      string
	Requester string
	RedeemKey string
	// ExpiresBefore matches rows whose Expires is at or before it.
	ExpiresBefore time.Time
	// Limit caps the rows returned; <= 0 means no limit.
	Limit int
}

// WatchState tells what an ApprovalChange reports.
type WatchState uint8

const (
	// WatchChange: approval ID was created or changed; its status is now
	// Status.
	WatchChange WatchState = iota
	// WatchLost: the store lost its way of hearing about changes (the
	// PostgreSQL listener's connection broke); changes made elsewhere are
	// not delivered until WatchResumed.
	WatchLost
	// WatchResumed: changes may have been missed (after WatchLost, or a
	// subscriber that fell too far behind); re-read what you hold.
	WatchResumed
)

// ApprovalChange is one event of WatchApprovals.
type ApprovalChange struct {
	State  WatchState
	ID     string // WatchChange only
	Status string // WatchChange only
}

const approvalCols = "id, kind, status, requester, redeem_key, connection, created_ns, expires_ns, updated_ns, body"

func approvalArgs(r *ApprovalRow) []any {
	return []any{r.ID, r.Kind, r.Status, r.Requester, r.RedeemKey, r.Connection,
		r.Created.UnixNano(), r.Expires.UnixNano(), r.Updated.UnixNano(), nonNil(r.Body)}
}

func scanApproval(scan func(dest ...any) error) (ApprovalRow, error) {
	var r ApprovalRow
	var c, e, u int64
	err := scan(&r.ID, &r.Kind, &r.Status, &r.Requester, &r.RedeemKey, &r.Connection, &c, &e, &u, &r.Body)
	r.Created, r.Expires, r.Updated = time.Unix(0, c).UTC(), time.Unix(0, e).UTC(), time.Unix(0, u).UTC()
	return r, err
}

// checkApproval validates what the engines cannot store faithfully.
func checkApproval(r *ApprovalRow) error {
	switch {
	case r.ID == "":
		return errors.New("store: approval without an id")
	case r.Kind != ApprovalStatement && r.Kind != ApprovalGrant:
		return fmt.Errorf("store: approval %s: unknown kind %q", r.ID, r.Kind)
	case r.Status == "":
		return fmt.Errorf("store: approval %s: empty status", r.ID)
	}
	for _, t := range []time.Time{r.Created, r.Expires, r.Updated} {
		if t.Before(minTime) || t.After(maxTime) {
			return fmt.Errorf("store: approval %s: time %v out of range", r.ID, t)
		}
	}
	return nil
}

// approvalsSQL builds the ListApprovals query, newest first.
func approvalsSQL(q ApprovalQuery, ph func(n int) string) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", ph(len(args))))
	}
	if len(q.Statuses) > 0 {
		var in []string
		for _, s := range q.Statuses {
			args = append(args, s)
			in = append(in, ph(len(args)))
		}
		where = append(where, "status IN ("+strings.Join(in, ", ")+")")
	}
	if q.Kind != "" {
		add("kind = ?", q.Kind)
	}
	if q.Requester != "" {
		add("requester = ?", q.Requester)
	}
	if q.RedeemKey != "" {
		add("redeem_key = ?", q.RedeemKey)
	}
	if !q.ExpiresBefore.IsZero() {
		add("expires_ns <= ?", clampTime(q.ExpiresBefore).UnixNano())
	}
	text := `SELECT ` + approvalCols + ` FROM approvals`
	if len(where) > 0 {
		text += ` WHERE ` + strings.Join(where, " AND ")
	}
	text += ` ORDER BY created_ns DESC, id DESC`
	if q.Limit > 0 {
		args = append(args, q.Limit)
		text += ` LIMIT ` + ph(len(args))
	}
	return text, args
}

const approvalUpdateSet = `status = ?, redeem_key = ?, connection = ?, expires_ns = ?, updated_ns = ?, body = ?`

// updateApproval is the engine-neutral half of UpdateApproval: it calls fn
// on a copy of cur and checks the result. Immutable columns are restored.
func updateApproval(cur ApprovalRow, fn func(*ApprovalRow) error) (ApprovalRow, error) {
	next := cur
	next.Body = append([]byte(nil), cur.Body...)
	if err := fn(&next); err != nil {
		return ApprovalRow{}, err
	}
	next.ID, next.Kind, next.Requester, next.Created = cur.ID, cur.Kind, cur.Requester, cur.Created
	if err := checkApproval(&next); err != nil {
		return ApprovalRow{}, err
	}
	return next, nil
}

func updateArgs(r *ApprovalRow) []any {
	return []any{r.Status, r.RedeemKey, r.Connection, r.Expires.UnixNano(), r.Updated.UnixNano(), nonNil(r.Body)}
}
