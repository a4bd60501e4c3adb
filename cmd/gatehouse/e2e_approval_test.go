package main

// Held statements end to end: an agent's big write through the real
// gateway waits for (or is deferred to) a human decision made through the
// admin API, and runs exactly once, exactly as approved.

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/gate"
)

const (
	archivedCount = `SELECT count(*) FROM orders WHERE status = 'archived'`
	sumShipped    = `SELECT sum(total)::bigint FROM orders WHERE status = 'shipped'`
	// traceA and traceB are sqlcommenter comments of two runs of an agent.
	traceA = `/* traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',reason='archive%20paid%20orders' */`
	traceB = `/* traceparent='00-5cf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b8-01',reason='retry' */`
)

// wantReviewEnded checks that the audit trail of sub's newest session
// holds the held statement (containing text) as a review step of request
// id followed by a deny step of the same request whose message contains
// each of parts: how the review ended is evidence too.
func (ag *apGateway) wantReviewEnded(t *testing.T, sub, text, id string, parts ...string) {
	t.Helper()
	rec := ag.closedSession(t, sub)
	steps := stepsOf(rec, text)
	if len(steps) != 2 || steps[0].Decision.Action != gate.Review || steps[0].Decision.ApprovalID != id ||
		steps[1].Decision.Action != gate.Deny || steps[1].Decision.ApprovalID != id {
		t.Fatalf("want a review step and a deny step of %s:\n%s", id, describeSteps(rec))
	}
	for _, p := range parts {
		if !strings.Contains(steps[1].Decision.Message, p) {
			t.Errorf("the deny step says %q, want %q in it", steps[1].Decision.Message, p)
		}
	}
}

// TestE2EApprovalWaitApprove: the agent's big UPDATE waits, the client is
// told the request's ID and URL at once, a DBA approves through the API,
// and the exact statement runs and returns its result; the audit trail
// shows the review and then the allow naming the approver.
func TestE2EApprovalWaitApprove(t *testing.T) {
	forVariants(t, allVariants, func(t *testing.T, v variant) {
		ag := newApprovalGateway(t, apOpts{variant: v})
		a := ag.agent(t, "agent-1", groupAgents)

		// A small write runs without anyone's approval (order 3 is shipped).
		if tag, err := a.exec(t, `UPDATE orders SET status = 'refunded' WHERE id = 3 `+traceA); err != nil || tag.String() != "UPDATE 1" {
			t.Fatalf("small write: %q %v", tag, err)
		}
		res := a.start(bigWrite + " " + traceA)
		id, link := a.held(t, res)
		if want := ag.app.webURL + "/approvals/" + id; link != want {
			t.Errorf("the notice links %s, want %s", link, want)
		}

		p := ag.approval(t, id)
		switch {
		case p.Status != gate.ApprovalPending:
			t.Fatalf("request is %s, want pending", p.Status)
		case p.Request.Command.Text != bigWrite+" "+traceA || p.Request.Decision.Rule != "big-writes" ||
			p.Request.Command.Request.Reason != "archive paid orders" || p.Request.Identity.Subject != "agent-1":
			t.Fatalf("request holds %+v", p.Request)
		case p.Request.Impact == nil || p.Request.Impact.EstimatedRows < 100:
			t.Fatalf("impact %+v, want the planner's estimate of about 180 rows", p.Request.Impact)
		case len(p.Request.Context) != 1 || !strings.Contains(p.Request.Context[0].Command.Text, "WHERE id = 3"):
			t.Fatalf("context (earlier steps of the run) = %+v", p.Request.Context)
		}
		if n := ag.directInt(t, archivedCount); n != 0 {
			t.Fatalf("%d orders archived before the approval", n)
		}
		stillWaiting(t, res, "before anyone decided")

		ag.approve(t, id, "dba-1", "archiving is planned")
		r := outcome(t, res)
		if r.err != nil || r.tag.String() != "UPDATE 180" {
			t.Fatalf("approved statement returned %q, %v; want UPDATE 180", r.tag, r.err)
		}
		if n := ag.directInt(t, archivedCount); n != 180 {
			t.Fatalf("%d orders archived, want 180", n)
		}
		if got := ag.approval(t, id); got.Status != gate.ApprovalUsed || len(got.Votes) != 1 || got.Votes[0].Comment != "archiving is planned" {
			t.Fatalf("after running: %s %+v", got.Status, got.Votes)
		}
		// The session goes on.
		if _, err := a.exec(t, "SELECT 1"); err != nil {
			t.Fatalf("after the approved statement: %v", err)
		}

		closeConn(a.Conn)
		rec := ag.closedSession(t, "agent-1")
		steps := stepsOf(rec, "status = 'archived'")
		if len(steps) != 2 {
			t.Fatalf("want a review and an allow step for the held statement:\n%s", describeSteps(rec))
		}
		rv, al := steps[0].Decision, steps[1].Decision
		if rv.Action != gate.Review || rv.ApprovalID != id || rv.Rule != "big-writes" {
			t.Errorf("first step: %+v, want review of %s", rv, id)
		}
		if al.Action != gate.Allow || al.ApprovalID != id || !slices.Equal(al.ApprovedBy, []string{"dba-1"}) {
			t.Errorf("second step: %+v, want allow of %s approved by dba-1", al, id)
		}
		if o := steps[1].Outcome; o == nil || o.Tag != "UPDATE 180" {
			t.Errorf("outcome of the approved step: %+v", o)
		}
	})
}

