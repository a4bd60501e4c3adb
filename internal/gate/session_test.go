package gate_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
)

type env struct {
	g     *gate.Gate
	rec   *gatetest.Recorder
	clock *gatetest.Clock
}

func newEnv(t *testing.T, pol gate.Policy, ap gate.Approver) *env {
	t.Helper()
	e := &env{rec: gatetest.NewRecorder(), clock: gatetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	ids := gatetest.Tokens{
		"agent":   {Subject: "agent-1", Groups: []string{"agents"}, Expiry: e.clock.Now().Add(time.Hour)},
		"expired": {Subject: "agent-2", Expiry: e.clock.Now().Add(-time.Second)},
	}
	var err error
	e.g, err = gate.New(gate.Config{Authenticator: ids, Policy: pol, Recorder: e.rec, Approver: ap, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) open(t *testing.T) *gate.Session {
	t.Helper()
	s, err := e.g.Open(context.Background(), gate.OpenRequest{Token: "agent", Target: gate.Target{Name: "shop", Kind: "postgres"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func read() *gate.Command {
	return &gate.Command{Text: "SELECT 1", Class: gate.Class{Kind: gate.KindRead, Statements: []string{"SELECT"}}}
}

func write() *gate.Command {
	return &gate.Command{Text: "DELETE FROM t WHERE id = 1", Class: gate.Class{Kind: gate.KindWrite, Statements: []string{"DELETE"}}}
}

func TestOpenFailuresAreRecorded(t *testing.T) {
	e := newEnv(t, gatetest.AllowKinds(gate.KindRead), nil)
	for token, reason := range map[string]string{"": "missing", "forged": "signature", "expired": "expired"} {
		_, err := e.g.Open(context.Background(), gate.OpenRequest{Token: token})
		var ae *gate.AuthError
		if !errors.As(err, &ae) || ae.Reason != reason || !errors.Is(err, gate.ErrUnauthenticated) {
			t.Errorf("token %q: %v, want reason %s", token, err, reason)
		}
	}
	n := 0
	for _, ev := range e.rec.Events() {
		if ev.Kind == gate.EventAuthFailure {
			n++
			if strings.Contains(ev.Reason, "forged") {
				t.Errorf("the token leaked into the audit: %q", ev.Reason)
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d auth failures recorded, want 3", n)
	}
}

func TestOpenFailsClosedWhenAuditFails(t *testing.T) {
	e := newEnv(t, gatetest.AllowKinds(gate.KindRead), nil)
	e.rec.SetFail(gatetest.ErrInjected)
	_, err := e.g.Open(context.Background(), gate.OpenRequest{Token: "agent"})
	if !errors.Is(err, gate.ErrAuditUnavailable) {
		t.Fatalf("got %v", err)
	}
}

func TestCheckAllowsDeniesAndRecordsWriteAhead(t *testing.T) {
	e := newEnv(t, gatetest.AllowKinds(gate.KindRead), nil)
	s := e.open(t)
	step, err := s.Check(context.Background(), read())
	if err != nil || step == nil || step.N != 1 {
		t.Fatalf("read: %v %v", step, err)
	}
	// The step is durable before Check returns.
	if steps := e.rec.Steps(); len(steps) != 1 || steps[0].Decision.Action != gate.Allow {
		t.Fatalf("steps = %+v", steps)
	}
	step.End(gate.Outcome{Rows: 1})
	step.End(gate.Outcome{Rows: 2}) // only the first End counts
	_, err = s.Check(context.Background(), write())
	var de *gate.DeniedError
	if !errors.As(err, &de) || de.Policy != "test" || !strings.Contains(err.Error(), "denied by rule test/kinds") {
		t.Fatalf("write: %v", err)
	}
	results := 0
	for _, ev := range e.rec.Events() {
		if ev.Kind == gate.EventStepResult {
			results++
		}
	}
	if results != 1 {
		t.Fatalf("%d step results, want 1", results)
	}
	if steps := e.rec.Steps(); len(steps) != 2 || steps[1].Decision.Action != gate.Deny || steps[1].Step != 2 {
		t.Fatalf("denial not recorded as step 2: %+v", steps)
	}
}

func TestBeginFailsClosed(t *testing.T) {
	e := newEnv(t, gatetest.AllowKinds(gate.KindRead), nil)
	s := e.open(t)
	e.rec.SetFail(gatetest.ErrInjected)
	if _, err := s.Check(context.Background(), read()); !errors.Is(err, gate.ErrAuditUnavailable) {
		t.Fatalf("got %v, want ErrAuditUnavailable", err)
	}
	// The failed step took no number: the trail has no gap.
	e.rec.SetFail(nil)
	step, err := s.Check(context.Background(), read())
	if err != nil || step.N != 1 {
		t.Fatalf("step after the failure: %+v %v", step, err)
	}
}

type errPolicy struct{}

func (errPolicy) Decide(context.Context, gate.Input) (gate.Decision, error) {
	return gate.Decision{Action: gate.Allow, Policy: "p", Rule: "r", PolicyVersion: "v1"}, errors.New("no such key: tenant")
}

// A policy that errors never allows, even if it also returned Allow.
func TestPolicyErrorDenies(t *testing.T) {
	e := newEnv(t, errPolicy{}, nil)
	s := e.open(t)
	_, err := s.Check(context.Background(), read())
	if !gate.IsDenied(err) || !strings.Contains(err.Error(), "policy evaluation failed: no such key") {
		t.Fatalf("got %v", err)
	}
	if d := e.rec.Steps()[0].Decision; d.Action != gate.Deny || d.PolicyVersion != "v1" {
		t.Fatalf("recorded %+v", d)
	}
}

func TestSessionEndsWhenTokenExpires(t *testing.T) {
	e := newEnv(t, gatetest.AllowKinds(gate.KindRead), nil)
	s := e.open(t)
	e.clock.Advance(59 * time.Minute)
	if s.Context().Err() != nil {
		t.Fatal("ended early")
	}
	e.clock.Advance(time.Minute)
	if !errors.Is(context.Cause(s.Context()), gate.ErrTokenExpired) {
		t.Fatalf("cause = %v", context.Cause(s.Context()))
	}
	if _, err := s.Check(context.Background(), read()); !errors.Is(err, gate.ErrTokenExpired) {
		t.Fatalf("check after expiry: %v", err)
	}
	s.Close("token expired")
	s.Close("again")
	closes := 0
	for _, ev := range e.rec.Events() {
		if ev.Kind == gate.EventSessionClose {
			closes++
		}
	}
	if closes != 1 {
		t.Fatalf("%d close events", closes)
	}
}

func reviewAll(mode string) gatetest.PolicyFunc {
	return func(in gate.Input) gate.Decision {
		if in.Command.Class.Kind == gate.KindWrite {
			return gate.Decision{Action: gate.Review, Policy: "p", Rule: "big-writes", PolicyVersion: "v1",
				Review: &gate.ReviewSpec{Approvers: []string{"group:dba"}, Required: 1, Mode: mode}}
		}
		return gate.Decision{Action: gate.Allow, Policy: "p", Rule: "reads"}
	}
}

// fakeApprover decides requests as told by its outcome field.
type fakeApprover struct {
	mu       sync.Mutex
	outcome  gate.ApprovalStatus
	redeem   bool
	requests []*gate.ApprovalRequest
	grants   []string
	waitErr  error
}

func (f *fakeApprover) Redeem(_ context.Context, req *gate.ApprovalRequest) (*gate.Approval, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.redeem {
		f.redeem = false
		return &gate.Approval{ID: "a-old", Status: gate.ApprovalUsed, Votes: []gate.ApprovalVote{{By: "dba-1", Approve: true}}}, true, nil
	}
	return nil, false, nil
}

func (f *fakeApprover) Request(_ context.Context, req *gate.ApprovalRequest) (*gate.Approval, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	return &gate.Approval{ID: "a-1", URL: "https://gw/approvals/a-1", Status: gate.ApprovalPending}, nil
}

func (f *fakeApprover) Wait(ctx context.Context, id string) (*gate.Approval, error) {
	if f.waitErr != nil {
		return nil, f.waitErr
	}
	a := &gate.Approval{ID: id, Status: f.outcome, Expires: time.Unix(0, 0)}
	switch f.outcome {
	case gate.ApprovalUsed:
		a.Votes = []gate.ApprovalVote{{By: "dba-1", Approve: true, Comment: "fine"}}
	case gate.ApprovalDenied:
		a.Votes = []gate.ApprovalVote{{By: "dba-2", Approve: false, Comment: "too broad"}}
	}
	return a, nil
}

func (f *fakeApprover) Grants(context.Context, *gate.Identity) ([]string, error) {
	return f.grants, nil
}

func hold(t *testing.T, e *env, s *gate.Session, cmd *gate.Command) (gate.Decision, error, *gate.Approval) {
	t.Helper()
	d, err := s.Decide(context.Background(), cmd)
	if err != nil || d.Action != gate.Review {
		t.Fatalf("decide: %+v %v", d, err)
	}
	var noticed *gate.Approval
	d, err = s.Hold(context.Background(), cmd, d, &gate.Impact{EstimatedRows: 5}, func(a *gate.Approval) { noticed = a })
	return d, err, noticed
}

func TestHoldWaitApproved(t *testing.T) {
	ap := &fakeApprover{outcome: gate.ApprovalUsed}
	e := newEnv(t, reviewAll("wait"), ap)
	s := e.open(t)
	d, err, noticed := hold(t, e, s, write())
	if err != nil || d.Action != gate.Allow || d.ApprovalID != "a-1" || len(d.ApprovedBy) != 1 || noticed == nil {
		t.Fatalf("%+v %v noticed=%v", d, err, noticed)
	}
	req := ap.requests[0]
	if req.Identity.Subject != "agent-1" || req.Target.Name != "shop" || req.Impact.EstimatedRows != 5 || req.Command.Text != write().Text {
		t.Fatalf("request = %+v", req)
	}
	if _, err := s.Begin(context.Background(), write(), d); err != nil {
		t.Fatal(err)
	}
	steps := e.rec.Steps()
	if len(steps) != 2 || steps[0].Decision.Action != gate.Review || steps[0].Decision.ApprovalID != "a-1" ||
		steps[1].Decision.Action != gate.Allow || steps[1].Decision.ApprovedBy[0] != "dba-1" {
		t.Fatalf("steps = %+v", steps)
	}
}

func TestHoldOutcomes(t *testing.T) {
	cases := []struct {
		name    string
		ap      *fakeApprover
		mode    string
		want    string
		timeout bool
	}{
		{"denied", &fakeApprover{outcome: gate.ApprovalDenied}, "wait", "approval request a-1 was denied by dba-2: too broad", false},
		{"expired", &fakeApprover{outcome: gate.ApprovalExpired}, "wait", "approval request a-1 was not decided", true},
		{"defer", &fakeApprover{}, "defer", "approval required (request a-1): https://gw/approvals/a-1", false},
		{"client gone", &fakeApprover{waitErr: context.Canceled}, "wait", "context canceled", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, reviewAll(tc.mode), tc.ap)
			d, err, _ := hold(t, e, e.open(t), write())
			if err == nil || d.Action == gate.Allow || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%+v %v", d, err)
			}
			if errors.Is(err, gate.ErrApprovalTimeout) != tc.timeout {
				t.Fatalf("timeout = %v", errors.Is(err, gate.ErrApprovalTimeout))
			}
			// The outcome of a wait is in the trail: review, then deny.
			if tc.mode == "wait" {
				steps := e.rec.Steps()
				last := steps[len(steps)-1].Decision
				if len(steps) != 2 || last.Action != gate.Deny || last.ApprovalID != "a-1" || !strings.Contains(last.Message, tc.want) {
					t.Fatalf("steps %+v", steps)
				}
			}
		})
	}
}

// A deferred command retried after approval redeems the approval once.
func TestHoldRedeemsDeferredApproval(t *testing.T) {
	ap := &fakeApprover{redeem: true}
	e := newEnv(t, reviewAll("defer"), ap)
	s := e.open(t)
	d, err, _ := hold(t, e, s, write())
	if err != nil || d.Action != gate.Allow || d.ApprovalID != "a-old" {
		t.Fatalf("%+v %v", d, err)
	}
	if _, err, _ := hold(t, e, s, write()); !gate.IsDenied(err) {
		t.Fatalf("second run without a new approval: %v", err)
	}
}

func TestReviewWithoutApproverDenies(t *testing.T) {
	e := newEnv(t, reviewAll("wait"), nil)
	_, err := e.open(t).Decide(context.Background(), write())
	if !gate.IsDenied(err) || !strings.Contains(err.Error(), "approval required") {
		t.Fatalf("%v", err)
	}
}

func TestGrantsReachPolicy(t *testing.T) {
	ap := &fakeApprover{grants: []string{"shop:write"}}
	var seen []string
	pol := gatetest.PolicyFunc(func(in gate.Input) gate.Decision {
		seen = in.Identity.Grants
		return gate.Decision{Action: gate.Allow}
	})
	e := newEnv(t, pol, ap)
	s := e.open(t)
	if _, err := s.Decide(context.Background(), read()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != "shop:write" || len(s.Identity.Grants) != 0 {
		t.Fatalf("policy saw %v; session identity changed: %v", seen, s.Identity.Grants)
	}
}
