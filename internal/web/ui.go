package web

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// ui is the browser side of the server: sign-in, inbox, approval pages,
// sessions and replay. Pages use the sealed session cookie; the JSON API
// never does.
type ui struct {
	s      *Server
	cfg    UIConfig
	seal   *sealer
	tmpl   *templates
	oidc   oidcClient
	static http.Handler
}

func newUI(s *Server, cfg UIConfig) (*ui, error) {
	if cfg.Issuer != "" && (cfg.ClientID == "" || cfg.Claims == nil) {
		return nil, errors.New("web: UI.Issuer needs UI.ClientID and UI.Claims (identity.FromClaims)")
	}
	if cfg.RedirectURL != "" && !strings.HasSuffix(cfg.RedirectURL, callbackPath) {
		return nil, errors.New("web: UI.RedirectURL must end in " + callbackPath)
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"email", "profile"}
	}
	if cfg.DevIssuer == "" {
		cfg.DevIssuer = "gatehouse-dev"
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	key := cfg.SessionKey
	if key == nil {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
		s.log.Info("web UI: no session key configured; sign-ins last until this process stops and are not shared between replicas")
	}
	seal, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	u := &ui{s: s, cfg: cfg, seal: seal, tmpl: t}
	u.static = u.staticHandler()
	return u, nil
}

func (s *Server) routeUI() {
	u := s.ui
	s.mux.Handle("GET /static/", u.static)
	s.mux.HandleFunc("GET /login", u.login)
	s.mux.HandleFunc("GET /login/oidc", u.loginOIDC)
	s.mux.HandleFunc("GET "+callbackPath, u.callback)
	if u.cfg.Dev {
		s.mux.HandleFunc("POST /login/dev", u.loginDev)
	}
	s.mux.HandleFunc("POST /logout", u.page(u.logout))
	s.mux.HandleFunc("GET /{$}", u.page(func(w http.ResponseWriter, r *http.Request, v *viewer) {
		to := "/sessions"
		if s.cfg.Approvals != nil {
			to = "/approvals"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	}))
	s.mux.HandleFunc("GET /sessions", u.page(u.sessionsPage))
	s.mux.HandleFunc("GET /sessions/{id}", u.page(u.sessionPage))
	if s.cfg.Approvals != nil {
		s.mux.HandleFunc("GET /approvals", u.page(u.inbox))
		s.mux.HandleFunc("GET /approvals/{id}", u.page(u.approvalPage))
		s.mux.HandleFunc("POST /approvals/{id}/decide", u.page(u.decide))
		s.mux.HandleFunc("GET /approvals/events", u.events)
	}
}

// page wraps a handler that needs a signed-in user. Without one, a GET
// goes to sign-in and comes back; other methods get 401. A POST must carry
// the session's CSRF token.
func (u *ui) page(h func(http.ResponseWriter, *http.Request, *viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss := u.currentSession(r)
		if ss == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.refuse(w, r, nil, http.StatusUnauthorized, "Your sign-in has expired. Sign in again and retry.")
			return
		}
		v := u.viewer(ss)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !u.seal.checkCSRF(r, sessionBinding(ss)) {
				u.s.log.Warn("web: CSRF check failed", "identity", v.ID.String(), "path", r.URL.Path)
				u.refuse(w, r, v, http.StatusForbidden, "The form's security token is missing or wrong (reload the page and try again).")
				return
			}
		}
		h(w, r, v)
	}
}

func (u *ui) viewer(ss *session) *viewer {
	id := ss.identity()
	return &viewer{ID: id, CSRF: u.seal.csrfToken(sessionBinding(ss)), Dev: ss.Dev,
		Sessions: u.s.cfg.Admins.Match(id) || u.s.cfg.Auditors.Match(id)}
}

// wantsJSON reports whether the page's script made the request.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// refuse answers a form post with an error, as JSON to scripts.
func (u *ui) refuse(w http.ResponseWriter, r *http.Request, v *viewer, code int, msg string) {
	if wantsJSON(r) {
		writeError(w, code, msg)
		return
	}
	u.message(w, r, v, code, http.StatusText(code), msg)
}

