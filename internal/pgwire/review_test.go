package pgwire

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
)

// chanApprover holds each request until the test decides it.
type chanApprover struct {
	mu        sync.Mutex
	requests  []*gate.ApprovalRequest
	decisions map[string]chan gate.ApprovalStatus
	cancelled chan string
	created   chan string
}

func newChanApprover() *chanApprover {
	return &chanApprover{decisions: map[string]chan gate.ApprovalStatus{}, cancelled: make(chan string, 4), created: make(chan string, 4)}
}

func (a *chanApprover) Redeem(context.Context, *gate.ApprovalRequest) (*gate.Approval, bool, error) {
	return nil, false, nil
}

func (a *chanApprover) Request(_ context.Context, req *gate.ApprovalRequest) (*gate.Approval, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := "ap_" + string(rune('a'+len(a.requests)))
	a.requests = append(a.requests, req)
	a.decisions[id] = make(chan gate.ApprovalStatus, 1)
	a.created <- id
	return &gate.Approval{ID: id, URL: "http://gw/approvals/" + id, Status: gate.ApprovalPending, Expires: time.Now().Add(10 * time.Minute)}, nil
}

func (a *chanApprover) Wait(ctx context.Context, id string) (*gate.Approval, error) {
	a.mu.Lock()
	ch := a.decisions[id]
	a.mu.Unlock()
	select {
	case st := <-ch:
		ap := &gate.Approval{ID: id, Status: st}
		ap.Votes = []gate.ApprovalVote{{By: "dba-1", Approve: st == gate.ApprovalUsed, Comment: "checked"}}
		return ap, nil
	case <-ctx.Done():
		a.cancelled <- id
		return nil, ctx.Err()
	}
}

func (a *chanApprover) Grants(context.Context, *gate.Identity) ([]string, error) { return nil, nil }

func (a *chanApprover) decide(id string, st gate.ApprovalStatus) {
	a.mu.Lock()
	ch := a.decisions[id]
	a.mu.Unlock()
	ch <- st
}

// reviewWrites sends writes to review in the given mode, estimating with
// command.estimated_rows: writes of at most 1 row are allowed outright.
func reviewWrites(mode string) gatetest.PolicyFunc {
	return func(in gate.Input) gate.Decision {
		c := in.Command
		switch {
		case c.Class.Kind == gate.KindRead || c.Class.Kind == gate.KindTransaction:
			return gate.Decision{Action: gate.Allow, Policy: "p", Rule: "reads"}
		case c.Class.Kind == gate.KindWrite && c.EstimatedRows != nil && *c.EstimatedRows <= 1:
			return gate.Decision{Action: gate.Allow, Policy: "p", Rule: "small-writes"}
		case c.Class.Kind == gate.KindWrite:
			return gate.Decision{Action: gate.Review, Policy: "p", Rule: "big-writes", Message: "needs a DBA",
				Review: &gate.ReviewSpec{Required: 1, Mode: mode}}
		}
		return gate.Decision{Action: gate.Deny, Policy: "p", Rule: "rest"}
	}
}

func reviewHarness(t *testing.T, mode string) (*harness, *chanApprover) {
	ap := newChanApprover()
	h := newHarness(t, func(c *Config, g *gate.Config) {
		g.Policy = reviewWrites(mode)
		g.Approver = ap
		c.EstimateWrites = true
	})
	h.direct(t, "INSERT INTO items SELECT g, 'bulk ' || g FROM generate_series(100, 199) g")
	h.direct(t, "ANALYZE items")
	return h, ap
}

func TestReviewWaitApproved(t *testing.T) {
	h, ap := reviewHarness(t, "wait")
	c := connect(t, h.dsn(tokenAgent))
	pc := c.PgConn()
	done := make(chan error, 1)
	go func() {
		_, err := pc.Exec(context.Background(), "DELETE FROM items WHERE id >= 100").ReadAll()
		done <- err
	}()
	id := <-ap.created
	// Nothing ran before the approval.
	var n int
	if err := connect(t, h.pg.DSN(h.db.Name, h.db.User, h.db.Password)).QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 103 {
		t.Fatalf("rows before approval: %d %v", n, err)
	}
	req := ap.requests[0]
	if req.Impact == nil || req.Impact.EstimatedRows < 50 || !strings.Contains(req.Impact.Plan, "ModifyTable") {
		t.Fatalf("impact = %+v", req.Impact)
	}
	ap.decide(id, gate.ApprovalUsed)
	if err := <-done; err != nil {
		t.Fatalf("approved statement failed: %v", err)
	}
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 3 {
		t.Fatalf("rows after approved delete: %d %v", n, err)
	}
	steps := h.rec.Steps()
	var actions []string
	for _, s := range steps {
		actions = append(actions, s.Decision.Action.String())
	}
	if !strings.HasPrefix(strings.Join(actions, ","), "review,allow") || steps[1].Decision.ApprovedBy[0] != "dba-1" {
		t.Fatalf("steps: %v %+v", actions, steps[1].Decision)
	}
}

