package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestGrantsAPI(t *testing.T) {
	e := newUIEnv(t, nil)
	req := func(token, body string) (int, apiApproval, string) {
		t.Helper()
		code, out := e.api(t, "POST", "/api/grants", token, body)
		var a apiApproval
		_ = json.Unmarshal([]byte(out), &a)
		return code, a, out
	}
	code, g, body := req("agent", `{"connection": "shop", "access": "write", "duration": "30m", "reason": "backfill order totals"}`)
	if code != 201 || g.ID == "" || g.Status != gate.ApprovalPending || g.URL != e.Srv.URL+"/approvals/"+g.ID ||
		g.Request.Grant == nil || g.Request.Grant.Duration != 30*time.Minute || g.Request.Grant.Key() != "shop:write" ||
		g.Request.Identity.Subject != "agent-1" {
		t.Fatalf("POST /api/grants: %d %s", code, body)
	}
	bad := []struct{ token, body, want string }{
		{"", `{}`, "missing bearer token"},
		{"agent", `{"access": "write", "duration": "30m", "reason": "r"}`, `"connection" is required`},
		{"agent", `{"connection": "shop", "duration": "30m", "reason": "r"}`, `"access" is required`},
		{"agent", `{"connection": "shop", "access": "Write!", "duration": "30m", "reason": "r"}`, `"access" is required`},
		{"agent", `{"connection": "shop", "access": "write", "reason": "r"}`, `"duration" is required`},
		{"agent", `{"connection": "shop", "access": "write", "duration": "half an hour", "reason": "r"}`, "positive Go duration"},
		{"agent", `{"connection": "shop", "access": "write", "duration": "-5m", "reason": "r"}`, "positive Go duration"},
		{"agent", `{"connection": "shop", "access": "write", "duration": "30m"}`, `"reason" is required`},
		{"agent", `{"connection": "shop", "access": "write", "duration": "30m", "reason": "r", "admin": true}`, "unknown field"},
		{"agent", `{"connection": "shop"`, "invalid request body"},
		{"agent", `{"connection": "nope", "access": "write", "duration": "30m", "reason": "r"}`, `unknown connection "nope"`},
		{"agent", `{"connection": "shop", "access": "write", "duration": "9h", "reason": "r"}`, "max_grant"},
	}
	for _, tc := range bad {
		code, _, body := req(tc.token, tc.body)
		want := 400
		if tc.token == "" {
			want = 401
		}
		var m struct{ Error string }
		_ = json.Unmarshal([]byte(body), &m)
		if code != want || !strings.Contains(m.Error, tc.want) {
			t.Errorf("POST %s as %q: %d %s, want %d containing %q", tc.body, tc.token, code, body, want, tc.want)
		}
	}

	// The grant shows in the inbox list and is decided like any request.
	if code, body := e.api(t, "GET", "/api/approvals?status=pending", "approver", ""); code != 200 || !strings.Contains(body, g.ID) {
		t.Fatalf("pending approvals: %d %s", code, body)
	}
	_, other, _ := req("other", `{"connection": "shop", "access": "read", "duration": "1h", "reason": "look around"}`)
	list := func(token, query string) string {
		t.Helper()
		code, body := e.api(t, "GET", "/api/grants"+query, token, "")
		if code != 200 {
			t.Fatalf("GET /api/grants%s as %s: %d %s", query, token, code, body)
		}
		return body
	}
	if b := list("agent", ""); !strings.Contains(b, g.ID) || strings.Contains(b, other.ID) {
		t.Errorf("the bot sees exactly its own grants: %s", b)
	}
	if b := list("approver", "?status=pending&sub=mallory"); !strings.Contains(b, other.ID) || strings.Contains(b, g.ID) {
		t.Errorf("sub filter: %s", b)
	}
	if b := list("approver", "?status=active"); strings.Contains(b, g.ID) {
		t.Errorf("pending grant listed as active: %s", b)
	}
	if code, body := e.api(t, "POST", "/api/approvals/"+g.ID+"/approve", "approver", `{"comment":"ok for 30m"}`); code != 200 {
		t.Fatalf("approve grant: %d %s", code, body)
	}
	if b := list("approver", "?status=active&connection=shop"); !strings.Contains(b, g.ID) {
		t.Errorf("approved grant not active: %s", b)
	}
	if b := list("approver", "?status=active&connection=other"); strings.Contains(b, g.ID) {
		t.Errorf("connection filter: %s", b)
	}
	if code, body := e.api(t, "GET", "/api/grants?status=soon", "approver", ""); code != 400 || !strings.Contains(body, "status must be") {
		t.Errorf("bad status: %d %s", code, body)
	}

	// Revoking: not by strangers or auditors; by admins, approvers and
	// the requester; only grants.
	stmt := e.Appr.add(sampleRequest(agentID), time.Hour)
	_, mine, _ := req("agent", `{"connection": "shop", "access": "write", "duration": "1h", "reason": "second job"}`)
	revokes := []struct {
		id, token string
		code      int
		want      string
	}{
		{g.ID, "", 401, "missing bearer token"},
		{g.ID, "other", 403, "may not revoke"},
		{g.ID, "auditor", 403, "may not revoke"},
		{other.ID, "agent", 403, "may not revoke"}, // someone else's
		{"ap_nope", "admin", 404, "no approval request"},
		{stmt.ID, "admin", 400, "not a grant request"},
		{g.ID, "approver", 200, `"status": "cancelled"`},
		{g.ID, "admin", 409, "any more"},
		{other.ID, "other", 200, `"status": "cancelled"`}, // withdrawing its own pending request
		{mine.ID, "admin", 200, `"status": "cancelled"`},
	}
	for _, tc := range revokes {
		code, body := e.api(t, "POST", "/api/grants/"+tc.id+"/revoke", tc.token, `{"comment":"done"}`)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("revoke %s as %q: %d %s, want %d containing %q", tc.id, tc.token, code, body, tc.code, tc.want)
		}
	}
	if b := list("approver", "?status=active"); strings.Contains(b, g.ID) {
		t.Errorf("revoked grant still active: %s", b)
	}
}
