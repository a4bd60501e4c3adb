package pgwire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// allow takes a command from decision to a recorded, forwardable step:
// estimate (when a rule can use command.estimated_rows), decide, hold for
// approval when the policy says review, then record write-ahead. The
// returned error is a refusal for the client; the command must not run.
func (c *conn) allow(ctx context.Context, cmd *gate.Command, args bindArgs) (*gate.Step, error) {
	est := c.estimator()
	var impact *gate.Impact
	if c.estimatedAtExecute(cmd) {
		impact = est.Estimate(ctx, cmd, args, false) // the planner only: nothing runs before a decision
		if impact.EstimatedRows >= 0 {
			n := impact.EstimatedRows
			cmd.EstimatedRows = &n
		}
	}
	d, err := c.sess.Decide(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if d.Action == gate.Review {
		if est != nil && (impact == nil || c.up.DryRun) {
			// Held for review: now the dry run may count exactly.
			impact = est.Estimate(ctx, cmd, args, true)
		}
		wctx, stop := c.watchClient(ctx)
		hctx, cancel := context.WithCancelCause(wctx)
		release := c.cancelable(cancel)
		d, err = c.sess.Hold(hctx, cmd, d, impact, c.noticeApproval)
		release()
		cancel(nil)
		gone := stop()
		if err != nil {
			switch {
			case gone:
				return nil, errClientGone
			case errors.Is(context.Cause(hctx), errQueryCanceled):
				return nil, errQueryCanceled
			}
			return nil, err
		}
	}
	return c.sess.Begin(ctx, cmd, d)
}

// cancelable lets the client's CancelRequest end a wait for approval by
// calling cancel; release undoes it.
func (c *conn) cancelable(cancel context.CancelCauseFunc) (release func()) {
	t := c.srv.cancel.lookupByPID(c.pid)
	if t == nil {
		return func() {}
	}
	return t.holding(cancel)
}

// estimator is the upstream's estimator, or nil.
func (c *conn) estimator() *estimator {
	if c.up == nil {
		return nil
	}
	return c.srv.estimators[c.up.Name]
}

// estimatedAtExecute reports whether cmd's decision takes the upstream's
// row estimate (a rule reads command.estimated_rows and cmd is a write
// that can be estimated): it is then made when cmd runs, not at Parse.
func (c *conn) estimatedAtExecute(cmd *gate.Command) bool {
	return c.srv.cfg.EstimateWrites && c.estimator() != nil && cmd.Class.Kind == gate.KindWrite && estimable(cmd)
}

// errClientGone ends a connection whose client disconnected while its
// statement waited for approval.
var errClientGone = errors.New("client disconnected while waiting for approval")

// noticeApproval tells the client, at once, that its statement waits for a
// human, with the request's ID, where to approve it and for how long.
func (c *conn) noticeApproval(a *gate.Approval) {
	wait := time.Until(a.Expires).Round(time.Second)
	msg := fmt.Sprintf("gatehouse: approval required (request %s): %s; waiting up to %s", a.ID, a.URL, wait)
	_ = c.send(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "01000", Message: msg})
}

// watchClient returns a context that is cancelled if the client closes its
// connection while the client loop waits (for an approval), and a stop
// function to call before the client loop reads again; stop reports whether
// the client went away. It watches with a one-byte Peek: if the client
// sends more messages meanwhile, they stay buffered and the client is known
// to be alive.
func (c *conn) watchClient(ctx context.Context) (context.Context, func() (gone bool)) {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var lost bool
	go func() {
		defer close(done)
		if _, err := c.cr.br.Peek(1); err != nil && !isTimeout(err) {
			lost = true
			cancel()
		}
	}()
	return wctx, func() bool {
		_ = c.nc.SetReadDeadline(time.Now())
		<-done
		_ = c.nc.SetReadDeadline(time.Time{})
		cancel()
		return lost
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
