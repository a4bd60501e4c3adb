package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/approval"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mask"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/pgwire"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/sqlcomment"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

// devIssuerName is the iss of tokens minted by `gatehouse token`.
const devIssuerName = "gatehouse-dev"

// app is a running gateway: every component, built explicitly from the
// configuration, and its listeners.
type app struct {
	cfg       *config.File
	log       *slog.Logger
	store     store.Store
	rec       *audit.Recorder
	trail     *audit.Trail
	gate      *gate.Gate
	pg        *pgwire.Server
	http      *http.Server
	dev       *identity.DevIssuer
	web       *web.Server
	approvals *approval.Service
	auth      gate.Authenticator
	pgAddr    string
	webURL    string
	ready     atomic.Bool
	errc      chan error
	// closers release what start opened before the servers own it.
	closer []func() error
}

// compilePolicy builds the policy engine; its errors name policy and rule.
func compilePolicy(cfg *config.File) (*policy.Engine, error) {
	return policy.New(cfg.PolicyConfig())
}

// start builds every component and starts the listeners. On error,
// everything already started is stopped.
func start(ctx context.Context, cfg *config.File, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, errc: make(chan error, 2)}
	started := false
	defer func() {
		if !started {
			a.stop(context.Background())
		}
	}()
	pol, err := compilePolicy(cfg)
	if err != nil {
		return nil, err
	}
	// Listen first: a port 0 in the configuration becomes a real port that
	// links (external_url's default) can name.
	pgLn, err := net.Listen("tcp", cfg.Listen.Postgres)
	if err != nil {
		return nil, fmt.Errorf("listen.postgres: %w", err)
	}
	a.closer = append(a.closer, pgLn.Close)
	httpLn, err := net.Listen("tcp", cfg.Listen.HTTP)
	if err != nil {
		return nil, fmt.Errorf("listen.http: %w", err)
	}
	a.closer = append(a.closer, httpLn.Close)
	a.pgAddr, a.webURL = pgLn.Addr().String(), "http://"+httpLn.Addr().String()
	if cfg.ExternalURL == "http://"+cfg.Listen.HTTP {
		cfg.ExternalURL = a.webURL
	}
	if a.store, err = store.Open(ctx, cfg.Store); err != nil {
		return nil, err
	}
	if a.rec, err = audit.New(ctx, audit.Config{Store: a.store, Chain: cfg.Node, Logger: log}); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	a.trail = audit.NewTrail(a.store)
	idCfg := identity.Config{Issuers: cfg.IssuerConfigs(), Logger: log}
	if cfg.Identity.Dev {
		if a.dev, err = devIssuer(ctx, a.store); err != nil {
			return nil, err
		}
		idCfg.Dev = a.dev
	}
	verifier, err := identity.New(idCfg)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	a.auth = verifier
	m := metrics.New()
	if a.approvals, err = approval.New(ctx, approvalConfig(cfg, a.store, a.trail, m, log)); err != nil {
		return nil, fmt.Errorf("approvals: %w", err)
	}
	if a.gate, err = gate.New(gate.Config{Authenticator: verifier, Policy: pol, Recorder: m.Recorder(a.rec),
		Approver: a.approvals, Logger: log}); err != nil {
		return nil, err
	}
	pgHost, _, _ := net.SplitHostPort(cfg.Listen.Postgres)
	tlsCfg, selfSigned, err := serverTLS(cfg.TLS.CertFile, cfg.TLS.KeyFile, pgHost)
	if err != nil {
		return nil, err
	}
	if selfSigned {
		log.Info("no tls.cert_file configured: using a self-signed certificate (clients: sslmode=require)")
	}
	masks, err := buildMasks(cfg, func() ([]byte, error) {
		return a.store.Secret(ctx, "mask-hmac-key", randomKey)
	})
	if err != nil {
		return nil, err
	}
	previewRows := 5
	if cfg.Audit.PreviewRows != nil {
		previewRows = *cfg.Audit.PreviewRows
		if previewRows == 0 {
			previewRows = -1
		}
	}
	a.pg, err = pgwire.New(pgwire.Config{
		Gate: a.gate, Classifier: sqlpg.New(sqlpg.Config{}), Intent: sqlcomment.Extract,
		Upstreams: cfg.Upstreams(), TLS: tlsCfg, MaxMessageSize: cfg.Limits.MaxMessageSize,
		StartupTimeout: cfg.Limits.StartupTimeout.D(), EstimateWrites: pol.UsesEstimate(),
		Masks: masks, PreviewRows: previewRows, PreviewBytes: cfg.Audit.PreviewBytes, CancelRelay: a.store, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	admins, auditors, approvers := cfg.Principals()
	wcfg := web.Config{Auth: verifier, Trail: a.trail, Admins: admins, Auditors: auditors, Metrics: m.Handler(), Logger: log,
		Health: a.health, Approvals: a.approvals, Approvers: approvers}
	if a.dev != nil {
		wcfg.DevToken = a.mintDevToken
		wcfg.UI.Dev = true
		wcfg.UI.DevIssuer = devIssuerName
	}
	if ui := cfg.Identity.UI; ui != nil {
		wcfg.UI.Issuer, wcfg.UI.ClientID, wcfg.UI.ClientSecret = ui.Issuer, ui.ClientID, ui.ClientSecret
		wcfg.UI.GroupsClaim, wcfg.UI.Claims, wcfg.UI.Scopes = ui.GroupsClaim, identity.FromClaims, ui.Scopes
		wcfg.UI.SecureCookies = strings.HasPrefix(cfg.ExternalURL, "https://")
		wcfg.UI.RedirectURL = cfg.ExternalURL + "/auth/callback"
	}
	if wcfg.UI.Dev || wcfg.UI.Issuer != "" {
		if wcfg.UI.SessionKey, err = a.store.Secret(ctx, "web-session-key", randomKey); err != nil {
			return nil, fmt.Errorf("web session key: %w", err)
		}
	}
	if a.web, err = web.New(wcfg); err != nil {
		return nil, err
	}
	a.http = &http.Server{Handler: a.web, ReadHeaderTimeout: 10 * time.Second}
	go func() { a.errc <- a.pg.Serve(pgLn) }()
	go func() {
		if err := a.http.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			a.errc <- err
		}
	}()
	a.closer = nil // the servers own the listeners now
	a.ready.Store(true)
	started = true
	log.Info("gatehouse is serving", "postgres", a.pgAddr, "http", a.webURL, "store", redactURL(cfg.Store), "node", cfg.Node,
		"connections", len(cfg.Conns), "policy_version", pol.Version())
	return a, nil
}

