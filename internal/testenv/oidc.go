package testenv

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issuer is an in-process OpenID Connect issuer on an httptest server:
// discovery at /.well-known/openid-configuration, a JWKS at /jwks, and an
// authorization code + PKCE (S256) pair at /authorize and /token that signs
// in a fixed user without asking. It starts with three published keys, one
// each for RS256, ES256 and EdDSA; RS256 signs by default.
//
// Tokens are signed here with the standard library, independently of the
// code under test, and can be made malformed on purpose (TokenWith).
// Its methods are safe for concurrent use. The server stops at test cleanup.
type Issuer struct {
	srv *httptest.Server

	mu       sync.Mutex
	keys     map[string]*issuerKey
	order    []string // kids in creation order
	def      string   // kid of the default signing key
	serial   int
	now      func() time.Time
	discIss  string // issuer named in discovery; "" means URL()
	down     bool
	hold     *jwksHold
	jwksN    int
	discN    int
	login    map[string]any
	codes    map[string]authCode
	codeSeed int
}

// jwksHold is one HoldJWKS: requests wait until ch closes (once).
type jwksHold struct {
	ch   chan struct{}
	once sync.Once
}

func (h *jwksHold) release() { h.once.Do(func() { close(h.ch) }) }

type issuerKey struct {
	alg       string
	priv      crypto.Signer
	published bool
	jwk       map[string]any // the public JWK as served, editable
}

type authCode struct {
	clientID, redirectURI, challenge, nonce string
	claims                                  map[string]any
}

// Omit, as a claim or header value in Token or TokenWith, removes that
// member (a default claim such as "exp", or the header's "kid").
var Omit any = omitted{}

type omitted struct{}

// TokenOptions shape a token beyond its claims. Zero fields mean "as a
// well-behaved issuer would do".
type TokenOptions struct {
	// Claims are merged over the defaults of Claims().
	Claims map[string]any
	// Payload, when set, is the exact payload (claims are ignored).
	Payload []byte
	// Key is the kid of the key that signs; "" means the default key.
	// The key need not be published.
	Key string
	// Alg is the algorithm used to sign and written in the header; ""
	// means the key's own. "none" leaves the signature empty; HS256,
	// HS384 and HS512 sign with HMACSecret.
	Alg        string
	HMACSecret []byte
	// Header is merged over the header {"alg","kid","typ"} after signing
	// is decided, so it can lie about alg or kid. Omit removes a member.
	Header map[string]any
}

// NewIssuer starts an issuer for the test.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{keys: map[string]*issuerKey{}, codes: map[string]authCode{}, now: time.Now}
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		i.AddKey(t, alg)
	}
	i.def = i.order[0]
	i.login = map[string]any{"sub": "user-1", "email": "user@example.com", "email_verified": true, "groups": []any{"admins"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /jwks", i.serveJWKS)
	mux.HandleFunc("GET /authorize", i.serveAuthorize)
	mux.HandleFunc("POST /token", i.serveToken)
	i.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		i.mu.Lock()
		if i.hold != nil { // a test that forgot to release must not hang Close
			i.hold.release()
		}
		i.mu.Unlock()
		i.srv.Close()
	})
	return i
}

// URL is the issuer identifier (no trailing slash).
func (i *Issuer) URL() string { return i.srv.URL }

// SetClock sets the time source for iat and exp defaults (time.Now).
func (i *Issuer) SetClock(now func() time.Time) { i.mu.Lock(); i.now = now; i.mu.Unlock() }