func TestReviewNoticeAndDenial(t *testing.T) {
	h, ap := reviewHarness(t, "wait")
	notices := make(chan string, 4)
	cfg, err := pgconn.ParseConfig(h.dsn(tokenAgent))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices <- n.Message }
	pc, err := pgconn.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := pc.Exec(context.Background(), "UPDATE items SET name = 'x' WHERE id >= 100").ReadAll()
		done <- err
	}()
	id := <-ap.created
	select {
	case msg := <-notices:
		want := "gatehouse: approval required (request " + id + "): http://gw/approvals/" + id + "; waiting up to "
		if !strings.HasPrefix(msg, want) {
			t.Fatalf("notice %q, want prefix %q", msg, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notice while waiting")
	}
	ap.decide(id, gate.ApprovalDenied)
	err = <-done
	if pe := pgErr(t, err); pe.Code != "42501" || !strings.Contains(pe.Message, "denied by dba-1: checked") {
		t.Fatalf("%s %s", pe.Code, pe.Message)
	}
	// The session is still usable.
	if _, err := pc.Exec(context.Background(), "SELECT 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
}

func TestReviewDefer(t *testing.T) {
	h, ap := reviewHarness(t, "defer")
	c := connect(t, h.dsn(tokenAgent))
	_, err := c.Exec(context.Background(), "DELETE FROM items WHERE id >= 100")
	pe := pgErr(t, err)
	id := <-ap.created
	if pe.Code != "42501" || !strings.Contains(pe.Message, "approval required (request "+id+")") {
		t.Fatalf("%s %s", pe.Code, pe.Message)
	}
}

// A small write is allowed without review because the planner's estimate
// reaches the policy as command.estimated_rows.
func TestEstimateReachesPolicy(t *testing.T) {
	h, ap := reviewHarness(t, "wait")
	c := connect(t, h.dsn(tokenAgent))
	if _, err := c.Exec(context.Background(), "UPDATE items SET name = 'one' WHERE id = $1", 2); err != nil {
		t.Fatal(err)
	}
	if len(ap.requests) != 0 {
		t.Fatal("a one-row update went to review")
	}
	last := h.rec.Steps()[len(h.rec.Steps())-1]
	if last.Decision.Rule != "small-writes" || last.Command.EstimatedRows == nil {
		t.Fatalf("decided by %q with estimate %v", last.Decision.Rule, last.Command.EstimatedRows)
	}
}

func TestReviewClientGoneCancels(t *testing.T) {
	h, ap := reviewHarness(t, "wait")
	fe, nc := rawConn(t, h, tokenAgent)
	fe.Send(pgproto3Query{"DELETE FROM items WHERE id >= 100"}.msg())
	fe.Flush()
	<-ap.created
	nc.Close()
	select {
	case <-ap.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not cancelled when the client went away")
	}
}

// With dry_run, a held write is also run in a rolled-back transaction for
// an exact count; nothing it did survives, and nothing runs before the
// decision.
func TestReviewDryRun(t *testing.T) {
	ap := newChanApprover()
	h := newHarness(t, func(c *Config, g *gate.Config) {
		g.Policy = reviewWrites("defer")
		g.Approver = ap
		c.EstimateWrites = true
		c.Upstreams["shop"].DryRun = true
	})
	h.direct(t, "INSERT INTO items SELECT g, 'bulk ' || g FROM generate_series(100, 199) g")
	c := connect(t, h.dsn(tokenAgent))
	if _, err := c.Exec(context.Background(), "DELETE FROM items WHERE id >= 100"); pgErr(t, err).Code != "42501" {
		t.Fatal("not held")
	}
	<-ap.created
	imp := ap.requests[0].Impact
	if imp == nil || imp.ExactRows == nil || *imp.ExactRows != 100 || imp.Error != "" {
		t.Fatalf("impact = %+v", imp)
	}
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 103 {
		t.Fatalf("the dry run was not rolled back: %d rows (%v)", n, err)
	}
	// A small write is decided on the planner's estimate alone: no dry run.
	if _, err := c.Exec(context.Background(), "UPDATE items SET name = 'x' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if len(ap.requests) != 1 {
		t.Fatal("a small write was held")
	}
}
