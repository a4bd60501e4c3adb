package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Cookie names. With Secure cookies the session cookie takes the __Host-
// prefix, which browsers only accept from HTTPS, without Domain and with
// Path=/, so no sibling host can plant or overwrite it.
const (
	sessionCookie = "gatehouse_session"
	loginCookie   = "gatehouse_login"
	// maxCookie is below the 4096 bytes browsers keep per cookie, leaving
	// room for the name and attributes.
	maxCookie = 3800
)

// sealer encrypts and authenticates cookie values with AES-256-GCM. The
// cookie's name is the additional data, so a value sealed for one cookie
// does not open as another. Safe for concurrent use.
type sealer struct {
	aead    cipher.AEAD
	csrfKey []byte
}

// newSealer derives the encryption and CSRF keys from key (at least 32
// bytes), so neither is the configured key itself.
func newSealer(key []byte) (*sealer, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("web: UI.SessionKey has %d bytes, want at least 32 random bytes", len(key))
	}
	block, err := aes.NewCipher(derive(key, "gatehouse web cookie v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, csrfKey: derive(key, "gatehouse web csrf v1")}, nil
}

func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// seal encodes v as JSON and encrypts it for the cookie named name.
func (s *sealer) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

// open reverses seal. Any tampering, a value sealed under another key or
// for another cookie, fails.
func (s *sealer) open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return errors.New("malformed cookie")
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return errors.New("cookie does not authenticate")
	}
	return json.Unmarshal(plain, v)
}

// session is a signed-in browser user, held entirely in the sealed
// session cookie (no server-side state, so every replica accepts it and a
// restart keeps users signed in when the key is stable). Logging out
// deletes the cookie; a copied cookie stays valid until Expires.
type session struct {
	ID      string   `json:"sid"` // random; CSRF tokens are derived from it
	Issuer  string   `json:"iss"`
	Subject string   `json:"sub"`
	Email   string   `json:"email,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	Dev     bool     `json:"dev,omitempty"` // signed in on the dev page
	Expires int64    `json:"exp"`           // Unix seconds
}

// identity is the session's identity. Claims are not kept: only what
// access lists match on (subject, email, groups).
func (ss *session) identity() *gate.Identity {
	return &gate.Identity{Issuer: ss.Issuer, Subject: ss.Subject, Email: ss.Email, Groups: ss.Groups,
		Expiry: time.Unix(ss.Expires, 0)}
}

// loginState is what the browser carries between leaving for the issuer
// and coming back (or between the dev sign-in page and its form post).
type loginState struct {
	State       string `json:"state"`
	Nonce       string `json:"nonce,omitempty"`
	Verifier    string `json:"verifier,omitempty"` // PKCE code_verifier
	RedirectURI string `json:"redirect_uri,omitempty"`
	Next        string `json:"next,omitempty"`
	Expires     int64  `json:"exp"`
}

// loginTTL bounds a sign-in round trip.
const loginTTL = 10 * time.Minute

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secure reports whether cookies must be Secure for r.
func (u *ui) secure(r *http.Request) bool { return r.TLS != nil || u.cfg.SecureCookies }

// cookieName returns base, with the __Host- prefix when cookies are Secure.
func (u *ui) cookieName(r *http.Request, base string) string {
	if u.secure(r) {
		return "__Host-" + base
	}
	return base
}

// setCookie seals v into the cookie base, valid for ttl (negative
// deletes it).
func (u *ui) setCookie(w http.ResponseWriter, r *http.Request, base string, v any, ttl time.Duration) error {
	c := &http.Cookie{Name: u.cookieName(r, base), Path: "/", HttpOnly: true, Secure: u.secure(r),
		SameSite: http.SameSiteLaxMode}
	if ttl < 0 {
		c.MaxAge = -1
		http.SetCookie(w, c)
		return nil
	}
	val, err := u.seal.seal(c.Name, v)
	if err != nil {
		return err
	}
	if len(val) > maxCookie {
		return fmt.Errorf("the sign-in does not fit in a cookie (%d bytes sealed, at most %d): the identity has too many groups", len(val), maxCookie)
	}
	c.Value, c.MaxAge = val, int(ttl/time.Second)
	http.SetCookie(w, c)
	return nil
}

// readCookie opens the cookie base into v.
func (u *ui) readCookie(r *http.Request, base string, v any) error {
	name := u.cookieName(r, base)
	c, err := r.Cookie(name)
	if err != nil {
		return err
	}
	return u.seal.open(name, c.Value, v)
}

// currentSession returns the request's unexpired session, or nil.
func (u *ui) currentSession(r *http.Request) *session {
	var ss session
	if err := u.readCookie(r, sessionCookie, &ss); err != nil || ss.Subject == "" || ss.ID == "" {
		return nil
	}
	if u.s.clock.Now().Unix() >= ss.Expires {
		return nil
	}
	return &ss
}

// startSession signs id in.
func (u *ui) startSession(w http.ResponseWriter, r *http.Request, id *gate.Identity, dev bool) error {
	ss := session{ID: randomToken(), Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Groups: id.Groups, Dev: dev,
		Expires: u.s.clock.Now().Add(u.cfg.SessionTTL).Unix()}
	return u.setCookie(w, r, sessionCookie, ss, u.cfg.SessionTTL)
}
