package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// uiEnv is the web handler over a fake Approvals, a fixed Trail and bearer
// tokens, with sign-in against a real OIDC issuer (testenv).
//
// Identities: bearer tokens "agent" (agent-1, group agents: makes
// requests), "approver" (bob, group dba: the default approvers),
// "admin" (root, group admins), "auditor" (sec, group security) and
// "other" (mallory, no group). The issuer signs browsers in as alice
// (group dba) unless a test sets other login claims.
type uiEnv struct {
	Srv    *httptest.Server
	Web    *Server
	Appr   *fakeApprovals
	Issuer *testenv.Issuer
	Tokens gatetest.Tokens
}

var (
	agentID    = &gate.Identity{Issuer: "https://agents.example", Subject: "agent-1", Groups: []string{"agents"}}
	approverID = &gate.Identity{Issuer: "https://people.example", Subject: "bob", Email: "bob@example.com", Groups: []string{"dba"}}
)

func mustPrincipals(entries ...string) gate.Principals {
	ps, err := gate.ParsePrincipals(entries)
	if err != nil {
		panic(err)
	}
	return ps
}

// newUIEnv starts the server; mod may change the configuration first.
func newUIEnv(t testing.TB, mod func(*Config)) *uiEnv {
	t.Helper()
	e := &uiEnv{Appr: newFakeApprovals("group:dba"), Issuer: testenv.NewIssuer(t)}
	e.Tokens = gatetest.Tokens{
		"agent":    agentID,
		"approver": approverID,
		"admin":    {Issuer: "https://people.example", Subject: "root", Groups: []string{"admins"}},
		"auditor":  {Issuer: "https://people.example", Subject: "sec", Groups: []string{"security"}},
		"other":    {Issuer: "https://people.example", Subject: "mallory"},
	}
	e.Issuer.SetLoginClaims(map[string]any{"sub": "alice", "email": "alice@example.com", "groups": []any{"dba"}})
	cfg := Config{
		Auth: e.Tokens, Trail: sampleTrail(), Approvals: e.Appr,
		Admins: mustPrincipals("group:admins"), Auditors: mustPrincipals("group:security"), Approvers: mustPrincipals("group:dba"),
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		UI: UIConfig{Issuer: e.Issuer.URL(), ClientID: "gatehouse-ui", ClientSecret: "s3cret", Claims: identity.FromClaims,
			SessionKey: []byte("0123456789abcdef0123456789abcdef")},
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Web = s
	e.Srv = httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); e.Srv.Close() })
	return e
}

// browser returns a client with a cookie jar that follows redirects, as a
// browser does.
func (e *uiEnv) browser(t testing.TB) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// signIn signs a new browser in through the issuer and returns it.
func (e *uiEnv) signIn(t testing.TB) *http.Client {
	t.Helper()
	c := e.browser(t)
	resp, body := do(t, c, "GET", e.Srv.URL+"/approvals", nil, nil)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/approvals" || !strings.Contains(body, "Sign out") {
		t.Fatalf("sign-in ended at %s with %d:\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	return c
}

// do sends a request and returns the final response and its body.
func do(t testing.TB, c *http.Client, method, u string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// api calls the JSON API with a bearer token ("" for none).
func (e *uiEnv) api(t testing.TB, method, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.Srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfFrom returns the first CSRF token in a page.
func csrfFrom(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", page)
	}
	return m[1]
}

// sampleRequest is a held DELETE with everything an approver sees.
func sampleRequest(id *gate.Identity) gate.ApprovalRequest {
	exact := int64(3)
	return gate.ApprovalRequest{
		SessionID: "s_1", Step: 3, Identity: id, Target: gate.Target{Name: "shop", Kind: "postgres"},
		Command: gate.Command{
			Text:       "delete from orders where customer_id = $1 and status = $2 and note = 'it''s from; here' returning id",
			Params:     []string{"42", ""},
			ParamNulls: []bool{false, true},
			Class:      gate.Class{Kind: gate.KindWrite, Statements: []string{"DELETE"}, Tables: []string{"public.orders"}, HasWhere: true},
			Request:    gate.Request{Reason: "customer 42 asked to erase cancelled orders", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
		},
		Decision: gate.Decision{Action: gate.Review, Policy: "shop", Rule: "writes-need-review", Message: "writes to shop need a DBA",
			Review: &gate.ReviewSpec{Approvers: []string{"group:dba"}, Required: 1, Mode: "wait"}},
		Impact: &gate.Impact{EstimatedRows: 5, ExactRows: &exact, Plan: "Delete on orders\n  ->  Seq Scan on orders"},
		Context: []gate.StepRecord{{N: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Command:  gate.Command{Text: "select count(*) from orders where customer_id = 42", Request: gate.Request{Reason: "count first"}},
			Decision: gate.Decision{Action: gate.Allow, Policy: "shop", Rule: "reads"},
			Outcome:  &gate.Outcome{Tag: "SELECT 1", Rows: 1, Duration: 3 * time.Millisecond}}},
	}
}

// sampleTrail holds one session with an allowed, a denied and an approved
// step.
func sampleTrail() fakeTrail {
	opened := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	closed := opened.Add(time.Minute)
	return fakeTrail{"s_1": {
		SessionSummary: gate.SessionSummary{ID: "s_1", Identity: agentID, Target: gate.Target{Name: "shop", Kind: "postgres"},
			Protocol: "postgres", Opened: opened, Closed: &closed, EndReason: "client terminated", Steps: 3, Denied: 1},
		Steps: []gate.StepRecord{
			{N: 1, Time: opened, Command: gate.Command{Text: "select * from orders"}, Decision: gate.Decision{Action: gate.Allow, Rule: "reads"},
				Outcome: &gate.Outcome{Tag: "SELECT 2", Rows: 2, Masked: map[string]int64{"email": 2},
					Preview: &gate.Preview{Columns: []string{"id", "email"}, Rows: [][]string{{"1", "a***@example.com"}}}}},
			{N: 2, Time: opened, Command: gate.Command{Text: "drop table orders"}, Decision: gate.Decision{Action: gate.Deny, Rule: "no-ddl", Message: "no DDL here"}},
			{N: 3, Time: opened, Command: gate.Command{Text: "delete from orders where id = 1"},
				Decision: gate.Decision{Action: gate.Allow, ApprovalID: "ap_9", ApprovedBy: []string{"bob"}},
				Outcome:  &gate.Outcome{Tag: "DELETE 1", Rows: 1}},
		},
	}}
}