// AddKey generates and publishes a key for alg (RS256, RS384, RS512,
// PS256, PS384, PS512: RSA 2048; ES256: P-256; ES384: P-384; EdDSA:
// Ed25519) and returns its kid. It does not change the default key.
func (i *Issuer) AddKey(t testing.TB, alg string) string {
	t.Helper()
	var (
		priv crypto.Signer
		err  error
		kind string
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
		kind = "rsa"
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		kind = "ec"
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		kind = "ec"
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
		kind = "ed"
	default:
		t.Fatalf("testenv: AddKey: unsupported algorithm %q", alg)
	}
	if err != nil {
		t.Fatalf("testenv: AddKey %s: %v", alg, err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.serial++
	kid := fmt.Sprintf("%s-%d-%x", kind, i.serial, randBytes(3)) // unique across issuers
	jwk := publicJWK(priv.Public())
	jwk["kid"], jwk["alg"], jwk["use"] = kid, alg, "sig"
	i.keys[kid] = &issuerKey{alg: alg, priv: priv, published: true, jwk: jwk}
	i.order = append(i.order, kid)
	return kid
}

// Rotate adds a key with the default key's algorithm, makes it the default
// and returns its kid. The old key stays published until RemoveKey.
func (i *Issuer) Rotate(t testing.TB) string {
	t.Helper()
	kid := i.AddKey(t, i.key(i.DefaultKey()).alg)
	i.SetDefaultKey(kid)
	return kid
}

// RemoveKey stops publishing kid; tokens can still be signed with it.
func (i *Issuer) RemoveKey(kid string) { i.mu.Lock(); i.keys[kid].published = false; i.mu.Unlock() }

// SetDefaultKey makes kid sign tokens that do not name a key.
func (i *Issuer) SetDefaultKey(kid string) { i.mu.Lock(); i.def = kid; i.mu.Unlock() }

// DefaultKey returns the kid of the default signing key.
func (i *Issuer) DefaultKey() string { i.mu.Lock(); defer i.mu.Unlock(); return i.def }

// KeyFor returns the kid of the first published key for alg, or "".
func (i *Issuer) KeyFor(alg string) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, kid := range i.order {
		if k := i.keys[kid]; k.published && k.alg == alg {
			return kid
		}
	}
	return ""
}

// EditJWK changes the published JWK of kid (a JSON object), for example to
// give it a conflicting "alg" or another "use".
func (i *Issuer) EditJWK(kid string, edit func(jwk map[string]any)) {
	i.mu.Lock()
	defer i.mu.Unlock()
	edit(i.keys[kid].jwk)
}

// PublicKeyPEM returns kid's public key as a PKIX PEM block: the bytes a
// key-confusion attacker uses as an HMAC secret.
func (i *Issuer) PublicKeyPEM(t testing.TB, kid string) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(i.key(kid).priv.Public())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// SetDiscoveryIssuer makes discovery name iss as the issuer ("" restores).
func (i *Issuer) SetDiscoveryIssuer(iss string) { i.mu.Lock(); i.discIss = iss; i.mu.Unlock() }

// SetDown makes every endpoint drop the connection without answering, as
// an unreachable issuer would; SetDown(false) brings it back.
func (i *Issuer) SetDown(down bool) { i.mu.Lock(); i.down = down; i.mu.Unlock() }

// HoldJWKS makes JWKS requests wait (after being counted) until release is
// called, or the test ends. release is idempotent.
func (i *Issuer) HoldJWKS() (release func()) {
	h := &jwksHold{ch: make(chan struct{})}
	i.mu.Lock()
	i.hold = h
	i.mu.Unlock()
	return func() {
		h.release()
		i.mu.Lock()
		if i.hold == h {
			i.hold = nil
		}
		i.mu.Unlock()
	}
}

// JWKSFetches counts requests to the JWKS endpoint, answered or not.
func (i *Issuer) JWKSFetches() int { i.mu.Lock(); defer i.mu.Unlock(); return i.jwksN }

// DiscoveryFetches counts requests for the discovery document.
func (i *Issuer) DiscoveryFetches() int { i.mu.Lock(); defer i.mu.Unlock(); return i.discN }

// Claims returns the default claims: iss, sub "agent-1", aud "gatehouse",
// iat now and exp in five minutes.
func (i *Issuer) Claims() map[string]any {
	i.mu.Lock()
	now := i.now()
	i.mu.Unlock()
	return map[string]any{"iss": i.URL(), "sub": "agent-1", "aud": "gatehouse",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
}

// Token signs the default claims with claims merged over them.
func (i *Issuer) Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	return i.TokenWith(t, TokenOptions{Claims: claims})
}

// TokenWith builds a token as opts says, however broken.
func (i *Issuer) TokenWith(t testing.TB, opts TokenOptions) string {
	t.Helper()
	tok, err := i.mint(opts)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return tok
}

func (i *Issuer) mint(opts TokenOptions) (string, error) {
	payload := opts.Payload
	if payload == nil {
		claims := i.Claims()
		mergeOmit(claims, opts.Claims)
		var err error
		if payload, err = json.Marshal(claims); err != nil {
			return "", err
		}
	}
	kid := cmp.Or(opts.Key, i.DefaultKey())
	k := i.key(kid)
	if k == nil {
		return "", fmt.Errorf("no key %q", kid)
	}
	header := map[string]any{"alg": cmp.Or(opts.Alg, k.alg), "kid": kid, "typ": "JWT"}
	alg := header["alg"].(string)
	mergeOmit(header, opts.Header)
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	input := b64(hb) + "." + b64(payload)
	sig, err := jwsSign(alg, k.priv, opts.HMACSecret, []byte(input))
	if err != nil {
		return "", fmt.Errorf("sign %s: %v", alg, err)
	}
	return input + "." + b64(sig), nil
}

// StripSignature returns token with an empty signature part.
func StripSignature(token string) string {
	return token[:strings.LastIndexByte(token, '.')+1]
}

// TamperClaims merges claims into token's payload and keeps its signature.
func TamperClaims(t testing.TB, token string, claims map[string]any) string {
	t.Helper()
	return tamper(t, token, 1, claims)
}

// TamperHeader merges members into token's header and keeps its signature.
func TamperHeader(t testing.TB, token string, members map[string]any) string {
	t.Helper()
	return tamper(t, token, 0, members)
}

func tamper(t testing.TB, token string, part int, members map[string]any) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[part])
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	if err != nil {
		t.Fatalf("testenv: tampering with token part %d: %v", part, err)
	}
	mergeOmit(m, members)
	parts[part] = b64(mustJSON(t, m))
	return strings.Join(parts, ".")
}