// inbox serves GET /approvals: the pending requests the viewer may see.
func (u *ui) inbox(w http.ResponseWriter, r *http.Request, v *viewer) {
	list, err := u.s.visibleApprovals(r, v.ID, gate.ApprovalFilter{Status: gate.ApprovalPending, Limit: inboxLimit})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	sortInbox(list)
	now := u.s.clock.Now()
	iv := &inboxView{Reader: u.s.readsAllApprovals(v.ID)}
	for _, a := range list {
		iv.Items = append(iv.Items, newApprovalView(u.s.cfg.Approvals, a, v, now, false))
	}
	u.render(w, r, http.StatusOK, "inbox", &page{Title: "Inbox", Nav: "inbox", V: v, View: iv})
}

// inboxLimit bounds the pending requests shown at once.
const inboxLimit = 500

// approvalPage serves GET /approvals/{id}, the URL agents are given.
func (u *ui) approvalPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	a, ok := u.loadApproval(w, r, v)
	if !ok {
		return
	}
	av := newApprovalView(u.s.cfg.Approvals, a, v, u.s.clock.Now(), true)
	u.render(w, r, http.StatusOK, "approval", &page{Title: "Request " + a.ID, Nav: "inbox", V: v, View: av})
}

// loadApproval reads {id} and checks the viewer may see it, answering
// 404 or 403 itself.
func (u *ui) loadApproval(w http.ResponseWriter, r *http.Request, v *viewer) (*gate.Approval, bool) {
	id := r.PathValue("id")
	a, err := u.s.cfg.Approvals.Get(r.Context(), id)
	switch {
	case errors.Is(err, gate.ErrNotFound):
		u.refuse(w, r, v, http.StatusNotFound, "There is no approval request "+id+".")
		return nil, false
	case err != nil:
		u.fail(w, r, err)
		return nil, false
	case !u.s.mayReadApproval(a, v.ID):
		u.refuse(w, r, v, http.StatusForbidden, v.ID.String()+" may not see request "+id+
			": it is for its approvers, access.admins, access.auditors and the default approvers.")
		return nil, false
	}
	return u.s.forReader(a, v.ID), true
}

// decide serves POST /approvals/{id}/decide (fields decision=approve|deny
// and comment). The page's script posts it with Accept: application/json
// and gets the approval back; without script it redirects to the request.
func (u *ui) decide(w http.ResponseWriter, r *http.Request, v *viewer) {
	approve, comment, msg := decisionInput(r.PostFormValue("decision"), r.PostFormValue("comment"))
	if msg != "" {
		u.refuse(w, r, v, http.StatusBadRequest, msg)
		return
	}
	a, err := u.s.cfg.Approvals.Decide(r.Context(), r.PathValue("id"), v.ID, approve, comment)
	if err != nil {
		code, msg := approvalErrorStatus(err, "decide", r.PathValue("id"), v.ID)
		if code == http.StatusInternalServerError {
			u.s.log.Error("web: deciding an approval", "err", err)
		}
		u.refuse(w, r, v, code, msg)
		return
	}
	u.s.log.Info("web: approval decided", "id", a.ID, "by", v.ID.String(), "approve", approve, "status", a.Status)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, a)
		return
	}
	next := localPath(r.PostFormValue("next"))
	if next == "/" {
		next = "/approvals/" + url.PathEscape(a.ID)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// decisionInput checks a decision: approve or deny, and deny needs a
// comment (the agent is told why). msg is non-empty when input is bad.
func decisionInput(decision, comment string) (approve bool, c, msg string) {
	c = strings.TrimSpace(comment)
	switch decision {
	case "approve":
		approve = true
	case "deny":
		if c == "" {
			return false, c, "A comment is required to deny: the agent is told why."
		}
	default:
		return false, c, `decision must be "approve" or "deny"`
	}
	if len(c) > maxComment {
		return false, c, "the comment is too long (at most 2000 bytes)"
	}
	return approve, c, ""
}

const maxComment = 2000
