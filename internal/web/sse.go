package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Live updates are server-sent events fed by Approvals.Subscribe. A
// stream opens with one "sync" event listing every pending approval the
// viewer may see (subscribing first, so nothing created meanwhile is
// missed), then sends one "approval" event per change:
//
//	event: sync
//	data: {"items":[{"id":"ap_1","status":"pending","html":"<article ..."}]}
//
//	event: approval
//	data: {"id":"ap_1","status":"approved"}
//
// The browser stream (/approvals/events, session cookie) carries the inbox
// card as html; the API stream (/api/approvals/events, bearer token)
// carries the approval as JSON instead. A pending approval is sent only to
// viewers who may read it; a change of status is sent to a stream that
// showed that approval before, so it can take it away. Streams end after
// maxStream (EventSource reconnects and syncs again, which also rechecks
// the sign-in) and when Server.Close is called.

const (
	maxStream = 10 * time.Minute
	heartbeat = 20 * time.Second
	// writeWait bounds one write to a slow client.
	writeWait = 10 * time.Second
)

// streamItem is one approval in an event.
type streamItem struct {
	ID       string              `json:"id"`
	Status   gate.ApprovalStatus `json:"status"`
	HTML     string              `json:"html,omitempty"`
	Approval *gate.Approval      `json:"approval,omitempty"`
}

// events serves GET /approvals/events for the inbox page.
func (u *ui) events(w http.ResponseWriter, r *http.Request) {
	ss := u.currentSession(r)
	if ss == nil {
		writeError(w, http.StatusUnauthorized, "sign in first")
		return
	}
	v := u.viewer(ss)
	u.s.stream(w, r, v.ID, func(a *gate.Approval) (string, error) { return u.cardHTML(a, v) })
}

// apiEvents serves GET /api/approvals/events for API clients.
func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request, id *gate.Identity) {
	s.stream(w, r, id, nil)
}

// stream writes events for id until the client leaves, maxStream passes or
// the server closes. card renders a pending approval's HTML; nil sends the
// approval itself.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, id *gate.Identity, card func(*gate.Approval) (string, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), maxStream)
	defer cancel()
	events := s.cfg.Approvals.Subscribe(ctx)
	list, err := s.visibleApprovals(r, id, gate.ApprovalFilter{Status: gate.ApprovalPending, Limit: inboxLimit})
	if err != nil {
		s.log.Error("event stream: listing approvals", "err", err)
		writeError(w, http.StatusInternalServerError, "the approval service failed: "+err.Error())
		return
	}
	sortInbox(list)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	shown := map[string]bool{}
	item := func(a *gate.Approval) (streamItem, bool) {
		it := streamItem{ID: a.ID, Status: a.Status}
		if card == nil {
			it.Approval = withURL(r, a)
			return it, true
		}
		html, err := card(a)
		if err != nil {
			s.log.Error("event stream: rendering a card", "id", a.ID, "err", err)
			return it, false
		}
		it.HTML = html
		return it, true
	}
	items := []streamItem{}
	for _, a := range list {
		if it, ok := item(a); ok {
			items = append(items, it)
			shown[a.ID] = true
		}
	}
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		_ = rc.SetWriteDeadline(time.Now().Add(writeWait))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil || !send("sync", map[string]any{"items": items}) {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.live:
			return
		case <-tick.C:
			_ = rc.SetWriteDeadline(time.Now().Add(writeWait))
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			a, ok := s.change(ctx, id, ev, shown[ev.ID])
			if !ok {
				continue
			}
			it := streamItem{ID: ev.ID, Status: ev.Status}
			if a != nil {
				it.Status = a.Status
				if a.Status == gate.ApprovalPending || card == nil {
					if it, ok = item(a); !ok {
						continue
					}
				}
			}
			shown[it.ID] = it.Status == gate.ApprovalPending
			if !send("approval", it) {
				return
			}
		}
	}
}

// change decides whether this viewer gets an event for ev, and returns the
// approval when they may read it (nil when it is gone or not theirs to
// read but was shown to them, so that they can take it away).
func (s *Server) change(ctx context.Context, id *gate.Identity, ev gate.ApprovalEvent, wasShown bool) (*gate.Approval, bool) {
	a, err := s.cfg.Approvals.Get(ctx, ev.ID)
	switch {
	case err != nil:
		return nil, wasShown
	case s.mayReadApproval(a, id):
		return s.forReader(a, id), true
	case a.Status == gate.ApprovalPending:
		return nil, false
	}
	return nil, wasShown
}