// TestE2EApprovalWaitDeny: a denial reaches the waiting client as 42501
// naming the approver and the comment; nothing ran; the session goes on.
func TestE2EApprovalWaitDeny(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	a := ag.agent(t, "agent-1", groupAgents)
	res := a.start(bigWrite)
	id, _ := a.held(t, res)
	if code, body := ag.decide(t, id, "dba-2", false, "too broad: archive last year's orders only"); code != http.StatusOK {
		t.Fatalf("deny: %d %s", code, body)
	}
	r := outcome(t, res)
	wantPgError(t, r.err, "denied statement", "42501", "gatehouse: denied by rule agents/big-writes", id,
		"was denied by dba-2: too broad: archive last year's orders only")
	if n := ag.directInt(t, archivedCount); n != 0 {
		t.Fatalf("%d orders archived after a denial", n)
	}
	if _, err := a.exec(t, "SELECT 1"); err != nil {
		t.Fatalf("the session after a denial: %v", err)
	}
	// Decided is decided.
	if code, body := ag.decide(t, id, "dba-1", true, ""); code != http.StatusConflict {
		t.Fatalf("approving a denied request: %d %s", code, body)
	}
	closeConn(a.Conn)
	ag.wantReviewEnded(t, "agent-1", "status = 'archived'", id, "denied by dba-2: too broad")
}

// TestE2EApprovalTimeout: nobody decides; after approvals.timeout the
// client gets 42501 saying so, the request is expired, nothing ran.
func TestE2EApprovalTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	ag := newApprovalGateway(t, apOpts{timeout: timeout})
	a := ag.agent(t, "agent-1", groupAgents)
	begun := time.Now()
	res := a.start(bigWrite)
	id, _ := a.held(t, res)
	p := ag.approval(t, id)
	if got := p.Expires.Sub(p.Created); got != timeout {
		t.Fatalf("request expires %v after creation, want %v", got, timeout)
	}
	r := outcome(t, res)
	waited := r.at.Sub(begun)
	wantPgError(t, r.err, "undecided statement", "42501", "approval timed out", id, "was not decided by", "the statement was not run")
	if waited < timeout-100*time.Millisecond || waited > timeout+15*time.Second {
		t.Fatalf("the client waited %v, want about %v", waited, timeout)
	}
	t.Logf("timed out after %v", waited.Round(time.Millisecond))
	ag.wantStatus(t, id, gate.ApprovalExpired)
	if code, body := ag.decide(t, id, "dba-1", true, "too late"); code != http.StatusConflict {
		t.Fatalf("approving an expired request: %d %s", code, body)
	}
	if n := ag.directInt(t, archivedCount); n != 0 {
		t.Fatalf("%d orders archived after a timeout", n)
	}
	if _, err := a.exec(t, "SELECT 1"); err != nil {
		t.Fatalf("the session after a timeout: %v", err)
	}
	closeConn(a.Conn)
	ag.wantReviewEnded(t, "agent-1", "status = 'archived'", id, "was not decided by")
}

