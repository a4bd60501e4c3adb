package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// UIConfig configures how people sign in to the web UI (identity.ui and
// identity.dev).
type UIConfig struct {
	// Issuer, ClientID and ClientSecret name the OIDC client people sign
	// in with: the authorization code flow with PKCE (S256), state and
	// nonce. ClientSecret may be empty for a public client. The issuer is
	// discovered at the first sign-in, not at New, so a slow issuer does
	// not stop the gateway.
	Issuer, ClientID, ClientSecret string
	// RedirectURL is the callback registered at the issuer; it must end in
	// /auth/callback. Empty derives it from each request's scheme and Host
	// header, which is right unless a proxy rewrites Host.
	RedirectURL string
	// Scopes asked for besides openid; nil means email and profile. Add
	// "groups" for issuers (Dex) that need it to send the groups claim.
	Scopes []string
	// GroupsClaim names the ID token claim holding groups, passed to
	// Claims as is ("" lets Claims choose its default).
	GroupsClaim string
	// Claims maps a verified ID token's claims to an identity, exactly as
	// tokens of agents are mapped: identity.FromClaims. Required with
	// Issuer.
	Claims func(claims map[string]any, iss, groupsClaim string) (*gate.Identity, error)
	// Dev serves a sign-in form that asks a subject and groups and signs
	// that identity in without any check. Trials only (identity.dev). Like
	// /dev/token it is served to loopback clients only.
	Dev bool
	// DevIssuer is the issuer of dev sign-ins; "" means "gatehouse-dev",
	// the issuer of `gatehouse token`, so a dev user and a dev token with
	// the same subject are the same identity.
	DevIssuer string
	// SessionKey seals the session and sign-in cookies (at least 32
	// random bytes; share it between replicas). Nil means a random key
	// per process: everyone signs in again after a restart.
	SessionKey []byte
	// SessionTTL is how long a sign-in lasts; 0 means 8h.
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure even on plain HTTP requests (TLS
	// ends at a proxy). Requests that arrive over TLS always get them.
	SecureCookies bool
	// HTTPClient talks to the issuer (discovery, keys, token endpoint);
	// nil means http.DefaultClient.
	HTTPClient *http.Client
}

func (c UIConfig) enabled() bool { return c.Issuer != "" || c.Dev }

// DefaultSessionTTL is the sign-in lifetime when UIConfig.SessionTTL is 0.
const DefaultSessionTTL = 8 * time.Hour

const callbackPath = "/auth/callback"

// oidcClient is the lazily discovered issuer.
type oidcClient struct {
	mu       sync.Mutex
	provider *oidc.Provider
}

// provider discovers the issuer once; a failure is retried next time.
func (u *ui) provider(ctx context.Context) (*oidc.Provider, error) {
	u.oidc.mu.Lock()
	defer u.oidc.mu.Unlock()
	if u.oidc.provider != nil {
		return u.oidc.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(u.clientContext(ctx), u.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovering the sign-in issuer %s: %w", u.cfg.Issuer, err)
	}
	u.oidc.provider = p
	return p, nil
}

func (u *ui) clientContext(ctx context.Context) context.Context {
	if u.cfg.HTTPClient == nil {
		return ctx
	}
	return context.WithValue(oidc.ClientContext(ctx, u.cfg.HTTPClient), oauth2.HTTPClient, u.cfg.HTTPClient)
}

func (u *ui) oauth(p *oidc.Provider, redirectURI string) *oauth2.Config {
	return &oauth2.Config{ClientID: u.cfg.ClientID, ClientSecret: u.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirectURI, Scopes: append([]string{oidc.ScopeOpenID}, u.cfg.Scopes...)}
}

func (u *ui) redirectURI(r *http.Request) string {
	if u.cfg.RedirectURL != "" {
		return u.cfg.RedirectURL
	}
	scheme := "http"
	if u.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + callbackPath
}

// login serves GET /login: the sign-in page, or straight to the issuer
// when single sign-on is the only way in.
func (u *ui) login(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if u.currentSession(r) != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if u.cfg.Issuer != "" && !u.devHere(r) && r.URL.Query().Get("signed_out") == "" {
		http.Redirect(w, r, "/login/oidc?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	u.loginPage(w, r, http.StatusOK, next, "")
}

// loginPage renders the sign-in page with msg as an error.
func (u *ui) loginPage(w http.ResponseWriter, r *http.Request, code int, next, msg string) {
	v := &loginView{Next: next, Error: msg, OIDC: u.cfg.Issuer != "", Issuer: u.cfg.Issuer, Dev: u.devHere(r),
		DevRemote: u.cfg.Dev && !u.devHere(r), SignedOut: r.URL.Query().Get("signed_out") != ""}
	if v.Dev {
		ls := loginState{State: randomToken(), Next: next, Expires: u.s.clock.Now().Add(loginTTL).Unix()}
		if err := u.setCookie(w, r, loginCookie, ls, loginTTL); err != nil {
			u.fail(w, r, err)
			return
		}
		v.CSRF = u.seal.csrfToken(loginBinding(&ls))
	}
	u.render(w, r, code, "login", &page{Title: "Sign in", View: v})
}

// devHere reports whether r may use the dev sign-in: identity.dev is on
// and, as for /dev/token, the browser runs on this machine.
func (u *ui) devHere(r *http.Request) bool { return u.cfg.Dev && fromLoopback(r) }

// loginOIDC serves GET /login/oidc: it remembers state, nonce and the
// PKCE verifier in the sealed login cookie and sends the browser to the
// issuer.
func (u *ui) loginOIDC(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if u.cfg.Issuer == "" {
		u.loginPage(w, r, http.StatusNotFound, next, "single sign-on is not configured (identity.ui)")
		return
	}
	p, err := u.provider(r.Context())
	if err != nil {
		u.s.log.Warn("web sign-in: issuer unavailable", "err", err)
		u.loginPage(w, r, http.StatusBadGateway, next, err.Error())
		return
	}
	ls := loginState{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		RedirectURI: u.redirectURI(r), Next: next, Expires: u.s.clock.Now().Add(loginTTL).Unix()}
	if err := u.setCookie(w, r, loginCookie, ls, loginTTL); err != nil {
		u.fail(w, r, err)
		return
	}
	to := u.oauth(p, ls.RedirectURI).AuthCodeURL(ls.State, oauth2.S256ChallengeOption(ls.Verifier), oidc.Nonce(ls.Nonce))
	http.Redirect(w, r, to, http.StatusFound)
}

// callback serves GET /auth/callback: it checks state, exchanges the code
// with the PKCE verifier, verifies the ID token (signature, issuer,
// audience, expiry) and its nonce, and signs the user in.
func (u *ui) callback(w http.ResponseWriter, r *http.Request) {
	var ls loginState
	err := u.readCookie(r, loginCookie, &ls)
	_ = u.setCookie(w, r, loginCookie, nil, -1) // one use, whatever happens
	q := r.URL.Query()
	switch {
	case err != nil || ls.Verifier == "" || u.s.clock.Now().Unix() >= ls.Expires:
		u.loginPage(w, r, http.StatusBadRequest, "/", "This sign-in expired or was started in another browser. Please sign in again.")
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(ls.State)) != 1:
		u.s.log.Warn("web sign-in: state mismatch", "remote", r.RemoteAddr)
		u.loginPage(w, r, http.StatusBadRequest, ls.Next, "Sign-in refused: the state parameter does not match this browser's sign-in.")
		return
	case q.Get("error") != "":
		u.loginPage(w, r, http.StatusUnauthorized, ls.Next, "The issuer refused the sign-in: "+q.Get("error")+" "+q.Get("error_description"))
		return
	}
	id, err := u.exchange(r.Context(), q, &ls)
	if err != nil {
		u.s.log.Warn("web sign-in failed", "err", err)
		u.loginPage(w, r, http.StatusUnauthorized, ls.Next, "Sign-in failed: "+err.Error())
		return
	}
	if err := u.startSession(w, r, id, false); err != nil {
		u.loginPage(w, r, http.StatusBadRequest, ls.Next, "Sign-in failed: "+err.Error())
		return
	}
	u.s.log.Info("web sign-in", "identity", id.String(), "issuer", id.Issuer)
	http.Redirect(w, r, ls.Next, http.StatusSeeOther)
}

func (u *ui) exchange(ctx context.Context, q url.Values, ls *loginState) (*gate.Identity, error) {
	p, err := u.provider(ctx)
	if err != nil {
		return nil, err
	}
	var disc struct {
		Issuer string `json:"issuer"`
	}
	_ = p.Claims(&disc)
	if iss := q.Get("iss"); iss != "" && iss != disc.Issuer { // RFC 9207
		return nil, fmt.Errorf("the response names issuer %q, not %q", iss, disc.Issuer)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ctx = u.clientContext(ctx)
	tok, err := u.oauth(p, ls.RedirectURI).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return nil, fmt.Errorf("exchanging the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the issuer returned no ID token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: u.cfg.ClientID, Now: u.s.clock.Now}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verifying the ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ls.Nonce)) != 1 {
		return nil, errors.New("the ID token's nonce does not match this sign-in")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("reading the ID token's claims: %w", err)
	}
	return u.cfg.Claims(claims, idt.Issuer, u.cfg.GroupsClaim)
}

// loginDev serves POST /login/dev: sign in as whoever the form names
// (loopback clients only).
func (u *ui) loginDev(w http.ResponseWriter, r *http.Request) {
	if !u.devHere(r) {
		u.loginPage(w, r, http.StatusForbidden, "/", "The development sign-in is offered to browsers on this machine only.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var ls loginState
	if err := u.readCookie(r, loginCookie, &ls); err != nil || u.s.clock.Now().Unix() >= ls.Expires {
		u.loginPage(w, r, http.StatusForbidden, "/", "This sign-in form expired. Please try again.")
		return
	}
	if !u.seal.checkCSRF(r, loginBinding(&ls)) {
		u.loginPage(w, r, http.StatusForbidden, ls.Next, "The form's security token is missing or wrong. Please try again.")
		return
	}
	sub := strings.TrimSpace(r.PostFormValue("subject"))
	if sub == "" {
		u.loginPage(w, r, http.StatusBadRequest, ls.Next, "Enter a subject to sign in as.")
		return
	}
	id := &gate.Identity{Issuer: u.cfg.DevIssuer, Subject: sub, Email: strings.TrimSpace(r.PostFormValue("email")),
		Groups: splitList(r.PostFormValue("groups"))}
	_ = u.setCookie(w, r, loginCookie, nil, -1)
	if err := u.startSession(w, r, id, true); err != nil {
		u.loginPage(w, r, http.StatusBadRequest, ls.Next, err.Error())
		return
	}
	u.s.log.Warn("web dev sign-in (identity.dev: no verification)", "identity", id.String(), "groups", id.Groups)
	http.Redirect(w, r, ls.Next, http.StatusSeeOther)
}

// logout serves POST /logout.
func (u *ui) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	_ = u.setCookie(w, r, sessionCookie, nil, -1)
	http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
}

// splitList splits on commas and white space, dropping empty entries.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// localPath returns p if it is a path on this server, else "/": it keeps
// the sign-in from redirecting anywhere else ("//evil", "/\evil", "https:").
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	if u, err := url.Parse(p); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return p
}
