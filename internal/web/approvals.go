package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Who may read approvals (the API and the UI apply the same rule):
//
//   - access.admins, access.auditors and the default approvers
//     (Config.Approvers) read every approval;
//   - anyone else reads the approvals they may decide now
//     (Approvals.CanDecide) and the ones they requested themselves (same
//     issuer and subject), so a bot can follow its own grant request.
//
// Deciding is always up to Approvals.Decide, which knows each request's
// approvers; the web layer only translates its errors.

// readsAllApprovals reports whether id may read every approval.
func (s *Server) readsAllApprovals(id *gate.Identity) bool {
	return s.cfg.Admins.Match(id) || s.cfg.Auditors.Match(id) || s.cfg.Approvers.Match(id)
}

// mayReadApproval applies the rule above to one approval.
func (s *Server) mayReadApproval(a *gate.Approval, id *gate.Identity) bool {
	return s.readsAllApprovals(id) || isRequester(a, id) || s.cfg.Approvals.CanDecide(a, id)
}

// forReader returns a as id may see it. Someone who reads it only as its
// requester (not an approver of it, nor in access.admins,
// access.auditors or the default approvers) gets it without
// Request.Context: the earlier steps are gathered by trace id, which the
// agent chooses, so they may be another identity's statements, parameters
// and result previews. a itself is not changed.
func (s *Server) forReader(a *gate.Approval, id *gate.Identity) *gate.Approval {
	if len(a.Request.Context) == 0 || s.readsAllApprovals(id) || s.cfg.Approvals.CanDecide(a, id) {
		return a
	}
	c := *a
	c.Request.Context = nil
	return &c
}

// isRequester reports whether id asked for a.
func isRequester(a *gate.Approval, id *gate.Identity) bool {
	r := a.Request.Identity
	return r != nil && id != nil && r.Issuer == id.Issuer && r.Subject == id.Subject
}

// visibleApprovals lists with f and keeps what id may read.
func (s *Server) visibleApprovals(r *http.Request, id *gate.Identity, f gate.ApprovalFilter) ([]*gate.Approval, error) {
	list, err := s.cfg.Approvals.List(r.Context(), f)
	if err != nil || s.readsAllApprovals(id) {
		return list, err
	}
	out := list[:0:0]
	for _, a := range list {
		if s.mayReadApproval(a, id) {
			out = append(out, s.forReader(a, id))
		}
	}
	return out, nil
}

func (s *Server) routeApprovalsAPI() {
	s.mux.HandleFunc("GET /api/approvals", s.bearer(s.listApprovals))
	s.mux.HandleFunc("GET /api/approvals/events", s.bearer(s.apiEvents))
	s.mux.HandleFunc("GET /api/approvals/{id}", s.bearer(s.getApproval))
	s.mux.HandleFunc("POST /api/approvals/{id}/approve", s.bearer(s.decideAPI(true)))
	s.mux.HandleFunc("POST /api/approvals/{id}/deny", s.bearer(s.decideAPI(false)))
}

// bearer wraps a handler that needs any authenticated identity.
func (s *Server) bearer(h func(http.ResponseWriter, *http.Request, *gate.Identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if id := s.authenticate(w, r); id != nil {
			h(w, r, id)
		}
	}
}

var approvalStatuses = []gate.ApprovalStatus{gate.ApprovalPending, gate.ApprovalApproved, gate.ApprovalDenied,
	gate.ApprovalExpired, gate.ApprovalCancelled, gate.ApprovalUsed}

func parseStatus(v string) (gate.ApprovalStatus, bool) {
	for _, st := range approvalStatuses {
		if string(st) == v {
			return st, true
		}
	}
	return "", v == ""
}

