package main

// Grants and restarts end to end: a bot asks for time-bound write access
// through the API, a DBA approves, the policy's `"shop:write" in
// identity.grants` lets the bot write until the grant ends, in the same
// live session; requests and grants survive a gateway restart.

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// botWrite is a one-row write of the bots' tests.
const botWrite = `UPDATE orders SET total = total WHERE id = 1`

// requestGrant asks for "shop:write" for d as sub (a bot) and returns the
// pending request.
func (ag *apGateway) requestGrant(t testing.TB, sub string, d string) *gate.Approval {
	t.Helper()
	var a gate.Approval
	body := map[string]string{"connection": "shop", "access": "write", "duration": d, "reason": "backfill order totals"}
	code, raw := call(t, ag.app.webURL, ag.token(t, sub, groupBots), "POST", "/api/grants", body, &a)
	if code != http.StatusCreated || a.Status != gate.ApprovalPending || !strings.HasPrefix(a.ID, "gr_") {
		t.Fatalf("grant request by %s: %d %s", sub, code, raw)
	}
	return &a
}

// wantWriteDenied checks that a bot's write is refused for want of a grant.
func wantWriteDenied(t testing.TB, a *agent, what string) {
	t.Helper()
	_, err := a.exec(t, botWrite)
	wantPgError(t, err, what, "42501", "bots/no-writes", "bots write only with a grant")
}

// wantWrite checks that a bot's write runs.
func wantWrite(t testing.TB, a *agent, what string) {
	t.Helper()
	if tag, err := a.exec(t, botWrite); err != nil || tag.String() != "UPDATE 1" {
		t.Fatalf("%s: %q %v", what, tag, err)
	}
}

// TestE2EApprovalGrant: a grant lets a bot write from its approval until
// its end, in one live session, and not a moment longer; a revoked grant
// ends at once.
func TestE2EApprovalGrant(t *testing.T) {
	t.Parallel()
	ag := newApprovalGateway(t, apOpts{maxGrant: time.Hour})
	bot := ag.agent(t, "bot-1", groupBots)
	wantWriteDenied(t, bot, "before any grant")

	const d = 3 * time.Second
	code, body := call(t, ag.app.webURL, ag.token(t, "bot-1", groupBots), "POST", "/api/grants",
		map[string]string{"connection": "shop", "access": "write", "duration": "2h", "reason": "too long"}, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "exceeds max_grant 1h0m0s") {
		t.Fatalf("a grant over max_grant: %d %s", code, body)
	}
	g := ag.requestGrant(t, "bot-1", d.String())
	wantWriteDenied(t, bot, "while the grant is pending")
	if code, body := ag.decide(t, g.ID, "bot-1", true, "", groupBots); code != http.StatusForbidden {
		t.Fatalf("the bot approving its own grant: %d %s", code, body)
	}

	ok := ag.approve(t, g.ID, "dba-1", "for the backfill")
	gs := ok.Request.Grant
	if ok.Status != gate.ApprovalApproved || gs == nil || gs.Ends.Sub(gs.Starts) != d {
		t.Fatalf("approved grant: %s %+v", ok.Status, gs)
	}
	wantWrite(t, bot, "with the grant")
	var active struct{ Grants []gate.Approval }
	if code, body := call(t, ag.app.webURL, ag.token(t, "bot-1", groupBots), "GET", "/api/grants?status=active", nil, &active); code != 200 ||
		len(active.Grants) != 1 || active.Grants[0].ID != g.ID {
		t.Fatalf("the bot's active grants: %d %s", code, body)
	}

	// Writes keep working until the grant ends, then stop, in the same
	// session. The gateway and the test share the system clock.
	writes := 0
	var deniedAt time.Time
	poll(t, "the bot's writes to be denied after the grant ended", func() (bool, string) {
		sent := time.Now()
		_, err := bot.exec(t, botWrite)
		if err == nil {
			writes++
			// Decided after it was sent: a write sent after the end ran
			// under an ended grant.
			if sent.After(gs.Ends) {
				t.Fatalf("a write sent %v after the grant ended ran", sent.Sub(gs.Ends))
			}
			return false, "writes still run"
		}
		deniedAt = time.Now()
		wantPgError(t, err, "after the grant", "42501", "bots/no-writes")
		return true, ""
	})
	if deniedAt.Before(gs.Ends) {
		t.Fatalf("denied at %v, before the grant's end %v", deniedAt, gs.Ends)
	}
	t.Logf("%d writes under the grant; denied %v after its end", writes, deniedAt.Sub(gs.Ends).Round(time.Millisecond))
	wantWriteDenied(t, bot, "after the grant")

	// A revoked grant ends at once.
	g2 := ag.requestGrant(t, "bot-1", "30m")
	ag.approve(t, g2.ID, "dba-2", "")
	wantWrite(t, bot, "with the second grant")
	if code, body := call(t, ag.app.webURL, ag.token(t, "bot-1", groupBots), "POST", "/api/grants/"+g2.ID+"/revoke",
		map[string]string{"comment": "done early"}, nil); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	wantWriteDenied(t, bot, "after the revocation")
}

