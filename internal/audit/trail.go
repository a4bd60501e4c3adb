package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Trail implements gate.Trail over a Store: the sessions list and the
// replay of one session, decoded back into gate types. It reads only, so
// it works without a Recorder (the CLI, another replica). It is safe for
// concurrent use and does not own the Store.
//
// Trail shows what the store holds; it does not verify hashes (Verify
// does). A body that does not decode is shown from its index columns
// rather than hiding the session.
type Trail struct {
	st store.Store
}

// NewTrail returns a Trail reading st.
func NewTrail(st store.Store) *Trail { return &Trail{st: st} }

var _ gate.Trail = (*Trail)(nil)

// Sessions implements gate.Trail. Only opened sessions are listed, not
// failed authentications. Limit is capped at store.MaxListLimit.
func (t *Trail) Sessions(ctx context.Context, f gate.SessionFilter) ([]gate.SessionSummary, error) {
	rows, err := t.st.ListSessions(ctx, store.SessionQuery{
		Connection: f.Connection, Subject: f.Subject, TraceID: f.TraceID, Since: f.Since, Limit: f.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list sessions: %w", err)
	}
	out := make([]gate.SessionSummary, 0, len(rows))
	for _, row := range rows {
		s := summary(&row.Open)
		s.Steps, s.Denied = row.Steps, row.Denied
		if row.Close != nil {
			closeInto(&s, row.Close)
		}
		out = append(out, s)
	}
	return out, nil
}

// Session implements gate.Trail. It returns an error wrapping
// gate.ErrNotFound when no session_open record has the id. Steps are in
// step order, each with its outcome when its step_result was recorded.
func (t *Trail) Session(ctx context.Context, id string) (*gate.SessionRecord, error) {
	recs, err := t.st.SessionRecords(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("audit: session %s: %w", id, err)
	}
	var (
		sr     *gate.SessionRecord
		steps  = map[int]*gate.StepRecord{}
		result = map[int]*gate.Outcome{}
	)
	for i := range recs {
		r := &recs[i]
		switch r.Kind {
		case store.KindSessionOpen:
			if sr == nil {
				sr = &gate.SessionRecord{SessionSummary: summary(r)}
			}
		case store.KindSessionClose:
			if sr != nil && sr.Closed == nil {
				closeInto(&sr.SessionSummary, r)
			}
		case store.KindStep:
			if _, dup := steps[r.Step]; dup {
				continue
			}
			st := stepRecord(r)
			steps[r.Step] = &st
		case store.KindStepResult:
			if b, err := decodeBody(r.Body); err == nil && b.Outcome != nil && result[r.Step] == nil {
				result[r.Step] = b.Outcome
			}
		}
	}
	if sr == nil {
		return nil, fmt.Errorf("audit: session %s: %w", id, gate.ErrNotFound)
	}
	sr.Steps = make([]gate.StepRecord, 0, len(steps))
	for n, st := range steps {
		st.Outcome = result[n]
		sr.Steps = append(sr.Steps, *st)
		if st.Decision.Action == gate.Deny {
			sr.Denied++
		}
	}
	slices.SortFunc(sr.Steps, func(a, b gate.StepRecord) int { return cmp.Compare(a.N, b.N) })
	sr.SessionSummary.Steps = len(sr.Steps)
	return sr, nil
}

// RecentSteps returns the earlier steps of one agent run, for an approver
// to see what led to a held command: the newest limit steps (20 when
// limit <= 0, at most store.MaxListLimit) carrying traceID, across
// sessions, or, when traceID is empty, of session sessionID; oldest first,
// each with its outcome when one was recorded. No match is an empty
// slice, not an error. Steps numbers (N) are per session, so steps of
// different sessions of one run may share one.
func (t *Trail) RecentSteps(ctx context.Context, traceID, sessionID, subject string, limit int) ([]gate.StepRecord, error) {
	if traceID == "" && sessionID == "" {
		return nil, nil
	}
	recs, err := t.st.StepRecords(ctx, store.StepQuery{TraceID: traceID, Session: sessionID, Subject: subject, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("audit: recent steps: %w", err)
	}
	type key struct {
		session string
		step    int
	}
	var (
		out   []gate.StepRecord
		index = map[key]int{}
	)
	for i := range recs {
		r := &recs[i]
		k := key{r.Session, r.Step}
		switch r.Kind {
		case store.KindStep:
			if _, dup := index[k]; !dup {
				index[k] = len(out)
				out = append(out, stepRecord(r))
			}
		case store.KindStepResult:
			if j, ok := index[k]; ok && out[j].Outcome == nil {
				if b, err := decodeBody(r.Body); err == nil {
					out[j].Outcome = b.Outcome
				}
			}
		}
	}
	return out, nil
}

// stepRecord decodes a step record, falling back to its index columns.
func stepRecord(r *store.Record) gate.StepRecord {
	st := gate.StepRecord{N: r.Step, Time: r.Time}
	if b, err := decodeBody(r.Body); err == nil && b.Command != nil && b.Decision != nil {
		st.Command, st.Decision = *b.Command, *b.Decision
	} else {
		st.Command.Request.TraceID = r.TraceID
		st.Decision.Action, _ = gate.ParseAction(r.Action)
	}
	return st
}

// summary builds a session summary from its session_open record.
func summary(r *store.Record) gate.SessionSummary {
	s := gate.SessionSummary{ID: r.Session, Opened: r.Time}
	if b, err := decodeBody(r.Body); err == nil && b.Session != nil {
		s.Identity = b.Session.Identity
		s.Target = b.Session.Target
		s.ClientAddr = b.Session.ClientAddr
		s.User = b.Session.User
		s.Protocol = b.Session.Protocol
		return s
	}
	s.Target.Name = r.Connection
	if r.Subject != "" {
		s.Identity = &gate.Identity{Subject: r.Subject}
	}
	return s
}

// closeInto sets the close time and reason from a session_close record.
func closeInto(s *gate.SessionSummary, r *store.Record) {
	t := r.Time
	s.Closed = &t
	if b, err := decodeBody(r.Body); err == nil {
		s.EndReason = b.Reason
	}
}
