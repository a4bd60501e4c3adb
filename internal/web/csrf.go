package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
)

// CSRF protection for the browser UI. Every state-changing form carries a
// token derived with HMAC from the session's random ID (or, before sign-in,
// from the login state's random value), so it is tied to that session and
// useless in another. The session cookie is SameSite=Lax, which already
// keeps it off cross-site POSTs in current browsers; the token covers
// older browsers and same-site attackers. The JSON API takes no cookies,
// only bearer tokens, so it needs no token.

// csrfFormField is the hidden form field (and X-CSRF-Token header, for
// scripts) that carries the token.
const (
	csrfFormField = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// csrfToken returns the token for a binding ("session:SID" or
// "login:STATE").
func (s *sealer) csrfToken(binding string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether r carries the token for binding, and that a
// browser-sent Origin, when present, is this server's own.
func (s *sealer) checkCSRF(r *http.Request, binding string) bool {
	if !sameOrigin(r) {
		return false
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfFormField)
	}
	want := s.csrfToken(binding)
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

// sameOrigin refuses a request whose Origin header names another host.
// Browsers send Origin on POST; a missing Origin (old browsers, non-browser
// clients) is left to the token.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func sessionBinding(ss *session) string  { return "session:" + ss.ID }
func loginBinding(ls *loginState) string { return "login:" + ls.State }
