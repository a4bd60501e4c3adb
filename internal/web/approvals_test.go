package web

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestApprovalsAPI(t *testing.T) {
	e := newUIEnv(t, nil)
	a := e.Appr.add(sampleRequest(agentID), time.Hour)
	gone := e.Appr.add(sampleRequest(agentID), time.Hour)
	e.Appr.setStatus(gone.ID, gate.ApprovalExpired)
	other := e.Appr.add(sampleRequest(&gate.Identity{Issuer: "https://agents.example", Subject: "agent-2"}), time.Hour)
	p := "/api/approvals/" + a.ID
	cases := []struct {
		method, path, token, body string
		code                      int
		want                      string
	}{
		{"GET", "/api/approvals", "", "", 401, "missing bearer token"},
		{"GET", "/api/approvals", "forged", "", 401, "authentication failed"},
		{"GET", p, "", "", 401, "missing bearer token"},
		{"POST", p + "/approve", "", "", 401, "missing bearer token"},
		{"GET", "/api/approvals?status=pending", "approver", "", 200, a.ID},
		{"GET", "/api/approvals?status=pending", "auditor", "", 200, other.ID},
		{"GET", "/api/approvals?status=bogus", "approver", "", 400, "status must be"},
		{"GET", "/api/approvals?limit=5000", "approver", "", 400, "limit"},
		{"GET", "/api/approvals?status=expired", "admin", "", 200, gone.ID},
		{"GET", "/api/approvals", "other", "", 200, `"approvals": []`},
		{"GET", p, "approver", "", 200, `"customer 42 asked to erase cancelled orders"`},
		{"GET", p, "agent", "", 200, `"status": "pending"`}, // its own request
		{"GET", "/api/approvals/" + other.ID, "agent", "", 403, "forbidden"},
		{"GET", p, "other", "", 403, "forbidden"},
		{"GET", "/api/approvals/ap_nope", "approver", "", 404, "no approval request"},
		{"POST", "/api/approvals/ap_nope/approve", "approver", "", 404, "no approval request"},
		{"POST", p + "/approve", "other", "", 403, "may not decide"},
		{"POST", p + "/approve", "agent", "", 403, "may not decide"}, // not its own
		{"POST", p + "/deny", "approver", `{"comment": "  "}`, 400, "comment is required"},
		{"POST", p + "/deny", "approver", "", 400, "comment is required"},
		{"POST", p + "/approve", "approver", `{"comment": "ok", "extra": 1}`, 400, "unknown field"},
		{"POST", p + "/approve", "approver", `{"comment": "` + strings.Repeat("x", 2001) + `"}`, 400, "too long"},
		{"POST", "/api/approvals/" + gone.ID + "/approve", "approver", "", 409, "any more"},
		{"POST", p + "/approve", "approver", `{"comment": "checked the count"}`, 200, `"status": "approved"`},
		{"POST", p + "/approve", "approver", "", 409, "any more"},
		{"POST", p + "/deny", "approver", `{"comment": "too late"}`, 409, "any more"},
		{"GET", "/api/approvals?status=pending", "approver", "", 200, other.ID},
	}
	for _, tc := range cases {
		code, body := e.api(t, tc.method, tc.path, tc.token, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s as %q: %d %s\nwant %d containing %q", tc.method, tc.path, tc.token, code, body, tc.code, tc.want)
		}
	}
	_, body := e.api(t, "GET", "/api/approvals?status=pending", "approver", "")
	if strings.Contains(body, a.ID+`"`) {
		t.Errorf("decided request still listed as pending: %s", body)
	}
	got, _ := e.Appr.Get(t.Context(), a.ID)
	if len(got.Votes) != 1 || got.Votes[0].Comment != "checked the count" || got.Votes[0].Subject != "bob" {
		t.Errorf("votes = %+v", got.Votes)
	}
}

func TestApprovalsAPIDenyAndURL(t *testing.T) {
	e := newUIEnv(t, nil)
	a := e.Appr.add(sampleRequest(agentID), time.Hour)
	code, body := e.api(t, "POST", "/api/approvals/"+a.ID+"/deny", "approver", `{"comment":"use a narrower WHERE"}`)
	got := decodeApproval(t, body)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if got.Status != gate.ApprovalDenied || got.Votes[0].Comment != "use a narrower WHERE" || got.Votes[0].Approve {
		t.Fatalf("denied = %+v", got)
	}
	// The service left URL empty: the API fills in where to decide it.
	if got.URL != e.Srv.URL+"/approvals/"+a.ID {
		t.Fatalf("url = %q", got.URL)
	}
	// A relative URL (no base URL configured) is completed; an absolute
	// one is kept.
	for in, want := range map[string]string{"/approvals/x": "http://gw.example:8080/approvals/x", "https://gh.example/approvals/x": "https://gh.example/approvals/x"} {
		r := httptest.NewRequest("GET", "http://gw.example:8080/api/approvals/x", nil)
		if got := withURL(r, &gate.Approval{ID: "x", URL: in}).URL; got != want {
			t.Errorf("withURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// apiApproval is the part of an approval's JSON the tests look at. (A
// gate.Approval does not decode back: gate.Kind encodes its zero value as
// "unknown" but refuses that name when decoding.)
type apiApproval struct {
	ID      string              `json:"id"`
	URL     string              `json:"url"`
	Status  gate.ApprovalStatus `json:"status"`
	Votes   []gate.ApprovalVote `json:"votes"`
	Request struct {
		Identity *gate.Identity `json:"identity"`
		Command  struct {
			Text    string       `json:"text"`
			Request gate.Request `json:"request"`
		} `json:"command"`
		Grant *gate.GrantSpec `json:"grant"`
	} `json:"request"`
}

func decodeApproval(t *testing.T, body string) apiApproval {
	t.Helper()
	var a apiApproval
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return a
}

func TestApprovalsAPIAbsentWithoutApprovals(t *testing.T) {
	e := newUIEnv(t, func(c *Config) { c.Approvals = nil; c.UI = UIConfig{} })
	if code, body := e.api(t, "GET", "/api/approvals", "admin", ""); code != 404 || !strings.Contains(body, "no such endpoint") {
		t.Fatalf("%d %s", code, body)
	}
	// With approvals but no UI, the URL agents are given explains itself.
	e = newUIEnv(t, func(c *Config) { c.UI = UIConfig{} })
	if code, body := e.api(t, "GET", "/approvals/ap_1", "", ""); code != 404 || !strings.Contains(body, "the web UI is off") ||
		!strings.Contains(body, "/api/approvals/ap_1/approve") {
		t.Fatalf("%d %s", code, body)
	}
}

func TestReadRule(t *testing.T) {
	e := newUIEnv(t, func(c *Config) { c.Approvers = nil })
	a := e.Appr.add(sampleRequest(agentID), time.Hour)
	for _, tc := range []struct {
		id   *gate.Identity
		want bool
	}{
		{e.Tokens["admin"], true},
		{e.Tokens["auditor"], true},
		{approverID, true}, // not a default approver now, but CanDecide
		{agentID, true},    // the requester
		{&gate.Identity{Issuer: "https://elsewhere.example", Subject: "agent-1"}, false}, // same subject, other issuer
		{e.Tokens["other"], false},
	} {
		if got := e.Web.mayReadApproval(a, tc.id); got != tc.want {
			t.Errorf("mayReadApproval(%s from %s) = %v", tc.id, tc.id.Issuer, got)
		}
	}
}
