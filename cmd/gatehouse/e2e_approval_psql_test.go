package main

// Held statements with the real psql binary: the notice is printed while
// the statement waits, the approved statement's result is printed, and
// Ctrl-C (SIGINT: psql sends a CancelRequest) ends the wait.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// pendingRequest waits until sub has exactly one pending request and
// returns it.
func (ag *apGateway) pendingRequest(t *testing.T, sub string) *gate.Approval {
	t.Helper()
	var found *gate.Approval
	poll(t, "a pending request of "+sub, func() (bool, string) {
		var list struct{ Approvals []*gate.Approval }
		if code, body := call(t, ag.app.webURL, ag.token(t, "dba-1", groupDBA), "GET", "/api/approvals?status=pending", nil, &list); code != 200 {
			t.Fatalf("list: %d %s", code, body)
		}
		for _, a := range list.Approvals {
			if a.Request.Identity != nil && a.Request.Identity.Subject == sub {
				found = a
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d pending requests, none of %s", len(list.Approvals), sub)
	})
	return found
}

// startPsql starts psql -c sql as sub through the gateway; wait returns
// its result.
func (ag *apGateway) startPsql(t *testing.T, sub, sql string) (cmd *exec.Cmd, wait func() psqlResult) {
	t.Helper()
	needPsql(t)
	h, p := ag.hostPort()
	ctx, cancel := context.WithTimeout(context.Background(), 2*e2eTimeout)
	conn := fmt.Sprintf("host=%s port=%s dbname=shop user=%s sslmode=require", h, p, sub)
	cmd = exec.CommandContext(ctx, "psql", "-X", "--no-password", "-v", "ON_ERROR_STOP=1", "-d", conn, "-c", sql)
	cmd.Env = cleanEnv("PGPASSWORD=" + ag.token(t, sub, groupAgents))
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan psqlResult, 1)
	go func() {
		err := cmd.Wait()
		r := psqlResult{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			r.code = -1
		}
		done <- r
	}()
	t.Cleanup(cancel)
	return cmd, func() psqlResult {
		t.Helper()
		r := <-done
		if ctx.Err() != nil {
			t.Fatalf("psql did not finish in %s: %s", 2*e2eTimeout, r)
		}
		return r
	}
}

func TestE2EApprovalPsql(t *testing.T) {
	needPsql(t)
	ag := newApprovalGateway(t, apOpts{})

	t.Run("approved", func(t *testing.T) {
		_, wait := ag.startPsql(t, "psql-agent", bigWrite)
		a := ag.pendingRequest(t, "psql-agent")
		ag.approve(t, a.ID, "dba-1", "")
		r := wait()
		want := fmt.Sprintf("NOTICE:  gatehouse: approval required (request %s): %s; waiting up to ", a.ID, a.URL)
		if r.code != 0 || strings.TrimSpace(r.stdout) != "UPDATE 180" || !strings.Contains(r.stderr, want) {
			t.Fatalf("psql: want UPDATE 180 and the notice %q:\n%s", want, r)
		}
	})

	t.Run("Ctrl-C", func(t *testing.T) {
		cmd, wait := ag.startPsql(t, "psql-agent", `UPDATE orders SET status = 'archived' WHERE status = 'shipped'`)
		a := ag.pendingRequest(t, "psql-agent")
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		r := wait()
		if r.code == 0 || !strings.Contains(r.stderr, "ERROR:  gatehouse: canceling statement due to user request") {
			t.Fatalf("psql after Ctrl-C:\n%s", r)
		}
		ag.wantStatus(t, a.ID, gate.ApprovalCancelled)
		if n := ag.directInt(t, `SELECT count(*) FROM orders WHERE status = 'shipped'`); n != 60 {
			t.Fatalf("%d shipped orders left, want 60", n)
		}
	})
}
