package approval

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
)

// The Service behind a real gate.Gate, with the audit recorder and trail
// on the same store: what cmd/gatehouse wires. Reads are allowed; writes
// go to review in the mode the test picks; grants of shop:write allow
// writes.

type holdEnv struct {
	*env
	s *Service
	g *gate.Gate
}

func newHoldEnv(t *testing.T, engine, mode string) *holdEnv {
	e := newEnv(t, engine)
	rec, err := audit.New(context.Background(), audit.Config{Store: e.st, Chain: "node-1", Logger: testLogger(t), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close(context.Background()) })
	trail := audit.NewTrail(e.st)
	s := e.service(nil, func(c *Config) { c.Steps = trail.RecentSteps })
	policy := gatetest.PolicyFunc(func(in gate.Input) gate.Decision {
		d := gate.Decision{Policy: "agents", PolicyVersion: "v1"}
		switch {
		case in.Command.Class.Kind == gate.KindRead:
			d.Action, d.Rule = gate.Allow, "reads"
		case in.Command.Class.Kind == gate.KindWrite && strings.Contains(strings.Join(in.Identity.Grants, " "), "shop:write"):
			d.Action, d.Rule = gate.Allow, "granted-writes"
		default:
			d.Action, d.Rule, d.Message = gate.Review, "writes", "writes need a DBA"
			d.Review = &gate.ReviewSpec{Approvers: []string{"group:dba"}, Required: 1, Mode: mode}
		}
		return d
	})
	g, err := gate.New(gate.Config{Authenticator: gatetest.Tokens{"bot": bot}, Policy: policy, Recorder: rec, Approver: s, Clock: e.clock, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return &holdEnv{env: e, s: s, g: g}
}

func (h *holdEnv) open(t *testing.T) *gate.Session {
	sess, err := h.g.Open(context.Background(), gate.OpenRequest{Token: "bot", Target: gate.Target{Name: "shop", Kind: "postgres"}, Protocol: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close("test over") })
	return sess
}

const trace = "0af7651916cd43dd8448eb211c80319c"

func command(text string) *gate.Command {
	kind := gate.KindWrite
	if strings.HasPrefix(text, "SELECT") {
		kind = gate.KindRead
	}
	return &gate.Command{Text: text, Class: gate.Class{Kind: kind}, Request: gate.Request{Reason: "tidy up", TraceID: trace}}
}

// check runs a command the way an adapter does: Decide, Hold on review.
func check(ctx context.Context, sess *gate.Session, cmd *gate.Command, notice func(*gate.Approval)) (gate.Decision, error) {
	d, err := sess.Decide(ctx, cmd)
	if err != nil || d.Action != gate.Review {
		return d, err
	}
	return sess.Hold(ctx, cmd, d, nil, notice)
}

func TestHoldDeferred(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			h := newHoldEnv(t, engine, "defer")
			sess := h.open(t)
			if _, err := sess.Check(ctx, command("SELECT count(*) FROM orders")); err != nil {
				t.Fatal(err)
			}
			del := "DELETE FROM orders WHERE id = 7"
			_, err := check(ctx, sess, command(del+" /*traceparent='00-"+trace+"-b7ad6b7169203331-01'*/"), nil)
			var denied *gate.DeniedError
			if !errors.As(err, &denied) || !strings.Contains(denied.Message, "https://gatehouse.example/approvals/ap_") {
				t.Fatalf("deferred: %v", err)
			}
			list, _ := h.s.List(ctx, gate.ApprovalFilter{Status: gate.ApprovalPending})
			if len(list) != 1 || len(list[0].Request.Context) != 1 || list[0].Request.Context[0].Command.Text != "SELECT count(*) FROM orders" {
				t.Fatalf("pending request and its context: %+v", list)
			}
			mustDecide(t, h.s, list[0].ID, alice, true, "fine")
			d, err := check(ctx, sess, command(del+" /*traceparent='00-"+trace+"-00f067aa0ba902b7-01'*/"), nil)
			if err != nil || d.Action != gate.Allow || d.ApprovalID != list[0].ID || len(d.ApprovedBy) != 1 || d.ApprovedBy[0] != "alice (alice@example.com)" {
				t.Fatalf("retry after approval: %+v, %v", d, err)
			}
			// Once: the next identical statement is held again.
			if _, err := check(ctx, sess, command(del), nil); !gate.IsDenied(err) {
				t.Fatalf("second retry: %v", err)
			}
		})
	}
}

func TestHoldWait(t *testing.T) {
	ctx := context.Background()
	h := newHoldEnv(t, "sqlite", "wait")
	sess := h.open(t)
	noticed := make(chan *gate.Approval, 1)
	type res struct {
		d   gate.Decision
		err error
	}
	run := func(text string) <-chan res {
		ch := make(chan res, 1)
		go func() {
			d, err := check(ctx, sess, command(text), func(a *gate.Approval) { noticed <- a })
			ch <- res{d, err}
		}()
		return ch
	}
	ch := run("DELETE FROM orders WHERE id = 8")
	a := <-noticed
	mustDecide(t, h.s, a.ID, bob, false, "not today")
	r := <-ch
	if !gate.IsDenied(r.err) || !strings.Contains(r.err.Error(), "by bob: not today") {
		t.Fatalf("denied: %v", r.err)
	}
	ch = run("DELETE FROM orders WHERE id = 9")
	a = <-noticed
	mustDecide(t, h.s, a.ID, alice, true, "")
	if r := <-ch; r.err != nil || r.d.Action != gate.Allow || r.d.ApprovalID != a.ID {
		t.Fatalf("approved: %+v, %v", r.d, r.err)
	}
	ch = run("DELETE FROM orders WHERE id = 10")
	<-noticed
	h.clock.Advance(DefaultTimeout)
	if r := <-ch; !errors.Is(r.err, gate.ErrApprovalTimeout) {
		t.Fatalf("timeout: %v", r.err)
	}
}

// TestHoldGrant: a grant turns review into allow for its duration.
func TestHoldGrant(t *testing.T) {
	ctx := context.Background()
	h := newHoldEnv(t, "sqlite", "defer")
	sess := h.open(t)
	g, err := h.s.RequestGrant(ctx, bot, gate.GrantSpec{Connection: "shop", Access: "write", Duration: time.Hour, Reason: "backfill"})
	if err != nil {
		t.Fatal(err)
	}
	mustDecide(t, h.s, g.ID, carol, true, "")
	if d, err := sess.Decide(ctx, command("UPDATE orders SET x = 1")); err != nil || d.Action != gate.Allow || d.Rule != "granted-writes" {
		t.Fatalf("with the grant: %+v, %v", d, err)
	}
	h.clock.Advance(time.Hour)
	if d, _ := sess.Decide(ctx, command("UPDATE orders SET x = 1")); d.Action != gate.Review {
		t.Fatalf("after the grant: %+v", d)
	}
}