// TestE2EApprovalWhoMayApprove: nobody approves their own request, even
// an approver; outsiders may not approve; with required: 2 one approval
// leaves the request pending, the same approver cannot vote twice, and a
// second DBA's approval lets the statement run.
func TestE2EApprovalWhoMayApprove(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})

	t.Run("self-approval", func(t *testing.T) {
		// This agent is itself in the approvers' group.
		a := ag.agent(t, "agent-dba", groupAgents, groupDBA)
		res := a.start(bigWrite)
		id, _ := a.held(t, res)
		code, body := ag.decide(t, id, "agent-dba", true, "trust me", groupAgents, groupDBA)
		if code != http.StatusForbidden || !strings.Contains(body, "nobody approves their own request") {
			t.Fatalf("self-approval: %d %s", code, body)
		}
		code, body = ag.decide(t, id, "agent-2", true, "", groupAgents)
		if code != http.StatusForbidden || !strings.Contains(body, "not among its approvers") {
			t.Fatalf("approval by a non-approver: %d %s", code, body)
		}
		// Another agent cannot read the request either; its requester can.
		other := ag.token(t, "agent-2", groupAgents)
		var list struct{ Approvals []gate.Approval }
		if code, body := call(t, ag.app.webURL, other, "GET", "/api/approvals", nil, &list); code != http.StatusOK || len(list.Approvals) != 0 {
			t.Fatalf("another agent lists approvals: %d %s", code, body)
		}
		if code, body := call(t, ag.app.webURL, other, "GET", "/api/approvals/"+id, nil, nil); code != http.StatusForbidden {
			t.Fatalf("another agent reads the request: %d %s", code, body)
		}
		if code, body := call(t, ag.app.webURL, ag.token(t, "agent-dba", groupAgents), "GET", "/api/approvals/"+id, nil, nil); code != http.StatusOK {
			t.Fatalf("the requester reads its request: %d %s", code, body)
		}
		if got := ag.approval(t, id); got.Status != gate.ApprovalPending || len(got.Votes) != 0 {
			t.Fatalf("after refused votes: %s %+v", got.Status, got.Votes)
		}
		stillWaiting(t, res, "after refused votes")
		ag.approve(t, id, "dba-1", "")
		if r := outcome(t, res); r.err != nil || r.tag.String() != "UPDATE 180" {
			t.Fatalf("after a DBA's approval: %q %v", r.tag, r.err)
		}
	})

	t.Run("two of three", func(t *testing.T) {
		a := ag.agent(t, "agent-q", groupQuorum)
		// The self-approval case archived the paid orders; these are shipped.
		res := a.start(payWrite, "shipped")
		id, _ := a.held(t, res)
		if p := ag.approval(t, id); p.Required != 2 {
			t.Fatalf("required = %d, want 2", p.Required)
		}
		before := ag.directInt(t, sumShipped)
		first := ag.approve(t, id, "dba-1", "fine by me")
		if first.Status != gate.ApprovalPending || len(first.Votes) != 1 {
			t.Fatalf("after one of two approvals: %s %+v", first.Status, first.Votes)
		}
		code, body := ag.decide(t, id, "dba-1", true, "again")
		if code != http.StatusConflict || !strings.Contains(body, "voted already") {
			t.Fatalf("second vote by the same approver: %d %s", code, body)
		}
		stillWaiting(t, res, "with one of two approvals")
		if n := ag.directInt(t, sumShipped); n != before {
			t.Fatalf("shipped total moved from %d to %d with one of two approvals", before, n)
		}
		second := ag.approve(t, id, "dba-2", "agreed")
		if second.Status != gate.ApprovalApproved && second.Status != gate.ApprovalUsed {
			t.Fatalf("after two approvals: %s", second.Status)
		}
		r := outcome(t, res)
		if r.err != nil || r.tag.String() != "UPDATE 60" {
			t.Fatalf("after two approvals: %q %v", r.tag, r.err)
		}
		if n := ag.directInt(t, sumShipped); n != before+60 {
			t.Fatalf("shipped total %d, want %d (the statement once)", n, before+60)
		}
		if code, body := ag.decide(t, id, "dba-3", true, "me too"); code != http.StatusConflict {
			t.Fatalf("a third approval after the statement ran: %d %s", code, body)
		}
		closeConn(a.Conn)
		rec := ag.closedSession(t, "agent-q")
		steps := stepsOf(rec, "total = total + 1")
		if len(steps) != 2 || !slices.Equal(steps[1].Decision.ApprovedBy, []string{"dba-1", "dba-2"}) {
			t.Fatalf("want review then allow approved by dba-1 and dba-2:\n%s\n%+v", describeSteps(rec), steps)
		}
	})
}

