package web

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// The sessions list and the replay of one session, from gate.Trail: the
// browser view of GET /api/sessions and /api/sessions/{id}, for the same
// readers (access.admins and access.auditors).

// sessionsPage serves GET /sessions?connection=&sub=&trace_id=.
func (u *ui) sessionsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.Sessions {
		u.message(w, r, v, http.StatusForbidden, "Forbidden", v.ID.String()+" is in neither access.admins nor access.auditors, who may read sessions.")
		return
	}
	q := r.URL.Query()
	sv := &sessionsView{Connection: q.Get("connection"), Subject: q.Get("sub"), TraceID: q.Get("trace_id")}
	list, err := u.s.cfg.Trail.Sessions(r.Context(), gate.SessionFilter{Connection: sv.Connection, Subject: sv.Subject,
		TraceID: sv.TraceID, Limit: 200})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	sv.Sessions = list
	u.render(w, r, http.StatusOK, "sessions", &page{Title: "Sessions", Nav: "sessions", V: v, View: sv})
}

// sessionPage serves GET /sessions/{id}: the steps in order with their
// decisions and results as recorded.
func (u *ui) sessionPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.Sessions {
		u.message(w, r, v, http.StatusForbidden, "Forbidden", v.ID.String()+" is in neither access.admins nor access.auditors, who may read sessions.")
		return
	}
	rec, err := u.s.cfg.Trail.Session(r.Context(), r.PathValue("id"))
	if errors.Is(err, gate.ErrNotFound) {
		u.message(w, r, v, http.StatusNotFound, "Not found", "There is no session "+r.PathValue("id")+".")
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "session", &page{Title: "Session " + rec.ID, Nav: "sessions", V: v,
		View: &sessionView{S: rec, Steps: steps(rec.Steps)}})
}
