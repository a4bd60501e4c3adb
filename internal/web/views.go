package web

import (
	"cmp"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// approvalView is one approval as the templates show it: in the inbox, on
// its own page, and as a fragment in the event stream.
type approvalView struct {
	A      *gate.Approval
	Cmd    *gate.Command // nil for a grant request
	Grant  *gate.GrantSpec
	Params []paramView
	// Context lists the earlier steps of the agent run, oldest first.
	Context []stepView
	// Approved counts approving votes, of A.Required.
	Approved int
	Pending  bool
	// CanDecide shows the approve and deny form.
	CanDecide bool
	// Own is true when the viewer made the request (it cannot decide it).
	Own      bool
	TimeLeft time.Duration
	CSRF     string
	// Full is true on the approval's own page (votes, raw text).
	Full bool
}

type paramView struct {
	N     int
	Value string
	Null  bool
}

// stepView is a recorded step (an earlier step of a run, or a replayed
// session's step).
type stepView struct {
	gate.StepRecord
	Params []paramView
}

func params(c *gate.Command) []paramView {
	out := make([]paramView, len(c.Params))
	for i, p := range c.Params {
		out[i] = paramView{N: i + 1, Value: p, Null: i < len(c.ParamNulls) && c.ParamNulls[i]}
	}
	return out
}

func steps(recs []gate.StepRecord) []stepView {
	out := make([]stepView, len(recs))
	for i, r := range recs {
		out[i] = stepView{StepRecord: r, Params: params(&r.Command)}
	}
	return out
}

// newApprovalView builds the view of a for v at now. appr may be nil when
// no viewer applies (it is then shown without buttons).
func newApprovalView(appr gate.Approvals, a *gate.Approval, v *viewer, now time.Time, full bool) *approvalView {
	av := &approvalView{A: a, Grant: a.Request.Grant, Pending: a.Status == gate.ApprovalPending, Full: full,
		Context: steps(a.Request.Context), TimeLeft: a.Expires.Sub(now)}
	if a.Request.Grant == nil {
		av.Cmd = &a.Request.Command
		av.Params = params(av.Cmd)
	}
	for _, vote := range a.Votes {
		if vote.Approve {
			av.Approved++
		}
	}
	if v != nil {
		av.CSRF = v.CSRF
		av.Own = isRequester(a, v.ID)
		av.CanDecide = av.Pending && appr.CanDecide(a, v.ID)
	}
	return av
}

// sortInbox orders approvals by how soon they expire, then by creation.
func sortInbox(list []*gate.Approval) {
	slices.SortStableFunc(list, func(a, b *gate.Approval) int {
		return cmp.Or(a.Expires.Compare(b.Expires), a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
}

// inboxView is the inbox page.
type inboxView struct {
	Items []*approvalView
	// Reader is true when the viewer may read every approval; otherwise
	// the inbox holds only what they can decide or asked for.
	Reader bool
}

// sessionsView is the sessions list page.
type sessionsView struct {
	Sessions                     []gate.SessionSummary
	Connection, Subject, TraceID string
}

// sessionView is one session's replay.
type sessionView struct {
	S     *gate.SessionRecord
	Steps []stepView
}

// loginView is the sign-in page.
type loginView struct {
	Next, Error, Issuer, CSRF string
	OIDC, Dev, SignedOut      bool
	// DevRemote: identity.dev is on but the browser is not on this machine.
	DevRemote bool
}

// cardHTML renders one approval card for an event stream.
func (u *ui) cardHTML(a *gate.Approval, v *viewer) (string, error) {
	return u.fragment("card", newApprovalView(u.s.cfg.Approvals, a, v, u.s.clock.Now(), false))
}