// TestE2EApprovalDefer: in defer mode the statement is refused at once
// with the request's ID and URL; once approved, the identical statement
// (whatever its sqlcommenter comment) runs once, and only for the identity
// that asked; the next identical statement needs a new approval.
func TestE2EApprovalDefer(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	a := ag.agent(t, "batch-1", groupBatch)
	before := ag.directInt(t, sumPaid)

	_, err := a.exec(t, payWrite+" "+traceA, "paid")
	id, link := deferred(t, err, "first run")
	if want := ag.app.webURL + "/approvals/" + id; link != want {
		t.Errorf("the refusal links %s, want %s", link, want)
	}
	if len(a.notices) != 0 {
		t.Errorf("defer mode sent a notice: %q", (<-a.notices).Message)
	}
	if p := ag.approval(t, id); p.Status != gate.ApprovalPending || p.Request.Decision.Review.Mode != "defer" {
		t.Fatalf("request: %s %+v", p.Status, p.Request.Decision.Review)
	}
	// Retried before anyone decided, it is the same request, not another.
	_, err = a.exec(t, payWrite+" "+traceB, "paid")
	if again, _ := deferred(t, err, "retry before the decision"); again != id {
		t.Fatalf("a retry before the decision made request %s besides %s", again, id)
	}
	ag.approve(t, id, "dba-1", "go ahead")

	// Another identity sending the same statement is not covered.
	other := ag.agent(t, "batch-2", groupBatch)
	_, err = other.exec(t, payWrite+" "+traceA, "paid")
	if oid, _ := deferred(t, err, "same statement by another agent"); oid == id {
		t.Fatalf("another agent redeemed %s", id)
	}

	// The retry of another run (new traceparent) runs, once, even when the
	// agent sends it on two connections at the same moment.
	twin := ag.agent(t, "batch-1", groupBatch)
	r1, r2 := a.start(payWrite+" "+traceB, "paid"), twin.start(payWrite+" "+traceB, "paid")
	o1, o2 := outcome(t, r1), outcome(t, r2)
	if o1.err != nil {
		o1, o2 = o2, o1
	}
	if o1.err != nil || o1.tag.String() != "UPDATE 180" {
		t.Fatalf("retries after approval: %q %v and %q %v", o1.tag, o1.err, o2.tag, o2.err)
	}
	if twinID, _ := deferred(t, o2.err, "the concurrent twin retry"); twinID == id {
		t.Fatalf("both retries used approval %s", id)
	}
	closeConn(twin.Conn)
	if n := ag.directInt(t, sumPaid); n != before+180 {
		t.Fatalf("paid total %d, want %d", n, before+180)
	}
	if got := ag.approval(t, id); got.Status != gate.ApprovalUsed {
		t.Fatalf("after the retry the approval is %s, want used", got.Status)
	}
	_, err = a.exec(t, payWrite+" "+traceB, "paid")
	id2, _ := deferred(t, err, "second retry")
	if id2 == id {
		t.Fatalf("the second retry reused approval %s", id)
	}
	if p := ag.approval(t, id2); p.Status != gate.ApprovalPending {
		t.Fatalf("the second retry's request is %s", p.Status)
	}
	if n := ag.directInt(t, sumPaid); n != before+180 {
		t.Fatalf("paid total %d after the second retry, want %d", n, before+180)
	}

	closeConn(a.Conn)
	rec := ag.sessionsOf(t, "batch-1")
	var ran []gate.StepRecord
	for _, st := range stepsOf(rec, "total = total + 1") {
		if st.Decision.Action == gate.Allow {
			ran = append(ran, st)
		}
	}
	if len(ran) != 1 || ran[0].Decision.ApprovalID != id || !slices.Equal(ran[0].Decision.ApprovedBy, []string{"dba-1"}) ||
		!strings.Contains(ran[0].Command.Text, "5cf92f3577b34da6a3ce929d0e0e4737") {
		t.Fatalf("want one allowed step, the retry, under %s:\n%s", id, describeSteps(rec))
	}
}

