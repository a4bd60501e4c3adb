package approval

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hooks is a webhook receiver. Paths:
//
//	/json, /slack  accept everything
//	/flaky         answers 500 to the first attempt of every event, then 200
//	/down          always answers 500
//	/hang          does not answer until release is closed
type hooks struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     map[string][][]byte // accepted bodies by path
	seen    map[string]int      // requests by path
	arrived chan struct{}
	release chan struct{}
}

func newHooks(t *testing.T) *hooks {
	h := &hooks{got: map[string][][]byte{}, seen: map[string]int{}, arrived: make(chan struct{}, 1), release: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/hang" {
			<-h.release
		}
		h.mu.Lock()
		h.seen[r.URL.Path]++
		n := h.seen[r.URL.Path]
		ok := r.URL.Path != "/down" && !(r.URL.Path == "/flaky" && n%2 == 1) && r.Header.Get("Content-Type") == "application/json"
		if ok {
			h.got[r.URL.Path] = append(h.got[r.URL.Path], body)
		}
		h.mu.Unlock()
		select {
		case h.arrived <- struct{}{}:
		default:
		}
		if !ok {
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hooks) target(path, format string) NotifyTarget {
	return NotifyTarget{URL: h.srv.URL + path, Format: format, Name: strings.TrimPrefix(path, "/")}
}

// waitFor blocks until path accepted n bodies, and returns them.
func (h *hooks) waitFor(t *testing.T, path string, n int) [][]byte {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		got := h.got[path]
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-h.arrived:
		case <-deadline:
			t.Fatalf("%s received %d webhooks, want %d", path, len(got), n)
		}
	}
}