// health is /healthz: listeners up and the store answering.
func (a *app) health(ctx context.Context) error {
	if !a.ready.Load() {
		return errors.New("listeners are not up")
	}
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// stop shuts down in order: release statements waiting for approval, stop
// taking connections and let running statements finish (until ctx ends),
// then flush the audit trail and close the store.
func (a *app) stop(ctx context.Context) {
	a.ready.Store(false)
	for _, c := range a.closer {
		_ = c()
	}
	// Approvals first: statements waiting for a human end with "shutting
	// down" and their requests stay pending (they survive the restart)
	// instead of being cancelled when their connections close.
	if a.approvals != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.approvals.Close(cctx); err != nil {
			a.log.Warn("closing approvals: webhooks still queued were dropped", "err", err)
		}
		cancel()
	}
	if a.pg != nil {
		if err := a.pg.Shutdown(ctx); err != nil {
			a.log.Warn("sessions still running at the end of the grace period were closed", "err", err)
		}
	}
	if a.web != nil {
		a.web.Close() // ends live streams, which Shutdown would wait for
	}
	if a.http != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.http.Shutdown(sctx)
		cancel()
	}
	if a.rec != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.rec.Close(cctx); err != nil {
			a.log.Error("closing the audit recorder", "err", err)
		}
		cancel()
	}
	if a.store != nil {
		a.store.Close()
	}
}