// TestE2EApprovalRestart: pending requests (held in wait or defer mode),
// pending grant requests and active grants live in the store, so a
// restarted gateway still has them: an approval after the restart lets
// the agent's retry run once, and grants keep (or start) working.
func TestE2EApprovalRestart(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	before := ag.directInt(t, sumPaid)

	// Before: a deferred statement, a waiting statement, an active grant
	// and a pending grant request.
	batch := ag.agent(t, "batch-1", groupBatch)
	_, err := batch.exec(t, payWrite, "paid")
	deferredID, _ := deferred(t, err, "deferred statement")
	waiter := ag.agent(t, "agent-1", groupAgents)
	res := waiter.start(bigWrite)
	waitingID, _ := waiter.held(t, res)
	active := ag.requestGrant(t, "bot-1", "10m")
	ag.approve(t, active.ID, "dba-1", "")
	pending := ag.requestGrant(t, "bot-2", "10m")

	ag.restart(t)

	// The waiting client was told the gateway is going away; its request
	// stays pending rather than cancelled.
	r := outcome(t, res)
	wantPgError(t, r.err, "statement waiting at shutdown", "57P01", "shutting down")
	for id, st := range map[string]gate.ApprovalStatus{deferredID: gate.ApprovalPending, waitingID: gate.ApprovalPending,
		active.ID: gate.ApprovalApproved, pending.ID: gate.ApprovalPending} {
		if got := ag.approval(t, id); got.Status != st {
			t.Errorf("after the restart %s is %s, want %s", id, got.Status, st)
		}
	}

	wantWrite(t, ag.agent(t, "bot-1", groupBots), "a grant approved before the restart")
	bot2 := ag.agent(t, "bot-2", groupBots)
	wantWriteDenied(t, bot2, "a grant still pending")
	ag.approve(t, pending.ID, "dba-1", "")
	wantWrite(t, bot2, "a grant approved after the restart")

	// Deferred: approved after the restart, the retry runs once.
	ag.approve(t, deferredID, "dba-2", "")
	batch = ag.agent(t, "batch-1", groupBatch)
	if tag, err := batch.exec(t, payWrite, "paid"); err != nil || tag.String() != "UPDATE 180" {
		t.Fatalf("deferred retry after the restart: %q %v", tag, err)
	}
	_, err = batch.exec(t, payWrite, "paid")
	deferred(t, err, "second retry")
	if n := ag.directInt(t, sumPaid); n != before+180 {
		t.Fatalf("paid total %d, want %d", n, before+180)
	}

	// Waiting: the request made before the restart is still approvable,
	// and the agent's identical statement then runs without a new wait.
	ag.approve(t, waitingID, "dba-2", "")
	waiter = ag.agent(t, "agent-1", groupAgents)
	if tag, err := waiter.exec(t, bigWrite); err != nil || tag.String() != "UPDATE 180" {
		t.Fatalf("the statement approved after the restart: %q %v", tag, err)
	}
	if len(waiter.notices) != 0 {
		t.Fatalf("the approved statement waited again: %q", (<-waiter.notices).Message)
	}
}

// TestE2EApprovalPolicyChange: an approval is bound to the policy version
// it was given under; after the policies change (and the gateway
// restarts with them) the retry needs a new approval.
func TestE2EApprovalPolicyChange(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	batch := ag.agent(t, "batch-1", groupBatch)
	_, err := batch.exec(t, payWrite, "paid")
	id, _ := deferred(t, err, "deferred statement")
	ag.approve(t, id, "dba-1", "")

	changed := strings.Replace(ag.yaml, `        message: "big batch writes need a DBA"`,
		`        message: "big batch writes need a DBA (see the runbook)"`, 1)
	if changed == ag.yaml {
		t.Fatal("the batch rule's message is not in the configuration")
	}
	ag.yaml = changed
	if err := os.WriteFile(ag.cfgPath, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	ag.restart(t)

	batch = ag.agent(t, "batch-1", groupBatch)
	_, err = batch.exec(t, payWrite, "paid")
	if nid, _ := deferred(t, err, "retry under the new policies"); nid == id {
		t.Fatalf("approval %s, given under the old policies, was redeemed", id)
	}
	if got := ag.approval(t, id); got.Status != gate.ApprovalApproved {
		t.Fatalf("the old approval is %s", got.Status)
	}
}
