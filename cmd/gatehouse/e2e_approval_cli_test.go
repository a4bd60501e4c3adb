package main

// The approvals and grants commands, run in-process against a running
// gateway with GATEHOUSE_URL and GATEHOUSE_TOKEN, as an approver, as the
// agent itself and as a bot asking for a grant.

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// wantOut fails unless out contains every one of parts.
func wantOut(t *testing.T, what, out string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(out, p) {
			t.Errorf("%s: output lacks %q:\n%s", what, p, out)
		}
	}
}

// wantFail runs the CLI expecting a failure whose message contains parts.
func wantFail(t *testing.T, parts []string, args ...string) {
	t.Helper()
	out, _, err := runCLI(t, args...)
	if err == nil {
		t.Fatalf("%v succeeded, want a failure:\n%s", args, out)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("%v: error %q lacks %q", args, err, p)
		}
	}
}

func TestE2EApprovalCLI(t *testing.T) {
	ag := newApprovalGateway(t, apOpts{})
	t.Setenv("GATEHOUSE_URL", ag.app.webURL)
	as := func(sub string, groups ...string) { t.Setenv("GATEHOUSE_TOKEN", ag.token(t, sub, groups...)) }
	cli := func(args ...string) string {
		t.Helper()
		out, _, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	// An agent run: a read, then a big write held for approval.
	a := ag.agent(t, "agent-1", groupAgents)
	if _, err := a.exec(t, "SELECT count(*) FROM orders WHERE status = 'paid' "+traceA); err != nil {
		t.Fatal(err)
	}
	res := a.start(bigWrite + " " + traceA)
	id, link := a.held(t, res)

	// A bot asks for a grant.
	as("bot-1", groupBots)
	out := cli("grants", "request", "--connection", "shop", "--access", "write", "--duration", "30m", "--reason", "backfill order totals")
	grant := regexp.MustCompile(`^(gr_[a-z2-7]{16}): write access to shop for 30m requested; pending until an approver decides at http://\S+/approvals/gr_`).FindStringSubmatch(out)
	if grant == nil {
		t.Fatalf("grants request printed %q", out)
	}
	gid := grant[1]
	wantFail(t, []string{"400", "exceeds max_grant"}, "grants", "request", "--connection", "shop", "--access", "write", "--duration", "9h", "--reason", "r")

	// The approver's view.
	as("dba-1", groupDBA)
	out = cli("approvals", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || strings.Contains(lines[0], "STATUS") {
		t.Fatalf("approvals list: want a header and two requests:\n%s", out)
	}
	wantOut(t, "approvals list", out, "IDENTITY", "CONNECTION", "RULE", "STATEMENT", id, "agent-1", "agents/big-writes",
		"UPDATE orders SET status = 'archived' WHERE status = 'paid'\n", gid, "bot-1", "grant write for 30m0s: backfill order totals")

	out = cli("approvals", "show", id)
	wantOut(t, "approvals show", out,
		"statement "+id+"  pending, 0 of 1 approvals", link, "agent-1 (issuer "+ag.issuer.URL()+", groups agents)",
		"agents/big-writes: writes of more than 10 rows need a DBA (policy version ", "group:dba (1 required, mode wait)",
		"reason         archive paid orders", "trace id       4bf92f3577b34da6a3ce929d0e0e4736",
		"    | "+bigWrite+" "+traceA, "classification write UPDATE on public.orders", "impact         about 1", // ~180
		"earlier steps of this run (1)", "ALLOW by agents/reads", "| SELECT count(*) FROM orders WHERE status = 'paid'",
		"expires", "undecided by then, it is refused", "plan           (--plan shows it)")
	wantOut(t, "approvals show --plan", cli("approvals", "show", "--plan", id), "  plan\n    | [", `"Node Type": "ModifyTable"`)
	var shown gate.Approval
	if err := json.Unmarshal([]byte(cli("approvals", "show", "--json", id)), &shown); err != nil || shown.ID != id {
		t.Fatalf("approvals show --json: %v %+v", err, shown)
	}

	// Refusals: the message is the API's, the exit status non-zero.
	wantFail(t, []string{"deny needs --comment"}, "approvals", "deny", id)
	wantFail(t, []string{"404", `no approval request "ap_nosuchrequest00"`}, "approvals", "approve", "ap_nosuchrequest00")
	as("agent-1", groupAgents)
	wantFail(t, []string{"403", "nobody approves their own request"}, "approvals", "approve", id)
	t.Setenv("GATEHOUSE_TOKEN", "")
	wantFail(t, []string{"GATEHOUSE_TOKEN is not set"}, "approvals", "list")
	stillWaiting(t, res, "after refused votes")

	as("dba-1", groupDBA)
	out = cli("approvals", "approve", id, "--comment", "archiving is planned")
	wantOut(t, "approvals approve", out, id+": approved; the statement may run once")
	if r := outcome(t, res); r.err != nil || r.tag.String() != "UPDATE 180" {
		t.Fatalf("after approving with the CLI: %q %v", r.tag, r.err)
	}
	wantFail(t, []string{"409", "cannot decide request"}, "approvals", "approve", id)
	out = cli("approvals", "list", "--status", "all")
	wantOut(t, "approvals list --status all", out, "STATUS", id, "used", gid, "pending")
	out = cli("approvals", "show", id)
	wantOut(t, "approvals show after the vote", out, "used, 1 of 1 approvals", "votes\n    dba-1 approved at ", ": archiving is planned")

	// Deny with a comment: the agent is told.
	res = a.start(payWrite, "shipped")
	id2, _ := a.held(t, res)
	out = cli("approvals", "deny", id2, "--comment", "not during the sale")
	wantOut(t, "approvals deny", out, id2+": denied")
	wantPgError(t, outcome(t, res).err, "denied with the CLI", "42501", "denied by dba-1: not during the sale")

	// The grant: approved, listed as active, given up by the bot.
	out = cli("approvals", "approve", gid)
	wantOut(t, "approving a grant", out, gid+": approved; write on shop until ")
	as("bot-1", groupBots)
	out = cli("grants", "list", "--status", "active")
	wantOut(t, "grants list --status active", out, "ID", "STATUS", gid, "active", "bot-1", "shop:write", "30m0s", "backfill order totals")
	bot := ag.agent(t, "bot-1", groupBots)
	wantWrite(t, bot, "with the grant approved by the CLI")
	out = cli("grants", "revoke", gid, "--comment", "done early")
	wantOut(t, "grants revoke", out, gid+": cancelled")
	wantWriteDenied(t, bot, "after revoking with the CLI")
	if out = cli("grants", "list", "--status", "active"); strings.TrimSpace(out) != "no grants" {
		t.Fatalf("active grants after the revocation:\n%s", out)
	}
	out = cli("grants", "list")
	wantOut(t, "grants list", out, gid, "cancelled")
}