// TestWebhooks: created, denied, approved, expired and cancelled events
// reach a JSON and a Slack target; a flaky target gets every event after a
// retry; a target that always fails neither blocks nor loses the others'
// events, and is counted.
func TestWebhooks(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		h := newHooks(t)
		s := e.service(nil, func(c *Config) {
			c.NotifyTries = 3
			c.Notify = []NotifyTarget{h.target("/json", ""), h.target("/slack", "slack"), h.target("/flaky", "json"), h.target("/down", "json")}
		})
		denied := mustRequest(t, s, stmt("DELETE FROM orders WHERE total < 0"))
		mustDecide(t, s, denied.ID, bob, false, "use <archive> & keep")
		approved := mustRequest(t, s, stmt(deleteOrders))
		mustDecide(t, s, approved.ID, alice, true, "")
		expired := mustRequest(t, s, stmt(deleteOrders))
		e.clock.Advance(DefaultTimeout) // the sweep expires it: nobody waits
		wctx, cancel := context.WithCancel(ctx)
		abandoned := mustRequest(t, s, stmt(deleteOrders))
		ch := goWait(wctx, s, abandoned.ID)
		cancel()
		result(t, ch)

		want := []struct {
			event, id, status string
		}{
			{"approval.created", denied.ID, "pending"}, {"approval.denied", denied.ID, "denied"},
			{"approval.created", approved.ID, "pending"}, {"approval.approved", approved.ID, "approved"},
			{"approval.created", expired.ID, "pending"}, {"approval.expired", expired.ID, "expired"},
			{"approval.created", abandoned.ID, "pending"}, {"approval.cancelled", abandoned.ID, "cancelled"},
		}
		for _, path := range []string{"/json", "/flaky"} {
			bodies := h.waitFor(t, path, len(want))
			for i, raw := range bodies {
				var w Webhook
				if err := json.Unmarshal(raw, &w); err != nil {
					t.Fatal(err)
				}
				if w.Event != want[i].event || w.ID != want[i].id || w.Status != want[i].status || w.Version != 1 {
					t.Errorf("%s event %d: %s %s %s, want %+v", path, i, w.Event, w.ID, w.Status, want[i])
				}
				if w.URL != "https://gatehouse.example/approvals/"+w.ID || w.Identity.Subject != "bot-1" || w.Identity.Issuer != "https://idp.example" ||
					w.Connection != "shop" || w.Kind != "statement" || w.Reason != "clean up test orders" || w.Required != 1 ||
					len(w.Approvers) != 1 || w.Approvers[0] != "group:dba" || w.Classification == nil || w.Classification.Kind != "write" ||
					w.Rule != "big-writes" || w.PolicyVersion != "v1" || w.Impact == nil || w.Impact.EstimatedRows != 42 {
					t.Errorf("%s event %d: %s", path, i, raw)
				}
			}
			var d Webhook
			json.Unmarshal(bodies[1], &d)
			if d.Statement != "DELETE FROM orders WHERE total < 0" || len(d.Votes) != 1 || d.Votes[0].Subject != "bob" || d.Votes[0].Comment != "use <archive> & keep" || d.Votes[0].Approve {
				t.Errorf("denied event: %s", bodies[1])
			}
			if strings.Contains(string(bodies[0]), `"params"`) || strings.Contains(string(bodies[0]), "Claims") {
				t.Errorf("webhook leaks parameters or claims: %s", bodies[0])
			}
		}

		slack := h.waitFor(t, "/slack", len(want))
		var m struct {
			Text   string `json:"text"`
			Blocks []struct {
				Type string `json:"type"`
				Text struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"text"`
			} `json:"blocks"`
		}
		if err := json.Unmarshal(slack[1], &m); err != nil {
			t.Fatal(err)
		}
		link := "<https://gatehouse.example/approvals/" + denied.ID + "|"
		if !strings.Contains(m.Text, "Denied") || !strings.Contains(m.Text, link) || len(m.Blocks) != 2 || m.Blocks[0].Type != "section" ||
			!strings.Contains(m.Blocks[0].Text.Text, "total &lt; 0") || !strings.Contains(m.Blocks[0].Text.Text, "use &lt;archive&gt; &amp; keep") ||
			!strings.Contains(m.Blocks[0].Text.Text, link) {
			t.Errorf("slack message: %s", slack[1])
		}

		// The failing target cost nobody anything and is counted.
		n := float64(len(want))
		eventually(t, "the failing target's last event is counted", func() bool { return counter(t, e.reg, "down", "failed") == n })
		for _, c := range []struct {
			target, result string
			want           float64
		}{
			{"json", "delivered", n}, {"slack", "delivered", n}, {"flaky", "delivered", n}, {"flaky", "retried", n},
			{"flaky", "failed", 0}, {"down", "failed", n}, {"down", "retried", 2 * n}, {"down", "delivered", 0},
		} {
			if got := counter(t, e.reg, c.target, c.result); got != c.want {
				t.Errorf("webhooks{target=%s,result=%s} = %v, want %v", c.target, c.result, got, c.want)
			}
		}
	})
}

// eventually polls cond, for states that no event announces (a metric
// counted after the receiver answered, a listener that is down).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWebhookQueueFull: a target that hangs fills its queue; further
// events for it are dropped and counted while requests go on and the
// other target receives everything.
func TestWebhookQueueFull(t *testing.T) {
	e := newEnv(t, "sqlite")
	h := newHooks(t)
	s := e.service(nil, func(c *Config) {
		c.NotifyQueue = 2
		c.Notify = []NotifyTarget{h.target("/hang", "json"), h.target("/json", "json")}
	})
	t.Cleanup(func() { close(h.release) }) // runs before the Service closes
	start := time.Now()
	for range 6 {
		mustRequest(t, s, stmt(deleteOrders))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("six requests took %v with a hanging webhook", d)
	}
	h.waitFor(t, "/json", 6)
	if got := counter(t, e.reg, "hang", "dropped"); got < 3 {
		t.Fatalf("dropped %v events for the hanging target, want at least 3", got)
	}
}

func TestNotifyConfig(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, tc := range []struct {
		n    []NotifyTarget
		want string
	}{
		{[]NotifyTarget{{URL: "ftp://x/y"}}, "http(s) URL"},
		{[]NotifyTarget{{URL: "https://x/y", Format: "teams"}}, `unknown format "teams"`},
	} {
		cfg := e.config(e.st)
		cfg.Notify = tc.n
		if _, err := New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with %+v: %v, want %q", tc.n, err, tc.want)
		}
	}
	cfg := e.config(e.st)
	cfg.Notify = []NotifyTarget{{URL: "https://hooks.example/a"}, {URL: "https://hooks.example/b"}}
	norm, _, err := cfg.normalize()
	if err != nil || norm.Notify[0].Name != "hooks.example" || norm.Notify[1].Name != "hooks.example#2" || norm.Notify[0].Format != "json" {
		t.Fatalf("normalized targets %+v, %v", norm.Notify, err)
	}
}
