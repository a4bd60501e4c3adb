package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// DevTokenRequest is what POST /dev/token accepts.
type DevTokenRequest struct {
	Subject string   `json:"sub"`
	Groups  []string `json:"groups,omitempty"`
	Email   string   `json:"email,omitempty"`
	TTL     string   `json:"ttl,omitempty"` // Go duration, default 1h
}

// Config wires the admin HTTP server. Auth and Trail are required; every
// other field is optional and leaves its feature out when zero.
type Config struct {
	Auth     gate.Authenticator
	Trail    gate.Trail
	Admins   gate.Principals
	Auditors gate.Principals
	// Approvals is the deciding side of human review. Nil leaves out the
	// approvals and grants API and the inbox.
	Approvals gate.Approvals
	// Approvers are the default approvers: they may read every approval
	// and revoke grants (deciding is up to Approvals.Decide).
	Approvers gate.Principals
	// UI configures the browser sign-in. The web UI is served when
	// UI.Issuer is set or UI.Dev is true.
	UI UIConfig
	// Clock is the time source for sessions and countdowns; nil means
	// the system clock.
	Clock gate.Clock
	// Health reports whether the gateway can serve (store reachable,
	// listeners up). Nil means always healthy.
	Health func(ctx context.Context) error
	// Metrics serves /metrics; nil leaves it out.
	Metrics http.Handler
	// DevToken mints a token when the gateway is its own dev issuer; nil
	// disables /dev/token. It is served to loopback clients only.
	DevToken func(DevTokenRequest) (token string, expires time.Time, err error)
	Logger   *slog.Logger
}

// Server is the admin HTTP handler.
type Server struct {
	cfg   Config
	mux   *http.ServeMux
	log   *slog.Logger
	clock gate.Clock
	ui    *ui // nil when the web UI is off
	// live ends every event stream when closed (see Close).
	live     chan struct{}
	liveOnce sync.Once
}

// New builds the handler.
func New(cfg Config) (*Server, error) {
	if cfg.Auth == nil || cfg.Trail == nil {
		return nil, errors.New("web: Config.Auth and Config.Trail are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, clock: cfg.Clock, live: make(chan struct{})}
	if s.clock == nil {
		s.clock = gate.SystemClock{}
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics)
	}
	s.mux.HandleFunc("GET /api/sessions", s.reader(s.listSessions))
	s.mux.HandleFunc("GET /api/sessions/{id}", s.reader(s.getSession))
	if cfg.Approvals != nil {
		s.routeApprovalsAPI()
		s.routeGrantsAPI()
	}
	if cfg.DevToken != nil {
		s.mux.HandleFunc("POST /dev/token", s.devToken)
	}
	if cfg.UI.enabled() {
		u, err := newUI(s, cfg.UI)
		if err != nil {
			return nil, err
		}
		s.ui = u
		s.routeUI()
	} else if cfg.Approvals != nil {
		// Agents are given /approvals/{id}: say why there is no page.
		s.mux.HandleFunc("GET /approvals/{id}", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "the web UI is off (configure identity.ui or identity.dev); "+
				"decide with POST /api/approvals/"+r.PathValue("id")+"/approve or /deny")
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s, nil
}

// Close ends the live event streams, so that http.Server.Shutdown need not
// wait for them. The handler keeps serving other requests; streams opened
// after Close end at once.
func (s *Server) Close() { s.liveOnce.Do(func() { close(s.live) }) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Health != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.cfg.Health(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// authenticate verifies the bearer token. It writes 401 and returns nil on
// failure.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *gate.Identity {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <OIDC token>")
		return nil
	}
	id, err := s.cfg.Auth.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, err.Error())
		return nil
	}
	return id
}

// reader wraps a handler that needs an admin or auditor.
func (s *Server) reader(h func(http.ResponseWriter, *http.Request, *gate.Identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := s.authenticate(w, r)
		if id == nil {
			return
		}
		if !s.cfg.Admins.Match(id) && !s.cfg.Auditors.Match(id) {
			writeError(w, http.StatusForbidden, "forbidden: "+id.String()+" is in neither access.admins nor access.auditors")
			return
		}
		h(w, r, id)
	}
}

func (s *Server) devToken(w http.ResponseWriter, r *http.Request) {
	if !fromLoopback(r) {
		writeError(w, http.StatusForbidden, "dev tokens are issued to loopback clients only")
		return
	}
	var req DevTokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return
	}
	if req.Subject == "" {
		writeError(w, http.StatusBadRequest, "sub is required")
		return
	}
	tok, exp, err := s.cfg.DevToken(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_at": exp.UTC()})
}

// fromLoopback reports whether r came from this machine. The development
// shortcuts (/dev/token, the dev sign-in form) are served to it only.
func fromLoopback(r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
