package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	Event string
	Data  struct {
		sseItem
		Items []sseItem `json:"items"`
	}
}

// sseItem mirrors streamItem for decoding.
type sseItem struct {
	ID       string              `json:"id"`
	Status   gate.ApprovalStatus `json:"status"`
	HTML     string              `json:"html"`
	Approval *apiApproval        `json:"approval"`
}

// stream is an open event stream as a client reads it.
type stream struct {
	t      *testing.T
	events chan sseEvent // closed when the stream ends
}

// openStream opens an event stream.
func openStream(t *testing.T, c *http.Client, req *http.Request) (*http.Response, *stream) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	st := &stream{t: t, events: make(chan sseEvent, 16)}
	go func() {
		defer close(st.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data); err != nil {
					t.Errorf("bad event data %q: %v", line, err)
				}
			case line == "" && ev.Event != "":
				st.events <- ev
				ev = sseEvent{}
			}
		}
	}()
	return resp, st
}

// next returns the next event, failing the test after 10s.
func (s *stream) next() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

// ended reports whether the stream ends (with no further event) within 10s.
func (s *stream) ended() bool {
	select {
	case _, ok := <-s.events:
		return !ok
	case <-time.After(10 * time.Second):
		return false
	}
}

func TestAPIEventStream(t *testing.T) {
	e := newUIEnv(t, nil)
	first := e.Appr.add(sampleRequest(agentID), time.Hour)
	req, _ := http.NewRequest("GET", e.Srv.URL+"/api/approvals/events", nil)
	req.Header.Set("Authorization", "Bearer approver")
	resp, st := openStream(t, e.Srv.Client(), req)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ev := st.next()
	if ev.Event != "sync" || len(ev.Data.Items) != 1 || ev.Data.Items[0].ID != first.ID {
		t.Fatalf("first event = %+v, want sync with %s", ev, first.ID)
	}
	a := e.Appr.add(sampleRequest(agentID), time.Hour)
	ev = st.next()
	if ev.Event != "approval" || ev.Data.ID != a.ID || ev.Data.Status != gate.ApprovalPending || ev.Data.Approval == nil ||
		ev.Data.Approval.Request.Command.Request.Reason != "customer 42 asked to erase cancelled orders" {
		t.Fatalf("new request event = %+v", ev)
	}
	if code, body := e.api(t, "POST", "/api/approvals/"+a.ID+"/approve", "approver", ""); code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	if ev = st.next(); ev.Event != "approval" || ev.Data.ID != a.ID || ev.Data.Status != gate.ApprovalApproved {
		t.Fatalf("decided event = %+v", ev)
	}

	// Without a token: 401, no stream.
	if code, _ := e.api(t, "GET", "/api/approvals/events", "", ""); code != 401 {
		t.Fatalf("stream without token: %d", code)
	}
}

func TestEventStreamVisibility(t *testing.T) {
	e := newUIEnv(t, nil)
	req, _ := http.NewRequest("GET", e.Srv.URL+"/api/approvals/events", nil)
	req.Header.Set("Authorization", "Bearer other") // mallory: may read nothing
	_, st := openStream(t, e.Srv.Client(), req)
	if ev := st.next(); ev.Event != "sync" || len(ev.Data.Items) != 0 {
		t.Fatalf("sync = %+v", ev)
	}
	e.Appr.add(sampleRequest(agentID), time.Hour) // not for mallory: no event
	mine := e.Appr.add(sampleRequest(e.Tokens["other"]), time.Hour)
	if ev := st.next(); ev.Data.ID != mine.ID {
		t.Fatalf("mallory got %+v, want only her own request %s", ev, mine.ID)
	}
}

func TestInboxEventStream(t *testing.T) {
	e := newUIEnv(t, nil)
	alice := e.signIn(t)
	req, _ := http.NewRequest("GET", e.Srv.URL+"/approvals/events", nil)
	_, st := openStream(t, alice, req)
	if ev := st.next(); ev.Event != "sync" || len(ev.Data.Items) != 0 {
		t.Fatalf("sync = %+v", ev)
	}
	a := e.Appr.add(sampleRequest(agentID), time.Hour)
	ev := st.next()
	if ev.Data.ID != a.ID || !strings.Contains(ev.Data.HTML, `<article class="card status-pending" id="ap-`+a.ID+`"`) ||
		!strings.Contains(ev.Data.HTML, `name="csrf" value="`) || !strings.Contains(ev.Data.HTML, "customer 42 asked") || ev.Data.Approval != nil {
		t.Fatalf("inbox event = %+v", ev)
	}
	e.Appr.setStatus(a.ID, gate.ApprovalExpired)
	if ev := st.next(); ev.Data.ID != a.ID || ev.Data.Status != gate.ApprovalExpired || ev.Data.HTML != "" {
		t.Fatalf("expired event = %+v", ev)
	}

	// Without a session the stream is refused (no redirect to a page).
	resp, _ := do(t, e.browser(t), "GET", e.Srv.URL+"/approvals/events", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stream without a session: %d", resp.StatusCode)
	}
}

func TestCloseEndsStreams(t *testing.T) {
	e := newUIEnv(t, nil)
	req, _ := http.NewRequest("GET", e.Srv.URL+"/api/approvals/events", nil)
	req.Header.Set("Authorization", "Bearer approver")
	_, st := openStream(t, e.Srv.Client(), req)
	st.next()
	e.Web.Close()
	if !st.ended() {
		t.Fatal("the stream did not end after Close")
	}
	if !e.Appr.waitSubscribers(0) {
		t.Fatal("the stream's subscription was not ended")
	}
}
