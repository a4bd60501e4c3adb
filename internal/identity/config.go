package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Limits and defaults. They are constants, not settings: an operator has no
// good reason to loosen them.
const (
	// MaxTokenSize is the longest token Authenticate looks at, in bytes.
	MaxTokenSize = 16 << 10
	// ClockSkew is how far exp, nbf and iat may be off the gateway's clock.
	ClockSkew = 60 * time.Second
	// DefaultAudience is the audience required when an issuer names none,
	// and the one dev tokens carry.
	DefaultAudience = "gatehouse"
	// DefaultGroupsClaim names the claim groups are read from.
	DefaultGroupsClaim = "groups"
	// DefaultDevIssuer is the dev issuer's iss when none is given.
	DefaultDevIssuer = "gatehouse-dev"

	// refetchInterval is the least time between two fetches of an issuer's
	// keys after a successful one: an unknown kid triggers at most one
	// fetch per interval, so random kids cannot make us hammer the issuer.
	refetchInterval = time.Minute
	// retryInterval is the least time between fetches after a failed one.
	retryInterval = 10 * time.Second
	// keysMaxAge is when cached keys are refreshed (in the background,
	// still serving the old set), so keys the issuer withdrew stop working.
	keysMaxAge = time.Hour
	// fetchTimeout bounds one discovery + JWKS round, whoever waits on it.
	fetchTimeout = 30 * time.Second
	// Response size limits for the issuer's documents.
	maxDiscoveryBytes = 256 << 10
	maxJWKSBytes      = 1 << 20
)

// Config configures a Verifier. The zero value is invalid: it needs at
// least one issuer or a dev issuer.
type Config struct {
	// Issuers are the OIDC issuers whose tokens are accepted.
	Issuers []IssuerConfig
	// Dev, when set, also accepts tokens signed by this dev issuer, checked
	// against its key directly. Leave nil in production.
	Dev *DevIssuer
	// Clock is the time source for token validity and fetch rate limits;
	// nil means gate.SystemClock{}.
	Clock gate.Clock
	// HTTPClient fetches discovery documents and key sets; nil means a
	// client with a 10 s timeout that follows only safe redirects.
	HTTPClient *http.Client
	// Logger receives fetch outcomes and misconfigurations; nil means
	// slog.Default(). Tokens are never logged.
	Logger *slog.Logger
}

// IssuerConfig is one trusted issuer.
type IssuerConfig struct {
	// URL is the issuer identifier. It must equal the token's iss and the
	// discovery document's issuer byte for byte (mind trailing slashes).
	// It must be https, except http on a loopback host (for tests).
	URL string
	// Audience must be among the token's aud; "" means DefaultAudience.
	Audience string
	// GroupsClaim names the claim holding groups; "" means "groups".
	GroupsClaim string
}

// validate checks cfg and fills defaults in place. Errors name the issuer.
func (cfg *Config) validate() error {
	if len(cfg.Issuers) == 0 && cfg.Dev == nil {
		return errors.New("identity: no issuers configured and the dev issuer is off, so no token could ever be accepted")
	}
	seen := map[string]bool{}
	for i := range cfg.Issuers {
		ic := &cfg.Issuers[i]
		if err := checkFetchURL(ic.URL); err != nil {
			return fmt.Errorf("identity: issuers[%d] url %q: %w", i, ic.URL, err)
		}
		if u, _ := url.Parse(ic.URL); u.RawQuery != "" || u.ForceQuery {
			return fmt.Errorf("identity: issuers[%d] url %q: an issuer URL has no query", i, ic.URL)
		}
		if seen[ic.URL] {
			return fmt.Errorf("identity: issuers[%d] url %q is configured twice", i, ic.URL)
		}
		seen[ic.URL] = true
		if ic.Audience == "" {
			ic.Audience = DefaultAudience
		}
		if ic.GroupsClaim == "" {
			ic.GroupsClaim = DefaultGroupsClaim
		}
	}
	if cfg.Dev != nil && seen[cfg.Dev.issuer] {
		return fmt.Errorf("identity: the dev issuer %q is also configured as an OIDC issuer", cfg.Dev.issuer)
	}
	if cfg.Clock == nil {
		cfg.Clock = gate.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Timeout: 10 * time.Second,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				return checkFetchURL(req.URL.String())
			},
		}
	}
	return nil
}

// checkFetchURL accepts the URLs keys may be fetched from (issuer, jwks_uri,
// redirect targets): absolute https, or http to a loopback host; no
// fragment, no user info.
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Host == "":
		return errors.New("not an absolute URL")
	case u.Fragment != "" || u.User != nil:
		return errors.New("must not have a fragment or user info")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return errors.New("must be https (http is allowed only to localhost)")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
