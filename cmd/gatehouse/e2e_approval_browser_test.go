package main

// The whole stack in a browser: a DBA signs in to the gateway's web UI
// through the OIDC issuer (authorization code with PKCE), watches an
// agent's held statement arrive in the inbox live, approves it with a
// comment, and the agent's statement completes.

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

func TestE2EApprovalBrowser(t *testing.T) {
	b := webtest.NewBrowser(t) // skips when chromium is not installed
	ag := newApprovalGateway(t, apOpts{ui: true})
	ag.issuer.SetLoginClaims(map[string]any{"sub": "alice", "email": "alice@example.com", "groups": []any{groupDBA}})

	b.OpenInbox(ag.app.webURL) // /approvals -> /login/oidc -> the issuer -> /auth/callback -> /approvals
	if who := b.SignedInAs(); who != "alice (alice@example.com)" {
		t.Fatalf("signed in as %q", who)
	}
	b.WaitVisible("#empty")

	// The agent's statement is held after the page loaded: it appears
	// without a reload.
	a := ag.agent(t, "agent-1", groupAgents)
	res := a.start(bigWrite + " " + traceA)
	id, _ := a.held(t, res)
	b.WaitRequest(id)
	text := b.RequestText(id)
	for _, want := range []string{"UPDATE orders", "agent-1", "archive paid orders"} {
		if !strings.Contains(text, want) {
			t.Errorf("the request's card lacks %q:\n%s", want, text)
		}
	}
	stillWaiting(t, res, "before the browser decided")

	b.Decide(id, true, "archiving was announced")
	b.WaitRequestGone(id)
	r := outcome(t, res)
	if r.err != nil || r.tag.String() != "UPDATE 180" {
		t.Fatalf("the agent's statement after the approval in the browser: %q %v", r.tag, r.err)
	}
	got := ag.approval(t, id)
	if got.Status != gate.ApprovalUsed || len(got.Votes) != 1 || got.Votes[0].Subject != "alice" ||
		got.Votes[0].Issuer != ag.issuer.URL() || got.Votes[0].Comment != "archiving was announced" {
		t.Fatalf("after the browser's approval: %s %+v", got.Status, got.Votes)
	}
	closeConn(a.Conn)
	rec := ag.closedSession(t, "agent-1")
	steps := stepsOf(rec, "status = 'archived'")
	if len(steps) != 2 || !slices.Equal(steps[1].Decision.ApprovedBy, []string{"alice (alice@example.com)"}) {
		t.Fatalf("the audit trail does not show alice's approval:\n%s", describeSteps(rec))
	}
}