// TestE2EApprovalExactStatement: an approval covers exactly the approved
// text and parameters: a changed statement or other parameters need a
// request of their own, and do not use the approval up.
func TestE2EApprovalExactStatement(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	a := ag.agent(t, "batch-1", groupBatch)
	_, err := a.exec(t, payWrite, "paid")
	id, _ := deferred(t, err, "first run")
	ag.approve(t, id, "dba-1", "")
	paid, shipped := ag.directInt(t, sumPaid), ag.directInt(t, sumShipped)

	refused := []struct {
		what, sql, param string
	}{
		{"other parameters", payWrite, "shipped"},
		{"a changed statement", strings.Replace(payWrite, "total + 1", "total + 100", 1), "paid"},
		{"a statement changed only in its literal", strings.Replace(payWrite, "$1", "'paid'", 1), ""},
	}
	seen := map[string]bool{id: true}
	for _, c := range refused {
		args := []any{}
		if c.param != "" {
			args = append(args, c.param)
		}
		_, err := a.exec(t, c.sql, args...)
		nid, _ := deferred(t, err, c.what)
		if seen[nid] {
			t.Fatalf("%s: refused under request %s, want a new request", c.what, nid)
		}
		seen[nid] = true
		if p := ag.approval(t, nid); p.Status != gate.ApprovalPending {
			t.Fatalf("%s: new request is %s", c.what, p.Status)
		}
	}
	if got := ag.approval(t, id); got.Status != gate.ApprovalApproved {
		t.Fatalf("after refused variants the approval is %s, want approved (unused)", got.Status)
	}
	if n := ag.directInt(t, sumPaid); n != paid {
		t.Fatalf("paid total moved: %d -> %d", paid, n)
	}
	if n := ag.directInt(t, sumShipped); n != shipped {
		t.Fatalf("shipped total moved: %d -> %d", shipped, n)
	}
	// The approved statement itself still runs.
	if tag, err := a.exec(t, payWrite, "paid"); err != nil || tag.String() != "UPDATE 180" {
		t.Fatalf("the approved statement: %q %v", tag, err)
	}
}

// sizedPolicies refuse writes whose size cannot be estimated, hold big
// ones and allow small ones: a fail-closed use of command.estimated_rows.
const sizedPolicies = `
  - name: sized
    match: '"agents" in identity.groups'
    connections: [shop]
    rules:
      - name: reads
        when: 'command.kind in ["read", "transaction", "session"]'
        action: allow
      - name: unestimated-writes
        when: 'command.kind == "write" && command.estimated_rows < 0'
        action: deny
        message: "writes whose size cannot be estimated are not allowed"
      - name: big-writes
        when: 'command.kind == "write" && command.estimated_rows > 10'
        action: review
      - name: small-writes
        when: 'command.kind == "write"'
        action: allow
`

