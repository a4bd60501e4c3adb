package main

// Webhooks end to end: approvals.notify with a JSON receiver, a target
// that always fails, and a Slack-format receiver, in that order. The good
// targets hear of requests created, approved and expired as they happen;
// the failing one delays nobody, and /metrics counts its failures.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/approval"
	"github.com/gatehouse/gatehouse/internal/config"
)

// hookSink is a webhook receiver that keeps what it is sent, or answers
// 500 to everything.
type hookSink struct {
	srv    *httptest.Server
	fail   bool
	mu     sync.Mutex
	bodies [][]byte
}

func newHookSink(t *testing.T, fail bool) *hookSink {
	h := &hookSink{fail: fail}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.mu.Unlock()
		if h.fail || r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "no", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// name is the target's label in metrics: its URL's host.
func (h *hookSink) name() string {
	u, _ := url.Parse(h.srv.URL)
	return u.Host
}

func (h *hookSink) received() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...)
}

// event waits for the JSON event (e.g. "approval.created") of request id.
func (h *hookSink) event(t *testing.T, event, id string) approval.Webhook {
	t.Helper()
	var found approval.Webhook
	poll(t, "webhook "+event+" of "+id, func() (bool, string) {
		var seen []string
		for _, b := range h.received() {
			var w approval.Webhook
			if err := json.Unmarshal(b, &w); err != nil {
				t.Fatalf("webhook body is not JSON: %v\n%s", err, b)
			}
			if w.Event == event && w.ID == id {
				found = w
				return true, ""
			}
			seen = append(seen, w.Event+" "+w.ID)
		}
		return false, fmt.Sprintf("received %v", seen)
	})
	return found
}

// slackText waits for the Slack message whose fallback text starts with
// headline and names request id.
func (h *hookSink) slackText(t *testing.T, headline, id string) string {
	t.Helper()
	var found string
	poll(t, "Slack message "+headline+" of "+id, func() (bool, string) {
		var seen []string
		for _, b := range h.received() {
			var m struct {
				Text   string `json:"text"`
				Blocks []struct {
					Type string `json:"type"`
				} `json:"blocks"`
			}
			if err := json.Unmarshal(b, &m); err != nil || len(m.Blocks) == 0 {
				t.Fatalf("not a Slack message: %v\n%s", err, b)
			}
			if strings.HasPrefix(m.Text, headline) && strings.Contains(m.Text, id) {
				found = string(b)
				return true, ""
			}
			seen = append(seen, m.Text)
		}
		return false, fmt.Sprintf("received %q", seen)
	})
	return found
}

func TestE2EApprovalWebhooks(t *testing.T) {
	t.Parallel()
	good, failing, slack := newHookSink(t, false), newHookSink(t, true), newHookSink(t, false)
	const timeout = 4 * time.Second
	ag := newApprovalGateway(t, apOpts{timeout: timeout, notify: []config.Notify{
		{URL: good.srv.URL + "/hook", Format: "json"},
		{URL: failing.srv.URL + "/hook", Format: "json"},
		{URL: slack.srv.URL + "/services/T000/B000/XXX", Format: "slack"},
	}})
	series := func(h *hookSink, result string) string {
		return fmt.Sprintf(`gatehouse_approval_webhooks_total{result=%q,target=%q}`, result, h.name())
	}
	a := ag.agent(t, "agent-1", groupAgents)

	// Created, then approved.
	res := a.start(bigWrite)
	id, link := a.held(t, res)
	created := good.event(t, "approval.created", id)
	if created.Status != "pending" || created.URL != link || created.Statement != bigWrite || created.Identity.Subject != "agent-1" ||
		created.Connection != "shop" || created.Rule != "big-writes" || created.Kind != "statement" || created.Required != 1 ||
		len(created.Approvers) != 1 || created.Approvers[0] != "group:dba" || created.Impact == nil || created.Impact.EstimatedRows < 100 {
		t.Fatalf("created event: %+v", created)
	}
	ag.approve(t, id, "dba-1", "planned archiving")
	if r := outcome(t, res); r.err != nil {
		t.Fatalf("approved statement: %v", r.err)
	}
	approved := good.event(t, "approval.approved", id)
	if approved.Status != "approved" || len(approved.Votes) != 1 || approved.Votes[0].By != "dba-1" || approved.Votes[0].Comment != "planned archiving" {
		t.Fatalf("approved event: %+v", approved)
	}
	slack.slackText(t, ":hourglass_flowing_sand: Approval requested", id)
	msg := slack.slackText(t, ":white_check_mark: Approved", id)
	if !strings.Contains(msg, "planned archiving") || !strings.Contains(msg, link) {
		t.Fatalf("Slack approval message lacks the comment or the link:\n%s", msg)
	}
	// The failing target sits between the two: its retries (1s, 2s, 4s...)
	// have not given its first event up, yet both others have everything.
	poll(t, "the failing target to be tried and retried", func() (bool, string) {
		n := ag.metric(t, series(failing, "retried"))
		return n >= 1 && len(failing.received()) >= 2, fmt.Sprintf("retried %v, %d attempts", n, len(failing.received()))
	})
	if n := ag.metric(t, series(failing, "failed")); n > 0 {
		t.Fatalf("the failing target gave up already (%v): its retries cannot have taken so long", n)
	}

	// Created, then expired: nobody decides.
	res = a.start(payWrite, "shipped")
	id2, _ := a.held(t, res)
	good.event(t, "approval.created", id2)
	r := outcome(t, res)
	wantPgError(t, r.err, "undecided statement", "42501", "approval timed out")
	if expired := good.event(t, "approval.expired", id2); expired.Status != "expired" || len(expired.Votes) != 0 {
		t.Fatalf("expired event: %+v", expired)
	}
	slack.slackText(t, ":alarm_clock: Expired undecided", id2)
	for _, b := range good.received() {
		if strings.Contains(string(b), "shipped") {
			t.Fatalf("a webhook carries a parameter value:\n%s", b)
		}
	}
	if n := ag.metric(t, series(good, "delivered")); n < 4 {
		t.Fatalf("%s = %v, want at least 4", series(good, "delivered"), n)
	}

	// Six attempts with 1+2+4+8+16 s between them: the failing target's
	// first event is given up about 31 s after it was made, and counted.
	deadline := time.Now().Add(90 * time.Second)
	for ag.metric(t, series(failing, "failed")) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%s never counted; %d attempts", series(failing, "failed"), len(failing.received()))
		}
		time.Sleep(250 * time.Millisecond) // polling /metrics
	}
	t.Logf("failing target: %d attempts, %v retried, %v failed", len(failing.received()),
		ag.metric(t, series(failing, "retried")), ag.metric(t, series(failing, "failed")))
}
