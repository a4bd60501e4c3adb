package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// listSessions serves GET /api/sessions?connection=&sub=&trace_id=&since=&limit=.
// since is RFC 3339 or a duration back from now ("1h").
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, _ *gate.Identity) {
	q := r.URL.Query()
	f := gate.SessionFilter{Connection: q.Get("connection"), Subject: q.Get("sub"), TraceID: q.Get("trace_id")}
	if v := q.Get("since"); v != "" {
		t, err := parseSince(v, time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		f.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be an integer from 1 to 1000")
			return
		}
		f.Limit = n
	}
	list, err := s.cfg.Trail.Sessions(r.Context(), f)
	if err != nil {
		s.log.Error("listing sessions", "err", err)
		writeError(w, http.StatusInternalServerError, "reading the audit trail failed: "+err.Error())
		return
	}
	if list == nil {
		list = []gate.SessionSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// getSession serves GET /api/sessions/{id}: the session with its steps.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request, _ *gate.Identity) {
	rec, err := s.cfg.Trail.Session(r.Context(), r.PathValue("id"))
	if errors.Is(err, gate.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no session "+strconv.Quote(r.PathValue("id")))
		return
	}
	if err != nil {
		s.log.Error("reading session", "err", err)
		writeError(w, http.StatusInternalServerError, "reading the audit trail failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errors.New("since must be an RFC 3339 time or a duration such as 1h")
}