// TestE2EApprovalEstimateExtendedProtocol: rules on command.estimated_rows
// decide a parameterised statement the same way whether it comes as a
// simple query or through the extended protocol (Parse/Bind/Execute, what
// pgx, JDBC and psycopg3 send), where the estimate can only be made once
// the parameters are bound.
func TestE2EApprovalEstimateExtendedProtocol(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{policies: sizedPolicies})
	a := ag.agent(t, "agent-1", groupAgents)
	const small = `UPDATE orders SET status = 'refunded' WHERE id = $1`
	if tag, err := a.Exec(ctxT(t), small, pgx.QueryExecModeSimpleProtocol, 3); err != nil || tag.String() != "UPDATE 1" {
		t.Fatalf("small write, simple protocol: %q %v", tag, err)
	}
	if tag, err := a.exec(t, small, 4); err != nil || tag.String() != "UPDATE 1" {
		t.Fatalf("small write, extended protocol: %q %v", tag, err)
	}
	res := a.start(payWrite, "paid")
	id, _ := a.held(t, res)
	ag.approve(t, id, "dba-1", "")
	if r := outcome(t, res); r.err != nil || r.tag.String() != "UPDATE 180" {
		t.Fatalf("big write, extended protocol, approved: %q %v", r.tag, r.err)
	}
}

// TestE2EApprovalCancelRequest: a client that cancels its held statement
// (psql's Ctrl-C, JDBC's Statement.cancel: a CancelRequest on a second
// connection) gets 57014 at once, its request is cancelled, and an
// approval can no longer make the statement run.
func TestE2EApprovalCancelRequest(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	a := ag.agent(t, "agent-1", groupAgents)
	res := a.start(bigWrite)
	id, _ := a.held(t, res)
	if err := a.PgConn().CancelRequest(ctxT(t)); err != nil {
		t.Fatalf("cancel request: %v", err)
	}
	select {
	case r := <-res:
		wantPgError(t, r.err, "cancelled while held", "57014", "canceling statement due to user request")
	case <-time.After(e2eTimeout):
		// Without the fix the cancel goes upstream, where nothing runs; an
		// approval then runs the statement the user cancelled.
		ag.approve(t, id, "dba-1", "")
		r := outcome(t, res)
		t.Fatalf("the held statement ignored the cancel request; approved later it returned %q %v", r.tag, r.err)
	}
	ag.wantStatus(t, id, gate.ApprovalCancelled)
	if code, body := ag.decide(t, id, "dba-1", true, ""); code != http.StatusConflict {
		t.Fatalf("approving a cancelled request: %d %s", code, body)
	}
	if n := ag.directInt(t, archivedCount); n != 0 {
		t.Fatalf("%d orders archived after the cancel", n)
	}
	if _, err := a.exec(t, "SELECT 1"); err != nil {
		t.Fatalf("the session after the cancel: %v", err)
	}
	closeConn(a.Conn)
	ag.wantReviewEnded(t, "agent-1", "status = 'archived'", id, "not run", "canceled")
}

