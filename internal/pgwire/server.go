package pgwire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// Classifier turns statement text into a classification. *sqlpg.Classifier
// implements it. A nil error means the text parsed; the returned Class is
// shared and must not be modified.
type Classifier interface {
	// Classify returns the class of sql; prepared resolves names for SQL
	// EXECUTE and may be nil. The only error is a *sqlpg.ParseError.
	Classify(sql string, prepared sqlpg.Resolver) (*gate.Class, error)
	// ParamKind is the kind of setting a run-time parameter, used to vet
	// StartupMessage parameters like the equivalent SET.
	ParamKind(name, value string) gate.Kind
	// PreparedChanges lists how sql's PREPARE, DEALLOCATE and DISCARD ALL
	// statements change the session's prepared statements.
	PreparedChanges(sql string) ([]sqlpg.PreparedChange, error)
}

// Config configures a Server. Gate, Classifier and Upstreams are required.
type Config struct {
	Gate       *gate.Gate
	Classifier Classifier
	// Intent extracts the agent's stated reason and trace context from
	// statement text (sqlcomment.Extract). Nil records none.
	Intent func(sql string) gate.Request
	// Upstreams maps a connection name (the database name a client asks
	// for) to the PostgreSQL server behind it.
	Upstreams map[string]*Upstream
	// TLS is offered to clients that send SSLRequest. Nil refuses TLS, and
	// then only loopback clients can connect.
	TLS *tls.Config
	// MaxMessageSize bounds every client message and every upstream message
	// the gateway decodes (default 64 MiB). Larger messages close the
	// connection with a protocol error; pass-through rows stream at any size.
	MaxMessageSize int
	// StartupTimeout bounds TLS, startup and authentication (default 15 s).
	StartupTimeout time.Duration
	// EstimateWrites asks the upstream for the planner's estimate of every
	// single-statement write before deciding it, for policies that use
	// command.estimated_rows (policy.Engine.UsesEstimate). Writes held for
	// review are estimated regardless.
	EstimateWrites bool
	// Masks maps a policy name to its masking; results of commands that
	// policy decides are masked. Policies without an entry are not masked.
	Masks map[string]*Masking
	// PreviewRows and PreviewBytes bound the first rows of each result
	// kept in the audit trail, as the client saw them (defaults 5 rows,
	// 4096 bytes; PreviewRows < 0 keeps none).
	PreviewRows  int
	PreviewBytes int
	// CancelRelay carries CancelRequests between replicas: a request whose
	// key this process did not issue is published, and the keys others
	// publish are applied here when this process issued them. Nil: cancels
	// are honoured only by the replica a client reached at start-up.
	// store.Store implements it.
	CancelRelay CancelRelay
	Logger      *slog.Logger
}

// CancelRelay is the part of a shared store that relays cancel keys (a
// process id and a secret, as a CancelRequest carries them).
type CancelRelay interface {
	PublishCancel(ctx context.Context, key []byte) error
	WatchCancels(ctx context.Context) (<-chan []byte, error)
}

// Server is the PostgreSQL listener. It is safe for concurrent use.
type Server struct {
	cfg        Config
	log        *slog.Logger
	cancel     *cancelKeys
	estimators map[string]*estimator // by connection name
	stopRelay  context.CancelFunc    // ends the relayed-cancel watcher
	analyzer   analyzer              // lineage for masking; nil when Masks is empty

	mu       sync.Mutex
	ln       []net.Listener
	conns    map[*conn]struct{}
	draining bool
	wg       sync.WaitGroup
}

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Gate == nil:
		return nil, errors.New("pgwire: Config.Gate is required")
	case cfg.Classifier == nil:
		return nil, errors.New("pgwire: Config.Classifier is required")
	}
	for name, u := range cfg.Upstreams {
		if err := u.init(); err != nil {
			return nil, fmt.Errorf("pgwire: connection %q: %w", name, err)
		}
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 64 << 20
	}
	if cfg.StartupTimeout <= 0 {
		cfg.StartupTimeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.PreviewRows == 0:
		cfg.PreviewRows = 5
	case cfg.PreviewRows < 0:
		cfg.PreviewRows = 0
	}
	if cfg.PreviewBytes <= 0 {
		cfg.PreviewBytes = 4096
	}
	if cfg.Intent == nil {
		cfg.Intent = func(string) gate.Request { return gate.Request{} }
	}
	s := &Server{cfg: cfg, log: cfg.Logger, cancel: newCancelKeys(), conns: map[*conn]struct{}{}, estimators: map[string]*estimator{}}
	for name, u := range cfg.Upstreams {
		s.estimators[name] = newEstimator(u)
	}
	if len(cfg.Masks) > 0 {
		s.analyzer = newCatalogs(s)
	}
	if cfg.CancelRelay != nil {
		ctx, stop := context.WithCancel(context.Background())
		s.stopRelay = stop
		keys, err := cfg.CancelRelay.WatchCancels(ctx)
		if err != nil {
			stop()
			return nil, fmt.Errorf("pgwire: watching relayed cancel requests: %w", err)
		}
		go s.applyRelayed(ctx, keys)
	}
	return s, nil
}

// Serve accepts connections on ln until ln is closed or Shutdown is called.
// It returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.ln = append(s.ln, ln)
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			draining := s.draining
			s.mu.Unlock()
			if draining {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := newConn(s, nc)
		if !s.track(c) {
			nc.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			c.serve()
		}()
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Sessions is the number of client connections being served.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting connections, closes idle sessions at once and
// the others as soon as their running statement completes (with FATAL
// 57P01), and waits for them until ctx is done; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for _, ln := range s.ln {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.closeEstimators()
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.abort(gate.ErrShuttingDown)
		}
		s.mu.Unlock()
		<-done
		s.closeEstimators()
		return ctx.Err()
	}
}

func (s *Server) closeEstimators() {
	for _, e := range s.estimators {
		e.close()
	}
	if s.stopRelay != nil {
		s.stopRelay()
	}
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}
