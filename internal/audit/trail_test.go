package audit

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestTrail(t *testing.T) {
	engines(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		st := e.open(t)
		r := newRecorder(t, st, "node-1")
		auth := openEvent("s4", "orders", "", 8*time.Minute)
		auth.Kind, auth.Reason = gate.EventAuthFailure, "expired: token expired"
		record(t, r,
			openEvent("s1", "orders", "bot-a", 1*time.Minute),
			stepEvent("s1", 1, "SELECT * FROM orders", gate.Allow, "t1", 2*time.Minute),
			stepEvent("s1", 2, "DELETE FROM orders", gate.Deny, "t1", 3*time.Minute),
			resultEvent("s1", 1, 3, 3*time.Minute+time.Second), // after step 2
			stepEvent("s1", 3, "SELECT pg_sleep(1)", gate.Allow, "", 4*time.Minute),
			closeEvent("s1", "client quit", 5*time.Minute),
			openEvent("s2", "billing", "bot-a", 6*time.Minute),
			stepEvent("s2", 1, "UPDATE invoices SET paid = true", gate.Deny, "t2", 6*time.Minute+time.Second),
			openEvent("s3", "orders", "bot-b", 7*time.Minute),
			auth,
		)
		trail := NewTrail(st)
		ids := func(f gate.SessionFilter) []string {
			t.Helper()
			list, err := trail.Sessions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range list {
				out = append(out, s.ID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    gate.SessionFilter
			want []string
		}{
			{"all, newest first, no auth failures", gate.SessionFilter{}, []string{"s3", "s2", "s1"}},
			{"connection", gate.SessionFilter{Connection: "orders"}, []string{"s3", "s1"}},
			{"subject", gate.SessionFilter{Subject: "bot-a"}, []string{"s2", "s1"}},
			{"trace id", gate.SessionFilter{TraceID: "t1"}, []string{"s1"}},
			{"since", gate.SessionFilter{Since: base.Add(6 * time.Minute)}, []string{"s3", "s2"}},
			{"limit", gate.SessionFilter{Limit: 2}, []string{"s3", "s2"}},
			{"no match", gate.SessionFilter{Subject: "bot-a", Connection: "nope"}, nil},
		} {
			if got := ids(tc.f); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}

		list, err := trail.Sessions(ctx, gate.SessionFilter{Subject: "bot-a"})
		if err != nil {
			t.Fatal(err)
		}
		s1, s2 := list[1], list[0]
		wantClosed := base.Add(5 * time.Minute)
		if s1.Steps != 3 || s1.Denied != 1 || s1.Closed == nil || !s1.Closed.Equal(wantClosed) || s1.EndReason != "client quit" {
			t.Errorf("s1 summary: %+v", s1)
		}
		if s1.Target != (gate.Target{Name: "orders", Kind: "postgres"}) || s1.Identity == nil || s1.Identity.Subject != "bot-a" ||
			s1.ClientAddr != "10.0.0.7:5555" || s1.User != "agent" || s1.Protocol != "postgres" || !s1.Opened.Equal(base.Add(time.Minute)) {
			t.Errorf("s1 summary: %+v", s1)
		}
		if s2.Steps != 1 || s2.Denied != 1 || s2.Closed != nil {
			t.Errorf("s2 summary: %+v", s2)
		}

		rec, err := trail.Session(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID != "s1" || rec.EndReason != "client quit" || rec.SessionSummary.Steps != 3 || rec.Denied != 1 {
			t.Errorf("s1 record summary: %+v", rec.SessionSummary)
		}
		if rec.Identity.Claims["n"] != 1.5 || rec.Identity.Issuer != "https://idp.example" {
			t.Errorf("identity: %+v", rec.Identity)
		}
		if len(rec.Steps) != 3 {
			t.Fatalf("%d steps", len(rec.Steps))
		}
		st1, st2, st3 := rec.Steps[0], rec.Steps[1], rec.Steps[2]
		if st1.N != 1 || st2.N != 2 || st3.N != 3 {
			t.Fatalf("step order %d %d %d", st1.N, st2.N, st3.N)
		}
		if st1.Command.Text != "SELECT * FROM orders" || st1.Command.Request.TraceID != "t1" || st1.Decision.Action != gate.Allow ||
			st1.Decision.Rule != "r1" || !st1.Time.Equal(base.Add(2*time.Minute)) || st1.Command.Class.Kind != gate.KindRead {
			t.Errorf("step 1: %+v", st1)
		}
		if st1.Outcome == nil || st1.Outcome.Rows != 3 || st1.Outcome.Tag != "SELECT 3" || st1.Outcome.Duration != time.Millisecond {
			t.Errorf("step 1 outcome: %+v", st1.Outcome)
		}
		if st2.Decision.Action != gate.Deny || st2.Outcome != nil {
			t.Errorf("step 2: %+v", st2)
		}
		if st3.Outcome != nil {
			t.Errorf("step 3 (no result recorded) has outcome %+v", st3.Outcome)
		}

		for _, id := range []string{"nope", "s4"} {
			if _, err := trail.Session(ctx, id); !errors.Is(err, gate.ErrNotFound) {
				t.Errorf("Session(%s) = %v, want ErrNotFound", id, err)
			}
		}
	})
}

// The recorder behind a real gate.Gate: what an adapter does, end to end.

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (*gate.Identity, error) {
	if token != "good-token" {
		return nil, &gate.AuthError{Reason: "malformed", Detail: "not a JWT"}
	}
	return &gate.Identity{Issuer: "https://idp.example", Subject: "bot-1"}, nil
}

type readOnly struct{}

func (readOnly) Decide(_ context.Context, in gate.Input) (gate.Decision, error) {
	if in.Command.Class.Kind == gate.KindRead {
		return gate.Decision{Action: gate.Allow, Policy: "ro", Rule: "reads"}, nil
	}
	return gate.Decision{Action: gate.Deny, Policy: "ro", Rule: "writes", Message: "read only"}, nil
}

func TestGatePipeline(t *testing.T) {
	ctx := context.Background()
	e := sqliteEngine(t)
	st := e.open(t)
	r := newRecorder(t, st, "node-1")
	g, err := gate.New(gate.Config{Authenticator: fakeAuth{}, Policy: readOnly{}, Recorder: r, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	req := gate.OpenRequest{Token: "good-token", Target: gate.Target{Name: "orders", Kind: "postgres"}, Protocol: "postgres", User: "bot"}
	if _, err := g.Open(ctx, gate.OpenRequest{Token: "bad-token", Target: req.Target, Protocol: "postgres"}); err == nil {
		t.Fatal("bad token accepted")
	}
	sess, err := g.Open(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	read := &gate.Command{Text: "SELECT 1", Class: gate.Class{Kind: gate.KindRead}}
	step, err := sess.Check(ctx, read)
	if err != nil {
		t.Fatal(err)
	}
	step.End(gate.Outcome{Tag: "SELECT 1", Rows: 1})
	if _, err := sess.Check(ctx, &gate.Command{Text: "DROP TABLE orders", Class: gate.Class{Kind: gate.KindDDL}}); !gate.IsDenied(err) {
		t.Fatalf("DDL: %v", err)
	}

	// The store starts failing: the next allowed statement must not run.
	e.breakInserts(t)
	if _, err := sess.Check(ctx, read); !errors.Is(err, gate.ErrAuditUnavailable) {
		t.Fatalf("Check with a failing audit store = %v, want ErrAuditUnavailable", err)
	}
	e.fixInserts(t)
	if _, err := sess.Check(ctx, read); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	sess.Close("client quit")
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}

	rec, err := NewTrail(st).Session(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rec.Steps {
		got = append(got, s.Decision.Action.String()+" "+s.Command.Text)
	}
	// The third statement was refused for want of audit: it is not in the
	// trail and took no step number.
	want := []string{"allow SELECT 1", "deny DROP TABLE orders", "allow SELECT 1"}
	if !reflect.DeepEqual(got, want) || rec.Steps[0].Outcome == nil || rec.EndReason != "client quit" {
		t.Fatalf("replay %v (outcome %v, end %q), want %v", got, rec.Steps[0].Outcome, rec.EndReason, want)
	}
	if rec.Steps[2].N != 3 {
		t.Errorf("the step after the refused one is numbered %d, want 3 (numbers are consecutive)", rec.Steps[2].N)
	}
	// auth failure, open, 3 steps, 1 result, close.
	if rep, err := Verify(ctx, st, ""); err != nil || !rep.OK() || rep.Chains[0].Records != 7 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestTrailRecentSteps(t *testing.T) {
	engines(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		st := e.open(t)
		r := newRecorder(t, st, "node-1")
		record(t, r,
			openEvent("s1", "orders", "bot-a", 0),
			stepEvent("s1", 1, "SELECT 1", gate.Allow, "run-1", 1*time.Minute),
			resultEvent("s1", 1, 1, 1*time.Minute+time.Second),
			stepEvent("s1", 2, "SELECT 2", gate.Allow, "run-2", 2*time.Minute),
			openEvent("s2", "orders", "bot-a", 3*time.Minute),
			stepEvent("s2", 1, "SELECT 3", gate.Deny, "run-1", 4*time.Minute),
			stepEvent("s2", 2, "SELECT 4", gate.Allow, "", 5*time.Minute),
		)
		trail := NewTrail(st)
		texts := func(trace, session string, limit int) []string {
			t.Helper()
			steps, err := trail.RecentSteps(ctx, trace, session, "", limit)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range steps {
				x := s.Command.Text + " " + s.Decision.Action.String()
				if s.Outcome != nil {
					x += " " + s.Outcome.Tag
				}
				out = append(out, x)
			}
			return out
		}
		for _, tc := range []struct {
			name           string
			trace, session string
			limit          int
			want           []string
		}{
			{"trace across sessions, oldest first", "run-1", "s2", 0, []string{"SELECT 1 allow SELECT 1", "SELECT 3 deny"}},
			{"newest only", "run-1", "", 1, []string{"SELECT 3 deny"}},
			{"session without trace", "", "s2", 0, []string{"SELECT 3 deny", "SELECT 4 allow"}},
			{"nothing asked", "", "", 0, nil},
			{"no match", "run-9", "", 0, nil},
		} {
			if got := texts(tc.trace, tc.session, tc.limit); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
		}
	})
}