// TestE2EApprovalInTransaction: a statement held inside the client's
// transaction runs in that transaction once approved (a ROLLBACK undoes
// it); denied, it aborts the transaction as any failed statement does.
func TestE2EApprovalInTransaction(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	a := ag.agent(t, "agent-1", groupAgents)
	for _, sql := range []string{"BEGIN", "INSERT INTO notes VALUES (1, 'before the big write')"} {
		if _, err := a.exec(t, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	res := a.start(bigWrite)
	id, _ := a.held(t, res)
	ag.approve(t, id, "dba-1", "")
	if r := outcome(t, res); r.err != nil || r.tag.String() != "UPDATE 180" {
		t.Fatalf("approved in a transaction: %q %v", r.tag, r.err)
	}
	if n := ag.directInt(t, archivedCount); n != 0 {
		t.Fatalf("%d archived orders visible outside the open transaction", n)
	}
	if tag, err := a.exec(t, "ROLLBACK"); err != nil || tag.String() != "ROLLBACK" {
		t.Fatalf("rollback: %q %v", tag, err)
	}
	if n := ag.directInt(t, archivedCount) + ag.directInt(t, "SELECT count(*) FROM notes"); n != 0 {
		t.Fatalf("the rolled back transaction left %d rows", n)
	}

	for _, sql := range []string{"BEGIN", "INSERT INTO notes VALUES (2, 'before the denied write')"} {
		if _, err := a.exec(t, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	res = a.start(bigWrite)
	id, _ = a.held(t, res)
	if code, body := ag.decide(t, id, "dba-1", false, "not now"); code != http.StatusOK {
		t.Fatalf("deny: %d %s", code, body)
	}
	wantPgError(t, outcome(t, res).err, "denied in a transaction", "42501", "not now")
	_, err := a.exec(t, "INSERT INTO notes VALUES (3, 'after the denial')")
	wantPgError(t, err, "a statement after the denial", "25P02")
	if tag, err := a.exec(t, "COMMIT"); err != nil || tag.String() != "ROLLBACK" {
		t.Fatalf("commit of the aborted transaction: %q %v", tag, err)
	}
	if n := ag.directInt(t, "SELECT count(*) FROM notes"); n != 0 {
		t.Fatalf("%d notes committed from an aborted transaction", n)
	}
}

// TestE2EApprovalClientGone: a client that disconnects while its
// statement waits cancels the request; approving it then is a conflict
// and nothing runs.
func TestE2EApprovalClientGone(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	a := ag.agent(t, "agent-1", groupAgents)
	res := a.start(bigWrite)
	id, _ := a.held(t, res)
	_ = a.PgConn().Conn().Close() // the client vanishes without a Terminate
	outcome(t, res)
	ag.wantStatus(t, id, gate.ApprovalCancelled)
	if code, body := ag.decide(t, id, "dba-1", true, ""); code != http.StatusConflict {
		t.Fatalf("approving the request of a client that left: %d %s", code, body)
	}
	if n := ag.directInt(t, archivedCount); n != 0 {
		t.Fatalf("%d orders archived for a client that left", n)
	}
	ag.wantReviewEnded(t, "agent-1", "status = 'archived'", id, "not run")
}

// TestE2EApprovalContextOfOthers: a request's context lists the earlier
// steps of the same agent run, found by trace id, which the agent
// chooses. An agent that borrows another identity's trace id must not
// read that identity's statements and results through its own request,
// and approvers must not be shown them as the requester's run.
func TestE2EApprovalContextOfOthers(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	victim := ag.agent(t, "victim", groupAgents)
	if _, err := victim.exec(t, "SELECT email FROM customers WHERE id = 1 "+traceA); err != nil {
		t.Fatal(err)
	}
	mallory := ag.agent(t, "mallory", groupBatch)
	_, err := mallory.exec(t, payWrite+" "+traceA, "paid")
	id, _ := deferred(t, err, "a deferred statement under the victim's trace id")

	var own gate.Approval
	if code, body := call(t, ag.app.webURL, ag.token(t, "mallory", groupBatch), "GET", "/api/approvals/"+id, nil, &own); code != http.StatusOK {
		t.Fatalf("the requester reads its request: %d %s", code, body)
	}
	raw, _ := json.Marshal(own)
	if strings.Contains(string(raw), "customer1@example.org") || strings.Contains(string(raw), "SELECT email") {
		t.Fatalf("the requester reads another identity's steps through its request:\n%s", raw)
	}
	var list struct{ Approvals []gate.Approval }
	call(t, ag.app.webURL, ag.token(t, "mallory", groupBatch), "GET", "/api/approvals?status=pending", nil, &list)
	if raw, _ := json.Marshal(list); strings.Contains(string(raw), "customer1@example.org") {
		t.Fatalf("the requester lists another identity's steps:\n%s", raw)
	}

	t.Run("approvers' view", func(t *testing.T) {
		for _, st := range ag.approval(t, id).Request.Context {
			if strings.Contains(st.Command.Text, "SELECT email") {
				t.Fatalf("the approvers are shown the victim's step as mallory's run: %+v", st)
			}
		}
	})
}
