package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestApprovalPageRendersEveryField(t *testing.T) {
	e := newUIEnv(t, nil)
	a := e.Appr.add(sampleRequest(agentID), 10*time.Minute)
	alice := e.signIn(t)
	for _, path := range []string{"/approvals", "/approvals/" + a.ID} {
		resp, body := do(t, alice, "GET", e.Srv.URL+path, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		for _, want := range []string{
			// the statement, formatted: keywords upper-cased, clauses on
			// their own lines, the string literal untouched
			`<span class="k">DELETE</span> <span class="k">FROM</span> orders` + "\n" + `<span class="k">WHERE</span> customer_id`,
			`<span class="s">&#39;it&#39;&#39;s from; here&#39;</span>`,
			"\n" + `<span class="k">RETURNING</span> id`,
			// and the exact text as sent
			"delete from orders where customer_id = $1",
			// bind parameters, one NULL
			`<th scope="row">$1</th><td><code>42</code></td>`, `<th scope="row">$2</th><td><em>NULL</em></td>`,
			// identity, connection, reason, trace id, rule
			"agent-1", "groups: agents", "via https://agents.example", "shop", "(postgres)",
			"customer 42 asked to erase cancelled orders", "4bf92f3577b34da6a3ce929d0e0e4736",
			"shop/writes-need-review", "writes to shop need a DBA", "public.orders",
			// earlier steps of the run
			"Earlier steps of this agent run (1)", `<span class="k">SELECT</span> count(*)`, "count first", "SELECT 1",
			// impact
			"<strong>3 rows</strong> exactly (dry run, rolled back); planner estimate 5 rows", "Seq Scan on orders",
			// countdown: machine-readable expiry and the time left now
			`data-expires="` + a.Expires.UTC().Format(time.RFC3339) + `"`, "9m 5", "left",
			// decision form, for an approver
			`action="/approvals/` + a.ID + `/decide"`, `value="approve"`, `value="deny"`, `name="comment"`,
			"0 of 1 needed",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: missing %q", path, want)
			}
		}
		if t.Failed() {
			t.Fatalf("page:\n%s", body)
		}
	}
	// Only the request's own page links its session.
	_, body := do(t, alice, "GET", e.Srv.URL+"/approvals/"+a.ID, nil, nil)
	if !strings.Contains(body, `href="/sessions/s_1"`) || !strings.Contains(body, "step 3") {
		t.Errorf("no session link:\n%s", body)
	}
}

func TestGrantCardRenders(t *testing.T) {
	e := newUIEnv(t, nil)
	g, err := e.Appr.RequestGrant(t.Context(), agentID, gate.GrantSpec{Connection: "shop", Access: "write", Duration: 30 * time.Minute, Reason: "nightly backfill"})
	if err != nil {
		t.Fatal(err)
	}
	_, body := do(t, e.signIn(t), "GET", e.Srv.URL+"/approvals", nil, nil)
	for _, want := range []string{"Grant: write on shop for 30m", "nightly backfill", `id="ap-` + g.ID + `"`, `value="approve"`} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("inbox:\n%s", body)
	}
}

func TestXSSEscaped(t *testing.T) {
	e := newUIEnv(t, nil)
	evil := `<script>alert("x")</script>`
	req := sampleRequest(&gate.Identity{Issuer: "https://agents.example", Subject: `agent"><img src=x onerror=alert(1)>`, Groups: []string{evil}})
	req.Command.Text = "select '</code></pre>" + evil + "' from t -- " + evil + "\nwhere a = \"" + evil + "\""
	req.Command.Params = []string{evil}
	req.Command.ParamNulls = nil
	req.Command.Request.Reason = evil
	req.Command.Request.TraceID = evil
	req.Command.Class.Notes = []string{evil}
	req.Decision.Message = evil
	req.Impact.Plan = evil
	req.Context[0].Command.Text = evil
	req.Context[0].Outcome.Error = evil
	a := e.Appr.add(req, time.Hour)
	alice := e.signIn(t)
	for _, path := range []string{"/approvals", "/approvals/" + a.ID} {
		_, body := do(t, alice, "GET", e.Srv.URL+path, nil, nil)
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || strings.Contains(body, "</code></pre><script") {
			t.Fatalf("GET %s: unescaped markup:\n%s", path, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Fatalf("GET %s: the escaped text is missing:\n%s", path, body)
		}
	}
	// The event stream's card is rendered by the same templates.
	card, err := e.Web.ui.cardHTML(a, nil)
	if err != nil || strings.Contains(card, "<script>alert") || !strings.Contains(card, "&lt;script&gt;") {
		t.Fatalf("card (%v):\n%s", err, card)
	}
	// And no page allows inline script.
	resp, _ := do(t, alice, "GET", e.Srv.URL+"/approvals", nil, nil)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP = %q", csp)
	}
}

func TestSessionsPages(t *testing.T) {
	e := newUIEnv(t, func(c *Config) { c.Auditors = mustPrincipals("group:dba") })
	alice := e.signIn(t)
	_, body := do(t, alice, "GET", e.Srv.URL+"/sessions?connection=shop", nil, nil)
	for _, want := range []string{`href="/sessions/s_1"`, "agent-1", "client terminated", `href="/sessions" aria-current="page"`} {
		if !strings.Contains(body, want) {
			t.Errorf("sessions page: missing %q", want)
		}
	}
	_, body = do(t, alice, "GET", e.Srv.URL+"/sessions?connection=other", nil, nil)
	if strings.Contains(body, `href="/sessions/s_1"`) || !strings.Contains(body, "No sessions match") {
		t.Errorf("filter ignored:\n%s", body)
	}
	_, body = do(t, alice, "GET", e.Srv.URL+"/sessions/s_1", nil, nil)
	order := []string{"#1", `<span class="k">SELECT</span> *`, "SELECT 2", "email × 2", "a***@example.com",
		"#2", "no-ddl", "no DDL here", "#3", `href="/approvals/ap_9"`, "approved by bob", "DELETE 1"}
	at := 0
	for _, want := range order {
		i := strings.Index(body[at:], want)
		if i < 0 {
			t.Fatalf("replay: %q missing or out of order:\n%s", want, body)
		}
		at += i
	}
	if resp, _ := do(t, alice, "GET", e.Srv.URL+"/sessions/nope", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown session: %d", resp.StatusCode)
	}
	// Not an admin or auditor: refused, and no Sessions link.
	e.Issuer.SetLoginClaims(map[string]any{"sub": "mallory"})
	mallory := e.signIn(t)
	resp, _ := do(t, mallory, "GET", e.Srv.URL+"/sessions", nil, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("stranger reading sessions: %d", resp.StatusCode)
	}
	if _, body := do(t, mallory, "GET", e.Srv.URL+"/approvals", nil, nil); strings.Contains(body, `href="/sessions"`) {
		t.Error("stranger sees the Sessions link")
	}
}

func TestStaticAssets(t *testing.T) {
	e := newUIEnv(t, nil)
	for path, want := range map[string]string{"/static/app.js": "EventSource", "/static/app.css": ".card"} {
		resp, body := do(t, e.Srv.Client(), "GET", e.Srv.URL+path, nil, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, want) || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header)
		}
	}
}
