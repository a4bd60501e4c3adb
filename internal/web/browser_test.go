package web

import (
	"flag"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

var screenshot = flag.Bool("screenshot", false, "save the inbox as testdata/inbox.png (TestBrowserInbox)")

// TestBrowserInbox drives the UI in headless chromium: sign in through the
// OIDC flow, watch requests arrive live, approve one with a comment, and
// see requests leave when decided here or elsewhere.
func TestBrowserInbox(t *testing.T) {
	b := webtest.NewBrowser(t)
	e := newUIEnv(t, nil)
	b.OpenInbox(e.Srv.URL) // through /login/oidc, the issuer and /auth/callback
	if who := b.SignedInAs(); who != "alice (alice@example.com)" {
		t.Fatalf("signed in as %q", who)
	}
	if got := b.Location(); got != e.Srv.URL+"/approvals" {
		t.Fatalf("after sign-in at %s", got)
	}

	// Requests made after the page loaded appear without a reload.
	a := e.Appr.add(sampleRequest(agentID), 10*time.Minute)
	if got := b.WaitAnyRequest(); got != a.ID {
		t.Fatalf("first request in the inbox is %q, want %q", got, a.ID)
	}
	text := b.RequestText(a.ID)
	for _, want := range []string{"DELETE FROM orders", "customer 42 asked to erase cancelled orders", "agent-1", "3 rows exactly"} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q:\n%s", want, text)
		}
	}
	// The countdown runs in the page.
	b.WaitTrue("the countdown to tick", `/^(9m [0-5]?\d|10m 0)s left$/.test(document.querySelector('[data-approval="`+a.ID+`"] .countdown').textContent)`)
	g, err := e.Appr.RequestGrant(t.Context(), agentID, gate.GrantSpec{Connection: "shop", Access: "write", Duration: 30 * time.Minute, Reason: "backfill order totals for March"})
	if err != nil {
		t.Fatal(err)
	}
	b.WaitRequest(g.ID)
	if *screenshot {
		b.Screenshot("testdata/inbox.png")
	}

	// Deny needs a comment: the page says so and nothing is sent.
	b.Decide(g.ID, false, "")
	if msg := b.FormError(g.ID); !strings.Contains(msg, "comment is required") {
		t.Fatalf("form error = %q", msg)
	}
	if got, _ := e.Appr.Get(t.Context(), g.ID); got.Status != gate.ApprovalPending {
		t.Fatalf("grant is %s after an empty deny", got.Status)
	}

	// Approve with a comment: the request leaves the inbox.
	b.Decide(a.ID, true, "checked the count first")
	b.WaitRequestGone(a.ID)
	got, _ := e.Appr.Get(t.Context(), a.ID)
	if got.Status != gate.ApprovalApproved || len(got.Votes) != 1 || got.Votes[0].Comment != "checked the count first" ||
		got.Votes[0].Subject != "alice" {
		t.Fatalf("after approving in the browser: %s %+v", got.Status, got.Votes)
	}

	// Decided elsewhere (the API, another approver): it leaves too.
	if code, body := e.api(t, "POST", "/api/approvals/"+g.ID+"/deny", "approver", `{"comment":"not this week"}`); code != 200 {
		t.Fatalf("deny by API: %d %s", code, body)
	}
	b.WaitRequestGone(g.ID)
	b.WaitVisible("#empty")
}

// TestBrowserDevSignIn signs in on the development form.
func TestBrowserDevSignIn(t *testing.T) {
	b := webtest.NewBrowser(t)
	e := newUIEnv(t, func(c *Config) { c.UI = UIConfig{Dev: true} })
	b.DevSignIn(e.Srv.URL, "carol", "dba, platform")
	if who := b.SignedInAs(); who != "carol" {
		t.Fatalf("signed in as %q", who)
	}
	if banner := b.Text(".devbanner"); !regexp.MustCompile(`identities are not verified`).MatchString(banner) {
		t.Fatalf("dev banner = %q", banner)
	}
	a := e.Appr.add(sampleRequest(agentID), time.Minute)
	b.WaitRequest(a.ID)
	b.Decide(a.ID, false, "use a narrower WHERE")
	b.WaitRequestGone(a.ID)
	if got, _ := e.Appr.Get(t.Context(), a.ID); got.Status != gate.ApprovalDenied || got.Votes[0].By != "carol" {
		t.Fatalf("after denying: %s %+v", got.Status, got.Votes)
	}
}
