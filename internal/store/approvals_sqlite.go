package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// sqliteWatchPoll is how often a watched SQLite store looks for approval
// changes committed by other processes on the same file (the CLI, a
// second gateway). Changes made through this Store are broadcast at once.
var sqliteWatchPoll = time.Second

// sqliteWatch is the SQLite engine's change feed: writes through this
// Store publish to the hub after commit; a poller started by the first
// WatchApprovals reads change_seq (a counter bumped under the write lock,
// so in commit order) to find everybody else's.
type sqliteWatch struct {
	hub     hub
	mu      sync.Mutex
	started bool
	seen    int64          // change_seq watermark of the poller
	own     map[int64]bool // change_seqs written here, not yet passed by the poller
	stop    chan struct{}
}

const nextChangeSeq = `(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM approvals)`

// CreateApproval implements Store.
func (s *sqliteStore) CreateApproval(ctx context.Context, r ApprovalRow) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := checkApproval(&r); err != nil {
		return err
	}
	return s.writeApproval(ctx, "create approval", func(tx *sql.Tx) (ApprovalRow, error) {
		_, err := tx.ExecContext(ctx, `INSERT INTO approvals (`+approvalCols+`, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+nextChangeSeq+`)`, approvalArgs(&r)...)
		return r, err
	})
}

// UpdateApproval implements Store.
func (s *sqliteStore) UpdateApproval(ctx context.Context, id string, fn func(*ApprovalRow) error) (ApprovalRow, error) {
	if err := s.check(); err != nil {
		return ApprovalRow{}, err
	}
	var out ApprovalRow
	var fnErr error
	err := s.writeApproval(ctx, "update approval", func(tx *sql.Tx) (ApprovalRow, error) {
		cur, err := scanApproval(tx.QueryRowContext(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = ?`, id).Scan)
		if errors.Is(err, sql.ErrNoRows) {
			return cur, fmt.Errorf("approval %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return cur, err
		}
		out, fnErr = updateApproval(cur, fn)
		if fnErr != nil {
			return out, fnErr
		}
		_, err = tx.ExecContext(ctx, `UPDATE approvals SET `+approvalUpdateSet+`, change_seq = `+nextChangeSeq+` WHERE id = ?`,
			append(updateArgs(&out), id)...)
		return out, err
	})
	if fnErr != nil {
		return ApprovalRow{}, fnErr
	}
	return out, err
}

// writeApproval runs write in a transaction, bumps nothing itself, and
// publishes the written row after the commit.
func (s *sqliteStore) writeApproval(ctx context.Context, what string, write func(*sql.Tx) (ApprovalRow, error)) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr(what+": begin", err)
	}
	defer tx.Rollback()
	r, err := write(tx)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return err
		}
		return sqliteErr(what, err)
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT change_seq FROM approvals WHERE id = ?`, r.ID).Scan(&seq); err != nil {
		return sqliteErr(what, err)
	}
	s.watch.mark(seq)
	if err := tx.Commit(); err != nil {
		return sqliteErr(what+": commit", err)
	}
	s.watch.hub.publish(ApprovalChange{ID: r.ID, Status: r.Status})
	return nil
}

// Approval implements Store.
func (s *sqliteStore) Approval(ctx context.Context, id string) (ApprovalRow, error) {
	if err := s.check(); err != nil {
		return ApprovalRow{}, err
	}
	r, err := scanApproval(s.r.QueryRowContext(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = ?`, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return ApprovalRow{}, fmt.Errorf("store: approval %s: %w", id, ErrNotFound)
	}
	return r, sqliteErrOrNil("approval", err)
}

// ListApprovals implements Store.
func (s *sqliteStore) ListApprovals(ctx context.Context, q ApprovalQuery) ([]ApprovalRow, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	text, args := approvalsSQL(q, question)
	rows, err := s.r.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, sqliteErr("list approvals", err)
	}
	defer rows.Close()
	var out []ApprovalRow
	for rows.Next() {
		r, err := scanApproval(rows.Scan)
		if err != nil {
			return nil, sqliteErr("list approvals", err)
		}
		out = append(out, r)
	}
	return out, sqliteErrOrNil("list approvals", rows.Err())
}

// WatchApprovals implements Store.
func (s *sqliteStore) WatchApprovals(ctx context.Context) (<-chan ApprovalChange, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	w := &s.watch
	w.mu.Lock()
	if !w.started {
		var seen int64
		if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(change_seq), 0) FROM approvals`).Scan(&seen); err != nil {
			w.mu.Unlock()
			return nil, sqliteErr("watch approvals", err)
		}
		w.seen, w.own, w.started, w.stop = seen, map[int64]bool{}, true, make(chan struct{})
		go s.pollChanges(w.stop)
	}
	w.mu.Unlock()
	return w.hub.subscribe(ctx)
}

// mark remembers a change_seq written through this Store, so that the
// poller does not announce it a second time.
func (w *sqliteWatch) mark(seq int64) {
	w.mu.Lock()
	if w.started {
		w.own[seq] = true
	}
	w.mu.Unlock()
}

// pollChanges publishes changes other processes committed, until Close.
func (s *sqliteStore) pollChanges(stop <-chan struct{}) {
	w := &s.watch
	t := time.NewTicker(sqliteWatchPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		w.mu.Lock()
		seen := w.seen
		w.mu.Unlock()
		rows, err := s.r.Query(`SELECT id, status, change_seq FROM approvals WHERE change_seq > ? ORDER BY change_seq`, seen)
		if err != nil {
			continue // the store is closing or briefly unreadable; try again
		}
		var changes []ApprovalChange
		w.mu.Lock()
		for rows.Next() {
			var c ApprovalChange
			var seq int64
			if rows.Scan(&c.ID, &c.Status, &seq) != nil {
				break
			}
			w.seen = max(w.seen, seq)
			if !w.own[seq] {
				changes = append(changes, c)
			}
		}
		for seq := range w.own {
			if seq <= w.seen {
				delete(w.own, seq)
			}
		}
		w.mu.Unlock()
		rows.Close()
		for _, c := range changes {
			w.hub.publish(c)
		}
	}
}

// closeWatch stops the poller and ends every subscription.
func (w *sqliteWatch) closeWatch() {
	w.mu.Lock()
	if w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
	w.mu.Unlock()
	w.hub.close()
}
