package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Config holds the ports a Gate runs on. Authenticator, Policy and Recorder
// are required; Clock defaults to SystemClock and Logger to slog.Default().
type Config struct {
	Authenticator Authenticator
	Policy        Policy
	Recorder      Recorder
	// Approver holds commands the policy sends to review. Nil: review
	// decisions are denials saying approvals are not enabled.
	Approver Approver
	Clock    Clock
	Logger   *slog.Logger
}

// Gate opens sessions. It is safe for concurrent use.
type Gate struct {
	auth     Authenticator
	policy   Policy
	rec      Recorder
	approver Approver
	clock    Clock
	log      *slog.Logger
}

// New checks cfg and returns a Gate.
func New(cfg Config) (*Gate, error) {
	switch {
	case cfg.Authenticator == nil:
		return nil, errors.New("gate: Config.Authenticator is required")
	case cfg.Policy == nil:
		return nil, errors.New("gate: Config.Policy is required")
	case cfg.Recorder == nil:
		return nil, errors.New("gate: Config.Recorder is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Gate{auth: cfg.Authenticator, policy: cfg.Policy, rec: cfg.Recorder, approver: cfg.Approver, clock: cfg.Clock, log: cfg.Logger}, nil
}

// Clock returns the gate's clock, for adapters that time steps.
func (g *Gate) Clock() Clock { return g.clock }

// OpenRequest describes a connection asking to become a session.
type OpenRequest struct {
	Token      string // bearer credential; never recorded or logged
	Target     Target
	ClientAddr string
	User       string // user name the client sent, recorded as given
	Protocol   string // "postgres", "mysql", "http", "mcp"
}

// Open authenticates req.Token and records the new session (write-ahead).
// Errors: an *AuthError (errors.Is ErrUnauthenticated) when the credential
// fails, ErrAuditUnavailable (wrapped) when the session cannot be recorded.
func (g *Gate) Open(ctx context.Context, req OpenRequest) (*Session, error) {
	info := SessionInfo{Target: req.Target, ClientAddr: req.ClientAddr, User: req.User, Protocol: req.Protocol}
	var (
		id  *Identity
		err error
	)
	if req.Token == "" {
		err = &AuthError{Reason: "missing", Detail: "no token: send an OIDC token as the password or bearer credential"}
	} else {
		id, err = g.auth.Authenticate(ctx, req.Token)
	}
	if err == nil && !id.Expiry.IsZero() && !g.clock.Now().Before(id.Expiry) {
		err = &AuthError{Reason: "expired", Detail: "token expired at " + id.Expiry.UTC().Format(time.RFC3339)}
	}
	if err != nil {
		var ae *AuthError
		if !errors.As(err, &ae) {
			ae = &AuthError{Reason: "error", Detail: err.Error()}
			err = ae
		}
		g.record(ctx, Event{Kind: EventAuthFailure, Time: g.clock.Now(), SessionID: NewID(), Session: &info, Reason: ae.Reason + ": " + ae.Detail})
		return nil, err
	}
	info.Identity = id
	s := &Session{ID: NewID(), Identity: id, Target: req.Target, g: g, opened: g.clock.Now()}
	if err := g.rec.Record(ctx, Event{Kind: EventSessionOpen, Time: s.opened, SessionID: s.ID, Session: &info}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	if !id.Expiry.IsZero() {
		s.timer = g.clock.AfterFunc(id.Expiry.Sub(s.opened), func() { s.cancel(ErrTokenExpired) })
	}
	return s, nil
}

// record writes an event whose loss does not stop the pipeline, logging
// failures.
func (g *Gate) record(ctx context.Context, e Event) {
	if err := g.rec.Record(ctx, e); err != nil {
		g.log.Error("audit record lost", "event", e.Kind.String(), "session", e.SessionID, "step", e.Step, "err", err)
	}
}

// Session is one authenticated connection to one target. Its methods are
// safe for concurrent use: a wire adapter typically calls Check from the
// goroutine reading the client and Step.End from the one reading upstream.
type Session struct {
	ID       string
	Identity *Identity
	Target   Target

	g      *Gate
	opened time.Time
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  Timer
	once   sync.Once

	// stepMu serializes step numbering with recording, so that numbers are
	// consecutive in the trail: a step whose record failed takes none.
	stepMu sync.Mutex
	nsteps int
}

// recordStep records an EventStep with the next step number and returns
// the number; on a recording failure no number is used.
func (s *Session) recordStep(ctx context.Context, cmd *Command, d *Decision) (int, error) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	n := s.nsteps + 1
	if err := s.g.rec.Record(ctx, Event{Kind: EventStep, Time: s.g.clock.Now(), SessionID: s.ID, Step: n, Command: cmd, Decision: d}); err != nil {
		return 0, err
	}
	s.nsteps = n
	return n, nil
}

// recordDenial records a refused step; a failure is logged (the command
// does not run either way).
func (s *Session) recordDenial(ctx context.Context, cmd *Command, d *Decision) {
	if _, err := s.recordStep(ctx, cmd, d); err != nil {
		s.g.log.Error("audit record of a refused step lost", "session", s.ID, "err", err)
	}
}

// Context is cancelled when the session must end; context.Cause tells why
// (ErrTokenExpired when the token's exp passes). Adapters watch it and close
// the connection with the cause.
func (s *Session) Context() context.Context { return s.ctx }

// Decide asks the policy about cmd. An allowed command gets its Decision and
// a nil error; the caller then calls Begin before forwarding it. A command
// the policy sends to review gets a Review decision and a nil error when an
// Approver is configured; the caller then calls Hold. A denied command (or
// one held for review while approvals are not enabled) is recorded as a
// step and returned as a *DeniedError.
func (s *Session) Decide(ctx context.Context, cmd *Command) (Decision, error) {
	if err := context.Cause(s.ctx); err != nil {
		return Decision{}, err
	}
	d, err := s.g.policy.Decide(ctx, Input{Identity: s.withGrants(ctx), Target: s.Target, Command: cmd})
	if err != nil {
		d = Decision{Action: Deny, Policy: d.Policy, Rule: d.Rule, PolicyVersion: d.PolicyVersion, Message: "policy evaluation failed: " + err.Error()}
	}
	switch d.Action {
	case Allow:
		return d, nil
	case Review:
		if s.g.approver != nil {
			return d, nil
		}
		msg := "approval required"
		if d.Message != "" {
			msg += ": " + d.Message
		}
		d = Decision{Action: Deny, Policy: d.Policy, Rule: d.Rule, PolicyVersion: d.PolicyVersion,
			Message: msg + " (approvals are not enabled in this gateway, so the statement cannot run)"}
	default:
		d.Action = Deny
	}
	s.recordDenial(ctx, cmd, &d)
	return d, d.Denial()
}

// withGrants returns the session's identity with its active grants. Grants
// only ever add permissions, so when they cannot be read the identity goes
// without them (and the failure is logged).
func (s *Session) withGrants(ctx context.Context) *Identity {
	if s.g.approver == nil {
		return s.Identity
	}
	grants, err := s.g.approver.Grants(ctx, s.Identity)
	if err != nil {
		s.g.log.Warn("reading grants failed; deciding without them", "session", s.ID, "err", err)
		return s.Identity
	}
	if len(grants) == 0 {
		return s.Identity
	}
	id := *s.Identity
	id.Grants = grants
	return &id
}

// Begin records an allowed step, write-ahead, and returns it. Only after
// Begin returns a Step may the adapter forward the command. On a recording
// failure it returns an error wrapping ErrAuditUnavailable and the command
// must not run.
func (s *Session) Begin(ctx context.Context, cmd *Command, d Decision) (*Step, error) {
	if d.Action != Allow {
		return nil, d.Denial()
	}
	n, err := s.recordStep(ctx, cmd, &d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	return &Step{s: s, N: n, start: s.g.clock.Now()}, nil
}

// Check is Decide followed by Begin, for protocols where a command is
// decided and run at once.
func (s *Session) Check(ctx context.Context, cmd *Command) (*Step, error) {
	d, err := s.Decide(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return s.Begin(ctx, cmd, d)
}

// Close ends the session and records why. Later calls do nothing.
func (s *Session) Close(reason string) {
	s.once.Do(func() {
		if s.timer != nil {
			s.timer.Stop()
		}
		s.cancel(errors.New("session closed: " + reason))
		s.g.record(context.Background(), Event{Kind: EventSessionClose, Time: s.g.clock.Now(), SessionID: s.ID, Reason: reason})
	})
}

// Step is an allowed command that is (about to be) running upstream.
type Step struct {
	N     int
	s     *Session
	start time.Time
	done  atomic.Bool
}

// End records the outcome. If o.Duration is zero it is measured from Begin.
// Only the first call records; End on a nil Step does nothing.
func (st *Step) End(o Outcome) {
	if st == nil || !st.done.CompareAndSwap(false, true) {
		return
	}
	now := st.s.g.clock.Now()
	if o.Duration == 0 {
		o.Duration = now.Sub(st.start)
	}
	st.s.g.record(context.Background(), Event{Kind: EventStepResult, Time: now, SessionID: st.s.ID, Step: st.N, Outcome: &o})
}

// NewID returns a random identifier whose first 12 hex digits are the
// current Unix time in milliseconds, so IDs sort by creation time.
func NewID() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// Refuse records a command the adapter refuses before policy can decide it
// (it cannot be parsed, or the protocol message is not allowed), so the
// attempt is in the audit trail. The adapter reports its own error.
func (s *Session) Refuse(ctx context.Context, cmd *Command, reason string) {
	d := Decision{Action: Deny, Message: reason}
	s.recordDenial(ctx, cmd, &d)
}

// Applicable names the policy that applies to cmd in this session ("" when
// none does, or when the Policy cannot tell).
func (s *Session) Applicable(ctx context.Context, cmd *Command) (string, error) {
	pm, ok := s.g.policy.(PolicyMatcher)
	if !ok {
		return "", nil
	}
	return pm.Applicable(ctx, Input{Identity: s.withGrants(ctx), Target: s.Target, Command: cmd})
}
