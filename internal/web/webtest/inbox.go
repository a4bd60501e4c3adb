package webtest

import (
	"context"
	"strconv"

	"github.com/chromedp/chromedp"
)

// Page helpers for the inbox (/approvals) and sign-in pages. They use the
// page's stable hooks: #inbox, #live, [data-approval="ID"] cards, the
// comment textarea and the approve/deny buttons of each card's form, and
// the .whoami header.

// card is the CSS selector of request id's card.
func card(id string) string { return `[data-approval=` + strconv.Quote(id) + `]` }

// OpenInbox opens the inbox at baseURL (the server's root URL). A browser
// that is not signed in goes through the server's sign-in and back; with
// the testenv issuer, which signs its user in without asking, that is the
// whole OIDC round trip. It returns once the page's live stream is
// connected, so requests made after it appear without reloading.
func (b *Browser) OpenInbox(baseURL string) {
	b.t.Helper()
	b.Open(baseURL + "/approvals")
	b.WaitVisible("#inbox")
	b.WaitLive()
}

// WaitLive waits until the page's event stream is connected.
func (b *Browser) WaitLive() {
	b.t.Helper()
	b.WaitTrue("the live stream to connect", `document.getElementById("live") && document.getElementById("live").textContent === "Live"`)
}

// DevSignIn signs in on the development sign-in form (identity.dev) as
// subject with groups (comma separated) and waits for the inbox.
func (b *Browser) DevSignIn(baseURL, subject, groups string) {
	b.t.Helper()
	b.Open(baseURL + "/login?next=/approvals")
	b.do("dev sign-in as "+subject,
		chromedp.SendKeys(chromedp.CSS("#subject"), subject),
		chromedp.SendKeys(chromedp.CSS("#groups"), groups),
		chromedp.Click(chromedp.CSS("form.devlogin button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#inbox")))
	b.WaitLive()
}

// SignedInAs returns who the page header says is signed in.
func (b *Browser) SignedInAs() string {
	b.t.Helper()
	return b.Text(".whoami")
}

// WaitRequest waits until request id's card shows.
func (b *Browser) WaitRequest(id string) {
	b.t.Helper()
	b.WaitVisible(card(id))
}

// WaitAnyRequest waits until the inbox shows a request and returns the id
// of the first card, for tests that do not know the id in advance (the
// agent's statement was held somewhere in the gateway).
func (b *Browser) WaitAnyRequest() string {
	b.t.Helper()
	b.WaitVisible("#inbox [data-approval]")
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#inbox [data-approval]").getAttribute("data-approval")`))
	if err != nil {
		b.fail("read the first request's id", err)
	}
	return id
}

// RequestText returns the visible text of request id's card.
func (b *Browser) RequestText(id string) string {
	b.t.Helper()
	return b.Text(card(id))
}

// Decide types comment on request id's card and presses Approve or Deny.
// It does not wait for the outcome: follow with WaitRequestGone, or
// FormError when a refusal is expected.
func (b *Browser) Decide(id string, approve bool, comment string) {
	b.t.Helper()
	button := "deny"
	if approve {
		button = "approve"
	}
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(card(id) + " form[data-decide]"))}
	if comment != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(card(id)+" textarea[name=comment]"), comment))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(card(id)+` button[value="`+button+`"]`)))
	b.do(button+" "+id, steps...)
}

// FormError waits for the error on request id's decision form and
// returns it.
func (b *Browser) FormError(id string) string {
	b.t.Helper()
	sel := card(id) + " .form-error"
	b.WaitVisible(sel)
	return b.Text(sel)
}

// WaitRequestGone waits until request id's card has left the page.
func (b *Browser) WaitRequestGone(id string) {
	b.t.Helper()
	b.WaitGone(card(id))
}