// approvalConfig builds the approval service's configuration.
func approvalConfig(cfg *config.File, st store.Store, trail *audit.Trail, m *metrics.Metrics, log *slog.Logger) approval.Config {
	ac := approval.Config{Store: st, BaseURL: cfg.ExternalURL, Timeout: cfg.Approvals.Timeout.D(), Approvers: cfg.Access.Approvers, Admins: cfg.Access.Admins,
		Steps: trail.RecentSteps, Logger: log, Registerer: m.Registry()}
	for _, c := range cfg.Conns {
		ac.Connections = append(ac.Connections, approval.Connection{Name: c.Name, MaxGrant: c.MaxGrant.D()})
	}
	for _, n := range cfg.Approvals.Notify {
		ac.Notify = append(ac.Notify, approval.NotifyTarget{URL: n.URL, Format: n.Format})
	}
	return ac
}

// buildMasks compiles each policy's masking once. keyFn supplies the hash
// key; serve takes it from the store (created once for all replicas, so
// hash tokens agree across them).
func buildMasks(cfg *config.File, keyFn func() ([]byte, error)) (map[string]*pgwire.Masking, error) {
	var key []byte
	out := map[string]*pgwire.Masking{}
	for i, p := range cfg.Policies {
		if p.Mask == nil {
			continue
		}
		if key == nil {
			var err error
			if key, err = keyFn(); err != nil {
				return nil, fmt.Errorf("masking key: %w", err)
			}
		}
		mc := mask.Config{Detectors: p.Mask.Detectors, Strategy: p.Mask.Strategy, Strategies: p.Mask.Strategies, Key: key}
		for _, c := range p.Mask.Custom {
			mc.Custom = append(mc.Custom, mask.CustomPattern{Name: c.Name, Pattern: c.Pattern})
		}
		m, err := mask.New(mc)
		if err != nil {
			return nil, fmt.Errorf("policies[%d] (%s).mask: %w", i, p.Name, err)
		}
		out[p.Name] = &pgwire.Masking{Masker: m, Columns: p.Mask.Columns, DenyUnresolved: p.Mask.Unresolved == "deny"}
	}
	return out, nil
}

func randomKey() ([]byte, error) {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	return k, err
}

// devIssuer loads (or creates, once for all replicas) the dev signing key.
func devIssuer(ctx context.Context, st store.Store) (*identity.DevIssuer, error) {
	pemKey, err := st.Secret(ctx, "dev-issuer-key", func() ([]byte, error) {
		k, err := identity.GenerateDevKey()
		if err != nil {
			return nil, err
		}
		return identity.MarshalDevKey(k)
	})
	if err != nil {
		return nil, fmt.Errorf("dev issuer key: %w", err)
	}
	key, err := identity.ParseDevKey(pemKey)
	if err != nil {
		return nil, fmt.Errorf("dev issuer key: %w", err)
	}
	return identity.NewDevIssuer(key, devIssuerName), nil
}

func (a *app) mintDevToken(r web.DevTokenRequest) (string, time.Time, error) {
	ttl := identity.DefaultDevTTL
	if r.TTL != "" {
		d, err := time.ParseDuration(r.TTL)
		if err != nil || d <= 0 || d > 24*time.Hour {
			return "", time.Time{}, fmt.Errorf("ttl %q: want a duration up to 24h such as 15m", r.TTL)
		}
		ttl = d
	}
	now := time.Now()
	tok, err := a.dev.Sign(identity.DevClaims{Subject: r.Subject, Groups: r.Groups, Email: r.Email, TTL: ttl, IssuedAt: now})
	return tok, now.Add(ttl), err
}