func parseLimit(v string) (int, bool) {
	if v == "" {
		return 100, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 1 && n <= 1000
}

// listApprovals serves GET /api/approvals?status=&limit=.
func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request, id *gate.Identity) {
	q := r.URL.Query()
	st, ok := parseStatus(q.Get("status"))
	if !ok {
		writeError(w, http.StatusBadRequest, "status must be one of pending, approved, denied, expired, cancelled, used")
		return
	}
	limit, ok := parseLimit(q.Get("limit"))
	if !ok {
		writeError(w, http.StatusBadRequest, "limit must be an integer from 1 to 1000")
		return
	}
	list, err := s.visibleApprovals(r, id, gate.ApprovalFilter{Status: st, Limit: limit})
	if err != nil {
		s.log.Error("listing approvals", "err", err)
		writeError(w, http.StatusInternalServerError, "the approval service failed: "+err.Error())
		return
	}
	out := make([]*gate.Approval, 0, len(list))
	for _, a := range list {
		out = append(out, withURL(r, a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": out})
}

// getApproval serves GET /api/approvals/{id}.
func (s *Server) getApproval(w http.ResponseWriter, r *http.Request, id *gate.Identity) {
	a, ok := s.readableApproval(w, r, id)
	if ok {
		writeJSON(w, http.StatusOK, withURL(r, a))
	}
}

// readableApproval loads {id} and checks id may read it, answering 404,
// 403 or 500 itself.
func (s *Server) readableApproval(w http.ResponseWriter, r *http.Request, id *gate.Identity) (*gate.Approval, bool) {
	aid := r.PathValue("id")
	a, err := s.cfg.Approvals.Get(r.Context(), aid)
	switch {
	case errors.Is(err, gate.ErrNotFound):
		writeError(w, http.StatusNotFound, "no approval request "+strconv.Quote(aid))
		return nil, false
	case err != nil:
		s.log.Error("reading an approval", "err", err)
		writeError(w, http.StatusInternalServerError, "the approval service failed: "+err.Error())
		return nil, false
	case !s.mayReadApproval(a, id):
		writeError(w, http.StatusForbidden, "forbidden: "+id.String()+" is not an approver of "+strconv.Quote(aid)+
			", its requester, nor in access.admins, access.auditors or the default approvers")
		return nil, false
	}
	return s.forReader(a, id), true
}

// CommentRequest is the body of the decide and revoke endpoints.
type CommentRequest struct {
	Comment string `json:"comment"`
}

// decodeBody decodes a small JSON body strictly into v; an empty body
// leaves v as it is. It answers 400 itself.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return false
	}
	return true
}

// decideAPI serves POST /api/approvals/{id}/approve and /deny with
// {"comment": "..."}; deny requires a comment.
func (s *Server) decideAPI(approve bool) func(http.ResponseWriter, *http.Request, *gate.Identity) {
	decision := "deny"
	if approve {
		decision = "approve"
	}
	return func(w http.ResponseWriter, r *http.Request, id *gate.Identity) {
		var body CommentRequest
		if !decodeBody(w, r, &body) {
			return
		}
		_, comment, msg := decisionInput(decision, body.Comment)
		if msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		a, err := s.cfg.Approvals.Decide(r.Context(), r.PathValue("id"), id, approve, comment)
		if err != nil {
			code, msg := approvalErrorStatus(err, "decide", r.PathValue("id"), id)
			if code == http.StatusInternalServerError {
				s.log.Error("deciding an approval", "err", err)
			}
			writeError(w, code, msg)
			return
		}
		s.log.Info("approval decided", "id", a.ID, "by", id.String(), "approve", approve, "status", a.Status)
		writeJSON(w, http.StatusOK, withURL(r, a))
	}
}

// withURL returns a with an absolute URL: when the approval service left
// it empty or relative (no base URL configured), it is completed from the
// request's scheme and Host. a itself is not changed.
func withURL(r *http.Request, a *gate.Approval) *gate.Approval {
	if a.URL != "" && !strings.HasPrefix(a.URL, "/") {
		return a
	}
	c := *a
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := a.URL
	if path == "" {
		path = "/approvals/" + url.PathEscape(a.ID)
	}
	c.URL = scheme + "://" + r.Host + path
	return &c
}