// SetLoginClaims sets the claims of the user /authorize signs in (merged
// over iss, aud, iat, exp and nonce in the ID token).
func (i *Issuer) SetLoginClaims(claims map[string]any) {
	i.mu.Lock()
	i.login = maps.Clone(claims)
	i.mu.Unlock()
}

func (i *Issuer) key(kid string) *issuerKey { i.mu.Lock(); defer i.mu.Unlock(); return i.keys[kid] }

// up reports whether to answer; when down it drops the connection.
func (i *Issuer) up(w http.ResponseWriter) bool {
	i.mu.Lock()
	down := i.down
	i.mu.Unlock()
	if down {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return false
	}
	return true
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	i.discN++
	iss := cmp.Or(i.discIss, i.URL())
	i.mu.Unlock()
	if !i.up(w) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              i.URL() + "/jwks",
		"authorization_endpoint":                i.URL() + "/authorize",
		"token_endpoint":                        i.URL() + "/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
		"token_endpoint_auth_methods_supported": []string{"none", "client_secret_post", "client_secret_basic"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	i.jwksN++
	hold := i.hold
	i.mu.Unlock()
	if hold != nil {
		select {
		case <-hold.ch:
		case <-r.Context().Done():
			return
		}
	}
	if !i.up(w) {
		return
	}
	i.mu.Lock()
	keys := []map[string]any{}
	for _, kid := range i.order {
		if k := i.keys[kid]; k.published {
			keys = append(keys, maps.Clone(k.jwk))
		}
	}
	i.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// serveAuthorize signs the login user in at once and redirects back with
// a code. It insists on PKCE with S256.
func (i *Issuer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if !i.up(w) {
		return
	}
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("client_id") == "":
		http.Error(w, "client_id is required", http.StatusBadRequest)
		return
	case err != nil || !redirect.IsAbs():
		http.Error(w, "redirect_uri must be an absolute URL", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE with code_challenge_method=S256 is required", http.StatusBadRequest)
		return
	}
	i.mu.Lock()
	i.codeSeed++
	code := fmt.Sprintf("code-%d-%x", i.codeSeed, randBytes(8))
	i.codes[code] = authCode{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), claims: maps.Clone(i.login)}
	i.mu.Unlock()
	rq := redirect.Query()
	rq.Set("code", code)
	rq.Set("iss", i.URL())
	if s := q.Get("state"); s != "" {
		rq.Set("state", s)
	}
	redirect.RawQuery = rq.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// serveToken exchanges a code (once) for an ID token (aud = client_id) and
// an access token (aud = "gatehouse"), checking redirect_uri, client_id and
// the PKCE verifier.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if !i.up(w) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	clientID := r.PostForm.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		clientID = id
	}
	code := r.PostForm.Get("code")
	i.mu.Lock()
	c, ok := i.codes[code]
	delete(i.codes, code)
	i.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code":
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
		return
	case !ok || c.clientID != clientID || c.redirectURI != r.PostForm.Get("redirect_uri"):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
		return
	case !hmac.Equal([]byte(b64(sum[:])), []byte(c.challenge)):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "PKCE verification failed"})
		return
	}
	idClaims := maps.Clone(c.claims)
	idClaims["aud"] = c.clientID
	if c.nonce != "" {
		idClaims["nonce"] = c.nonce
	}
	idToken, err := i.mint(TokenOptions{Claims: idClaims})
	access, err2 := i.mint(TokenOptions{Claims: c.claims})
	if err = cmp.Or(err, err2); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "server_error", "error_description": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "id_token": idToken,
		"token_type": "Bearer", "expires_in": 300})
}

