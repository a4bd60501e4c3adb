package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// approvalsChannel is the LISTEN/NOTIFY channel of approval changes. The
// payload is "ID STATUS".
const approvalsChannel = "gatehouse_approvals"

// listenAppName is the listener connection's application_name, so that
// operators can tell it apart in pg_stat_activity.
const listenAppName = "gatehouse approvals listener"

// Listener timing: how long WaitForNotification waits before the
// connection is pinged (a silently dead TCP connection would otherwise
// never report an error), and the reconnect backoff bounds.
var (
	pgListenPing       = 30 * time.Second
	pgListenBackoff    = 100 * time.Millisecond
	pgListenMaxBackoff = 5 * time.Second
)

// pgListen is the PostgreSQL engine's change feed: one dedicated
// connection (outside the pool) LISTENs on approvalsChannel and fans the
// notifications out through the hub. It starts with the first
// WatchApprovals and reconnects until Close.
type pgListen struct {
	hub      hub
	mu       sync.Mutex
	started  bool
	first    chan struct{} // closed after the first connection attempt
	firstErr error
	stop     context.CancelFunc
	done     chan struct{}
}

// CreateApproval implements Store.
func (s *postgresStore) CreateApproval(ctx context.Context, r ApprovalRow) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := checkApproval(&r); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO approvals (`+approvalCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, approvalArgs(&r)...); err != nil {
			return err
		}
		return notifyApproval(ctx, tx, &r)
	})
	return s.err("create approval", err)
}

func notifyApproval(ctx context.Context, tx pgx.Tx, r *ApprovalRow) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, approvalsChannel, r.ID+" "+r.Status)
	return err
}

// UpdateApproval implements Store.
func (s *postgresStore) UpdateApproval(ctx context.Context, id string, fn func(*ApprovalRow) error) (ApprovalRow, error) {
	if err := s.check(); err != nil {
		return ApprovalRow{}, err
	}
	var out ApprovalRow
	var fnErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := scanApproval(tx.QueryRow(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = $1 FOR UPDATE`, id).Scan)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("approval %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		out, fnErr = updateApproval(cur, fn)
		if fnErr != nil {
			return fnErr
		}
		if _, err := tx.Exec(ctx, `UPDATE approvals SET `+dollarize(approvalUpdateSet, 1)+` WHERE id = $7`, append(updateArgs(&out), id)...); err != nil {
			return err
		}
		return notifyApproval(ctx, tx, &out)
	})
	switch {
	case fnErr != nil:
		return ApprovalRow{}, fnErr
	case errors.Is(err, ErrNotFound):
		return ApprovalRow{}, fmt.Errorf("store: %w", err)
	case err != nil:
		return ApprovalRow{}, s.err("update approval", err)
	}
	return out, nil
}

// dollarize numbers the ? placeholders of q from n.
func dollarize(q string, n int) string {
	var b strings.Builder
	for _, c := range q {
		if c == '?' {
			b.WriteString("$" + strconv.Itoa(n))
			n++
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Approval implements Store.
func (s *postgresStore) Approval(ctx context.Context, id string) (ApprovalRow, error) {
	if err := s.check(); err != nil {
		return ApprovalRow{}, err
	}
	r, err := scanApproval(s.pool.QueryRow(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = $1`, id).Scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return ApprovalRow{}, fmt.Errorf("store: approval %s: %w", id, ErrNotFound)
	}
	return r, s.err("approval", err)
}

// ListApprovals implements Store.
func (s *postgresStore) ListApprovals(ctx context.Context, q ApprovalQuery) ([]ApprovalRow, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	text, args := approvalsSQL(q, dollar)
	rows, err := s.pool.Query(ctx, text, args...)
	if err != nil {
		return nil, s.err("list approvals", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ApprovalRow, error) { return scanApproval(row.Scan) })
	return out, s.err("list approvals", err)
}

// WatchApprovals implements Store. The first call starts the listener and
// returns once it listens, or with the error of its first connection (the
// listener keeps retrying in the background; later calls then start with
// WatchLost).
func (s *postgresStore) WatchApprovals(ctx context.Context) (<-chan ApprovalChange, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := s.startListen(ctx); err != nil {
		return nil, err
	}
	return s.listen.hub.subscribe(ctx)
}

// startListen starts the listener on first use and waits for its first
// connection attempt.
func (s *postgresStore) startListen(ctx context.Context) error {
	l := &s.listen
	l.mu.Lock()
	if !l.started {
		lctx, stop := context.WithCancel(context.Background())
		l.started, l.stop, l.first, l.done = true, stop, make(chan struct{}), make(chan struct{})
		go s.listenLoop(lctx, pgListenPing)
	}
	first := l.first
	l.mu.Unlock()
	select {
	case <-first:
	case <-ctx.Done():
		return ctx.Err()
	}
	return l.firstErr
}

// listenLoop keeps a LISTEN connection up until ctx ends, publishing every
// notification, WatchLost when the connection breaks and WatchResumed once
// a new one listens.
func (s *postgresStore) listenLoop(ctx context.Context, ping time.Duration) {
	l := &s.listen
	defer close(l.done)
	first, lost := true, false
	backoff := pgListenBackoff
	for {
		conn, err := s.listenConn(ctx)
		if first {
			l.firstErr, first = err, false
			close(l.first)
		}
		if err != nil {
			if !lost {
				l.hub.publish(ApprovalChange{State: WatchLost})
				lost = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, pgListenMaxBackoff)
			continue
		}
		backoff = pgListenBackoff
		if lost {
			l.hub.publish(ApprovalChange{State: WatchResumed})
			lost = false
		}
		s.receive(ctx, conn, ping)
		conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		l.hub.publish(ApprovalChange{State: WatchLost})
		lost = true
	}
}

// listenConn opens the dedicated connection and LISTENs.
func (s *postgresStore) listenConn(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenAppName
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, s.err("listen: connect", err)
	}
	if _, err := conn.Exec(cctx, `LISTEN `+approvalsChannel+`; LISTEN `+cancelsChannel); err != nil {
		conn.Close(context.Background())
		return nil, s.err("listen", err)
	}
	return conn, nil
}

// receive publishes notifications until the connection fails or ctx ends.
// After ping without one it checks the connection with a query.
func (s *postgresStore) receive(ctx context.Context, conn *pgx.Conn, ping time.Duration) {
	for {
		wctx, cancel := context.WithTimeout(ctx, ping)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil && n.Channel == cancelsChannel:
			s.cancels.publishPayload(n.Payload)
		case err == nil:
			id, status, _ := strings.Cut(n.Payload, " ")
			s.listen.hub.publish(ApprovalChange{ID: id, Status: status})
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := conn.Exec(pctx, `SELECT 1`)
			cancel()
			if err != nil {
				return
			}
		default:
			return
		}
	}
}

// closeListen stops the listener and ends every subscription.
func (l *pgListen) closeListen() {
	l.mu.Lock()
	stop, done := l.stop, l.done
	l.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	l.hub.close()
}
