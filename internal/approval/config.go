package approval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Defaults for zero Config fields.
const (
	DefaultTimeout       = 10 * time.Minute
	DefaultMaxGrant      = 8 * time.Hour
	DefaultSweepInterval = time.Minute
	DefaultNotifyTimeout = 10 * time.Second
	DefaultNotifyBackoff = time.Second
	DefaultNotifyMaxWait = time.Minute
	DefaultNotifyTries   = 6
	DefaultNotifyQueue   = 1000
	// ContextSteps is how many earlier steps of the run a request shows.
	ContextSteps = 20
)

// Accesses are the grant kinds RequestGrant accepts. A grant adds
// "CONNECTION:ACCESS" to identity.grants; what it permits is up to the
// policy's rules (e.g. `"shop:write" in identity.grants`).
var Accesses = []string{"read", "write", "ddl", "admin"}

// Config configures a Service. Store is required; every other field has a
// default.
type Config struct {
	// Store holds requests, votes and grants. The Service does not own it
	// (Close does not close it). Share one PostgreSQL store between
	// replicas so that they share approvals.
	Store store.Store
	// BaseURL is where the web UI is reached; a request's URL is
	// BaseURL + "/approvals/" + ID. Empty: URLs are relative paths.
	BaseURL string
	// Timeout is how long a request waits for a decision
	// (DefaultTimeout). A pending request expires at creation + Timeout.
	Timeout time.Duration
	// RedeemWindow is how long an approved statement stays redeemable by
	// an identical retry, from its approval (default: Timeout). Unused,
	// it then expires.
	RedeemWindow time.Duration
	// Approvers are the default approvers (access entries such as
	// "group:dba"): of statements whose rule names none, and of grants.
	Approvers []string
	// Admins may revoke any grant or request (access.admins).
	Admins []string
	// Connections lists the connections grants may be requested for.
	Connections []Connection
	// Notify lists the webhooks told about created, approved, denied,
	// expired and cancelled requests.
	Notify []NotifyTarget
	// Steps reads the earlier steps of an agent run for a request's
	// Context: the newest limit steps with traceID, or of sessionID when
	// traceID is empty, of sessions opened by subject (the requester),
	// oldest first (audit.Trail.RecentSteps). Nil: no context. A failure
	// is logged and the request made without it.
	Steps func(ctx context.Context, traceID, sessionID, subject string, limit int) ([]gate.StepRecord, error)
	// Clock decides creation, expiry and grant times and runs expiry
	// timers (gate.SystemClock when nil). Webhook retries use real time.
	Clock gate.Clock
	// Logger receives delivery failures and background errors.
	Logger *slog.Logger
	// Registerer receives the webhook counter
	// gatehouse_approval_webhooks_total{target,result}. Nil: not
	// registered (still counted).
	Registerer prometheus.Registerer
	// SweepInterval is how often the store is swept for pending requests
	// past their expiry whose waiter is gone (another or a dead gateway)
	// and lapsed approvals and grants (DefaultSweepInterval). A sweep also
	// runs at New.
	SweepInterval time.Duration
	// HTTPClient posts webhooks; default: a client with a
	// DefaultNotifyTimeout timeout.
	HTTPClient *http.Client
	// NotifyTries bounds the attempts per webhook and event
	// (DefaultNotifyTries); NotifyBackoff is the wait before the first
	// retry (DefaultNotifyBackoff), doubling up to NotifyMaxWait
	// (DefaultNotifyMaxWait).
	NotifyTries   int
	NotifyBackoff time.Duration
	NotifyMaxWait time.Duration
	// NotifyQueue bounds the events waiting per webhook
	// (DefaultNotifyQueue); beyond it events for that webhook are dropped
	// and counted.
	NotifyQueue int
}

// Connection is a connection grants may be requested for.
type Connection struct {
	Name string
	// MaxGrant caps a grant's duration (DefaultMaxGrant when zero).
	MaxGrant time.Duration
}

// NotifyTarget is a webhook.
type NotifyTarget struct {
	URL string
	// Format is "json" (the default; see webhook.go for the schema) or
	// "slack" (an incoming-webhook message).
	Format string
	// Name labels the target in metrics and logs, which never show the
	// URL (a Slack URL is a secret). Default: the URL's host, with "#N"
	// appended when several targets share a host.
	Name string
}

// ErrInvalid marks a request that cannot be made as asked (an unknown
// connection, access or a duration over the connection's max_grant); the
// message says which.
var ErrInvalid = gate.ErrInvalid

// normalize applies defaults and validates, naming the bad field.
func (c Config) normalize() (Config, gate.Principals, error) {
	if c.Store == nil {
		return c, nil, errors.New("approval: Config.Store is required")
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
			return c, nil, fmt.Errorf("approval: BaseURL %q: want an absolute URL such as https://gatehouse.example", c.BaseURL)
		}
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Timeout", &c.Timeout, DefaultTimeout},
		{"RedeemWindow", &c.RedeemWindow, 0}, // then Timeout, below
		{"SweepInterval", &c.SweepInterval, DefaultSweepInterval},
		{"NotifyBackoff", &c.NotifyBackoff, DefaultNotifyBackoff},
		{"NotifyMaxWait", &c.NotifyMaxWait, DefaultNotifyMaxWait},
	} {
		if *d.v < 0 {
			return c, nil, fmt.Errorf("approval: %s must not be negative, got %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.RedeemWindow == 0 {
		c.RedeemWindow = c.Timeout
	}
	if c.NotifyTries <= 0 {
		c.NotifyTries = DefaultNotifyTries
	}
	if c.NotifyQueue <= 0 {
		c.NotifyQueue = DefaultNotifyQueue
	}
	approvers, err := gate.ParsePrincipals(c.Approvers)
	if err != nil {
		return c, nil, fmt.Errorf("approval: approvers: %w", err)
	}
	seen := map[string]bool{}
	for i, conn := range c.Connections {
		switch {
		case conn.Name == "":
			return c, nil, fmt.Errorf("approval: connection %d has no name", i)
		case seen[conn.Name]:
			return c, nil, fmt.Errorf("approval: connection %q listed twice", conn.Name)
		case conn.MaxGrant < 0:
			return c, nil, fmt.Errorf("approval: connection %q: max_grant must not be negative", conn.Name)
		}
		seen[conn.Name] = true
	}
	hosts := map[string]int{}
	for i := range c.Notify {
		n := &c.Notify[i]
		u, err := url.Parse(n.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, nil, fmt.Errorf("approval: notify target %d: want an http(s) URL", i)
		}
		switch n.Format {
		case "":
			n.Format = "json"
		case "json", "slack":
		default:
			return c, nil, fmt.Errorf("approval: notify target %d: unknown format %q (want json or slack)", i, n.Format)
		}
		hosts[u.Host]++
		if n.Name == "" {
			n.Name = u.Host
			if hosts[u.Host] > 1 {
				n.Name = fmt.Sprintf("%s#%d", u.Host, hosts[u.Host])
			}
		}
	}
	if c.Clock == nil {
		c.Clock = gate.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultNotifyTimeout}
	}
	return c, approvers, nil
}