// jwsSign signs input as RFC 7518 says for alg. It is deliberately not
// go-jose, so that tests do not check the verifier against itself.
func jwsSign(alg string, priv crypto.Signer, secret, input []byte) ([]byte, error) {
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	var h crypto.Hash
	if len(alg) == 5 {
		h = hashes[alg[2:]]
	}
	digest := func() []byte { d := h.New(); d.Write(input); return d.Sum(nil) }
	switch {
	case alg == "none":
		return nil, nil
	case alg == "EdDSA":
		k, ok := priv.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("EdDSA needs an Ed25519 key, have %T", priv)
		}
		return ed25519.Sign(k, input), nil
	case h == 0:
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	case strings.HasPrefix(alg, "HS"):
		newHash := map[crypto.Hash]func() hash.Hash{crypto.SHA256: sha256.New, crypto.SHA384: sha512.New384, crypto.SHA512: sha512.New}[h]
		m := hmac.New(newHash, secret)
		m.Write(input)
		return m.Sum(nil), nil
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		k, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s needs an RSA key, have %T", alg, priv)
		}
		if alg[0] == 'P' {
			return rsa.SignPSS(rand.Reader, k, h, digest(), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, k, h, digest())
	case strings.HasPrefix(alg, "ES"):
		k, ok := priv.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s needs an EC key, have %T", alg, priv)
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest())
		if err != nil {
			return nil, err
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		return append(r.FillBytes(make([]byte, n)), s.FillBytes(make([]byte, n))...), nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q", alg)
}

// publicJWK encodes a public key as an RFC 7517 JWK object.
func publicJWK(pub crypto.PublicKey) map[string]any {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		raw, _ := k.Bytes() // uncompressed point 0x04 || X || Y
		return map[string]any{"kty": "EC", "crv": k.Curve.Params().Name, "x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(k)}
	}
	panic(fmt.Sprintf("testenv: no JWK encoding for %T", pub))
}

// mergeOmit copies src over dst, deleting members whose value is Omit.
func mergeOmit(dst, src map[string]any) {
	for k, v := range src {
		if v == Omit {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
