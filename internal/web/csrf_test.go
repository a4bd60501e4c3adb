package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestDecideFormCSRF(t *testing.T) {
	e := newUIEnv(t, nil)
	a := e.Appr.add(sampleRequest(agentID), time.Hour)
	alice := e.signIn(t)
	page := e.Srv.URL + "/approvals/" + a.ID
	_, body := do(t, alice, "GET", page, nil, nil)
	token := csrfFrom(t, body)
	e.Issuer.SetLoginClaims(map[string]any{"sub": "dave", "groups": []any{"dba"}})
	dave := e.signIn(t)
	_, daveBody := do(t, dave, "GET", page, nil, nil)
	daveToken := csrfFrom(t, daveBody)
	if daveToken == token {
		t.Fatal("two sessions share a CSRF token")
	}
	decide := e.Srv.URL + "/approvals/" + a.ID + "/decide"
	form := func(tok string) url.Values {
		return url.Values{"csrf": {tok}, "decision": {"approve"}, "comment": {"fine"}}
	}
	refusals := []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{"no token", url.Values{"decision": {"approve"}}, nil},
		{"empty token", form(""), nil},
		{"forged token", form(token[:len(token)-3] + "abc"), nil},
		{"another session's token", form(daveToken), nil},
		{"cross-site origin", form(token), http.Header{"Origin": {"https://evil.example"}}},
	}
	for _, tc := range refusals {
		resp, body := do(t, alice, "POST", decide, tc.form, tc.header)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "security token") {
			t.Errorf("%s: %d, want 403:\n%s", tc.name, resp.StatusCode, body)
		}
	}
	if got, _ := e.Appr.Get(t.Context(), a.ID); got.Status != gate.ApprovalPending || len(got.Votes) != 0 {
		t.Fatalf("a refused form changed the request: %+v", got)
	}
	// Deny needs a comment, in the UI as in the API.
	resp, body := do(t, alice, "POST", decide, url.Values{"csrf": {token}, "decision": {"deny"}}, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "comment is required") {
		t.Fatalf("deny without comment: %d\n%s", resp.StatusCode, body)
	}
	// The token in a header (as the page's script sends it) with the
	// server's own origin passes; the script gets JSON.
	resp, body = do(t, alice, "POST", decide, url.Values{"decision": {"approve"}, "comment": {"ok"}},
		http.Header{"X-Csrf-Token": {token}, "Accept": {"application/json"}, "Origin": {e.Srv.URL}})
	if resp.StatusCode != 200 || !strings.Contains(body, `"status": "approved"`) {
		t.Fatalf("decide with a valid token: %d\n%s", resp.StatusCode, body)
	}
	// Now it is decided: 409, and the page shows the vote, no form.
	resp, _ = do(t, dave, "POST", decide, form(daveToken), nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("deciding a decided request: %d, want 409", resp.StatusCode)
	}
	_, body = do(t, alice, "GET", page, nil, nil)
	if strings.Contains(body, `data-decide`) || !strings.Contains(body, "approved") || !strings.Contains(body, "alice (alice@example.com)") {
		t.Fatalf("decided page:\n%s", body)
	}
}

func TestDecideFormRedirectsAndRefuses(t *testing.T) {
	e := newUIEnv(t, nil)
	a := e.Appr.add(sampleRequest(agentID), time.Hour)
	b := e.Appr.add(sampleRequest(agentID), time.Hour)
	alice := e.signIn(t)
	_, body := do(t, alice, "GET", e.Srv.URL+"/approvals", nil, nil)
	token := csrfFrom(t, body)
	// Without script: the form posts and the browser lands back where
	// "next" says, with the request gone from the inbox.
	resp, body := do(t, alice, "POST", e.Srv.URL+"/approvals/"+a.ID+"/decide",
		url.Values{"csrf": {token}, "decision": {"deny"}, "comment": {"not today"}, "next": {"/approvals"}}, nil)
	if resp.Request.URL.Path != "/approvals" || strings.Contains(body, `id="ap-`+a.ID+`"`) || !strings.Contains(body, `id="ap-`+b.ID+`"`) {
		t.Fatalf("after deny landed on %s:\n%s", resp.Request.URL, body)
	}
	// An open redirect through next is not possible.
	alice.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ = do(t, alice, "POST", e.Srv.URL+"/approvals/"+b.ID+"/decide",
		url.Values{"csrf": {token}, "decision": {"approve"}, "next": {"//evil.example/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/approvals/"+b.ID {
		t.Fatalf("next=//evil.example: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Someone who is not an approver sees no buttons and is refused.
	c := e.Appr.add(sampleRequest(agentID), time.Hour)
	e.Issuer.SetLoginClaims(map[string]any{"sub": "mallory", "groups": []any{"sales"}})
	mallory := e.signIn(t)
	resp, body = do(t, mallory, "GET", e.Srv.URL+"/approvals/"+c.ID, nil, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("stranger reading a request: %d\n%s", resp.StatusCode, body)
	}
	_, body = do(t, mallory, "GET", e.Srv.URL+"/approvals", nil, nil)
	if strings.Contains(body, `id="ap-`) || !strings.Contains(body, "Nothing is waiting") {
		t.Fatalf("stranger's inbox:\n%s", body)
	}
	resp, _ = do(t, mallory, "POST", e.Srv.URL+"/approvals/"+c.ID+"/decide",
		url.Values{"csrf": {csrfFrom(t, body)}, "decision": {"approve"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("stranger deciding: %d, want 403", resp.StatusCode)
	}
	if resp, _ := do(t, mallory, "GET", e.Srv.URL+"/approvals/ap_nope", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown request page: %d, want 404", resp.StatusCode)
	}
	// The requester sees its own request, without buttons.
	e.Issuer.SetLoginClaims(map[string]any{"sub": "agent-1"})
	e.Appr.add(sampleRequest(&gate.Identity{Issuer: e.Issuer.URL(), Subject: "agent-1"}), time.Hour)
	_, body = do(t, e.signIn(t), "GET", e.Srv.URL+"/approvals", nil, nil)
	if !strings.Contains(body, "You made this request") || strings.Contains(body, "data-decide") {
		t.Fatalf("requester's inbox:\n%s", body)
	}
}

func TestApprovalURLSignsInFirst(t *testing.T) {
	e := newUIEnv(t, nil)
	a := e.Appr.add(sampleRequest(agentID), time.Hour)
	c := e.browser(t)
	var path []string
	c.CheckRedirect = func(r *http.Request, _ []*http.Request) error { path = append(path, r.URL.Path); return nil }
	resp, body := do(t, c, "GET", e.Srv.URL+"/approvals/"+a.ID, nil, nil)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/approvals/"+a.ID || !strings.Contains(body, "writes to shop need a DBA") {
		t.Fatalf("GET the approval URL: %d at %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	if strings.Join(path, " ") != "/login /login/oidc /authorize /auth/callback /approvals/"+a.ID {
		t.Fatalf("redirects: %v", path)
	}
}
