package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Grants are requests for time-bound access ("write on shop for 30m"). A
// bot asks with its own token; approvers decide the request like any
// other (it is an approval whose Request.Grant is set, and it shows in the
// inbox); while approved, identity.grants holds "connection:access".

// GrantRequest is the body of POST /api/grants.
type GrantRequest struct {
	Connection string `json:"connection"`
	Access     string `json:"access"`
	Duration   string `json:"duration"` // Go duration: "30m", "2h"
	Reason     string `json:"reason"`
}

// maxReason bounds a grant's reason, as maxComment bounds a comment.
const maxReason = 2000

// grantStatusActive is the extra status filter of GET /api/grants:
// approved and within its time window now.
const grantStatusActive = "active"

func (s *Server) routeGrantsAPI() {
	s.mux.HandleFunc("POST /api/grants", s.bearer(s.requestGrant))
	s.mux.HandleFunc("GET /api/grants", s.bearer(s.listGrants))
	s.mux.HandleFunc("POST /api/grants/{id}/revoke", s.bearer(s.revokeGrant))
}

// spec validates a grant request's shape; the approval service checks the
// rest (the connection exists, the access is known, the duration is within
// the connection's max_grant).
func (g *GrantRequest) spec() (gate.GrantSpec, string) {
	g.Connection, g.Access, g.Reason = strings.TrimSpace(g.Connection), strings.TrimSpace(g.Access), strings.TrimSpace(g.Reason)
	switch {
	case g.Connection == "":
		return gate.GrantSpec{}, `"connection" is required: the configured connection to be granted access to, e.g. "shop"`
	case g.Access == "" || strings.ContainsFunc(g.Access, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }):
		return gate.GrantSpec{}, `"access" is required: a lower-case access level such as "write"`
	case g.Duration == "":
		return gate.GrantSpec{}, `"duration" is required: how long the grant lasts once approved, e.g. "30m"`
	case g.Reason == "":
		return gate.GrantSpec{}, `"reason" is required: approvers decide on it`
	case len(g.Reason) > maxReason:
		return gate.GrantSpec{}, `"reason" is too long (at most 2000 bytes)`
	}
	d, err := time.ParseDuration(g.Duration)
	if err != nil || d <= 0 {
		return gate.GrantSpec{}, `"duration" must be a positive Go duration such as "30m" or "2h", not ` + `"` + g.Duration + `"`
	}
	return gate.GrantSpec{Connection: g.Connection, Access: g.Access, Duration: d, Reason: g.Reason}, ""
}

// requestGrant serves POST /api/grants: any authenticated identity asks
// for itself. 201 with the pending approval (its id and url).
func (s *Server) requestGrant(w http.ResponseWriter, r *http.Request, id *gate.Identity) {
	var body GrantRequest
	if !decodeBody(w, r, &body) {
		return
	}
	spec, msg := body.spec()
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	a, err := s.cfg.Approvals.RequestGrant(r.Context(), id, spec)
	if err != nil {
		code, msg := grantErrorStatus(err)
		s.log.Warn("grant request refused", "identity", id.String(), "connection", spec.Connection, "access", spec.Access, "err", err)
		writeError(w, code, msg)
		return
	}
	s.log.Info("grant requested", "id", a.ID, "identity", id.String(), "grant", spec.Key(), "duration", spec.Duration)
	writeJSON(w, http.StatusCreated, withURL(r, a))
}

// listGrants serves GET /api/grants?status=&connection=&sub=&limit=,
// status being an approval status or "active". The reading rule is the
// approvals' rule: a bot sees its own grants.
func (s *Server) listGrants(w http.ResponseWriter, r *http.Request, id *gate.Identity) {
	q := r.URL.Query()
	status := q.Get("status")
	f := gate.ApprovalFilter{}
	if status == grantStatusActive {
		f.Status = gate.ApprovalApproved
	} else if st, ok := parseStatus(status); ok {
		f.Status = st
	} else {
		writeError(w, http.StatusBadRequest, "status must be one of active, pending, approved, denied, expired, cancelled, used")
		return
	}
	limit, ok := parseLimit(q.Get("limit"))
	if !ok {
		writeError(w, http.StatusBadRequest, "limit must be an integer from 1 to 1000")
		return
	}
	// The port filters by status only; list generously, filter here.
	f.Limit = 1000
	list, err := s.visibleApprovals(r, id, f)
	if err != nil {
		s.log.Error("listing grants", "err", err)
		writeError(w, http.StatusInternalServerError, "the approval service failed: "+err.Error())
		return
	}
	now := s.clock.Now()
	out := []*gate.Approval{}
	for _, a := range list {
		g := a.Request.Grant
		switch {
		case g == nil,
			q.Get("connection") != "" && g.Connection != q.Get("connection"),
			q.Get("sub") != "" && (a.Request.Identity == nil || a.Request.Identity.Subject != q.Get("sub")),
			status == grantStatusActive && (now.Before(g.Starts) || !now.Before(g.Ends)):
			continue
		}
		out = append(out, withURL(r, a))
		if len(out) == limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"grants": out})
}

// revokeGrant serves POST /api/grants/{id}/revoke with an optional
// {"comment": "..."}. Allowed: access.admins, the default approvers, the
// grant's own approvers (its ReviewSpec) and its requester (withdrawing a
// pending request, or giving an active grant up early). Approvals.Revoke
// has the last word and may refuse further.
func (s *Server) revokeGrant(w http.ResponseWriter, r *http.Request, id *gate.Identity) {
	var body CommentRequest
	if !decodeBody(w, r, &body) {
		return
	}
	aid := r.PathValue("id")
	a, err := s.cfg.Approvals.Get(r.Context(), aid)
	if err != nil {
		code, msg := approvalErrorStatus(err, "revoke", aid, id)
		writeError(w, code, msg)
		return
	}
	if !s.mayRevoke(a, id) {
		writeError(w, http.StatusForbidden, "forbidden: "+id.String()+" may not revoke grant "+a.ID+
			" (access.admins, the default approvers, the grant's approvers and its requester may)")
		return
	}
	if a.Request.Grant == nil {
		writeError(w, http.StatusBadRequest, "request "+a.ID+" is not a grant request (deny it with POST /api/approvals/"+a.ID+"/deny)")
		return
	}
	comment := strings.TrimSpace(body.Comment)
	if len(comment) > maxComment {
		writeError(w, http.StatusBadRequest, "the comment is too long (at most 2000 bytes)")
		return
	}
	a, err = s.cfg.Approvals.Revoke(r.Context(), a.ID, id, comment)
	if err != nil {
		code, msg := approvalErrorStatus(err, "revoke", aid, id)
		if code == http.StatusInternalServerError {
			s.log.Error("revoking a grant", "err", err)
		}
		writeError(w, code, msg)
		return
	}
	s.log.Info("grant revoked", "id", a.ID, "by", id.String(), "status", a.Status)
	writeJSON(w, http.StatusOK, withURL(r, a))
}

func (s *Server) mayRevoke(a *gate.Approval, id *gate.Identity) bool {
	if s.cfg.Admins.Match(id) || s.cfg.Approvers.Match(id) {
		return true
	}
	if rs := a.Request.Decision.Review; rs != nil {
		if ps, err := gate.ParsePrincipals(rs.Approvers); err == nil && ps.Match(id) {
			return true
		}
	}
	return isRequester(a, id)
}
