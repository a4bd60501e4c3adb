package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// allowedAlgs are the only signature algorithms accepted, in any header or
// key. Never "none", never HMAC: a shared secret cannot prove an issuer.
var allowedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA,
}

var allowedAlgsText = func() string {
	names := make([]string, len(allowedAlgs))
	for i, a := range allowedAlgs {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}()

// Verifier checks tokens against the configured issuers. It implements
// gate.Authenticator and is safe for concurrent use. Build it with New.
type Verifier struct {
	issuers map[string]*issuer // by exact iss
	clock   gate.Clock
	log     *slog.Logger
	devOff  bool // no dev issuer configured, for a hint in errors
}

var _ gate.Authenticator = (*Verifier)(nil)

// issuer is one accepted iss and how its tokens are checked.
type issuer struct {
	url         string
	audience    string
	groupsClaim string
	keys        keySource
}

// New checks cfg and returns a Verifier. It does not wait for any issuer:
// each issuer's discovery and key set are fetched in the background, and a
// token that arrives first waits for that fetch (bounded by its context).
// An issuer that cannot be reached is logged and retried lazily.
func New(cfg Config) (*Verifier, error) {
	cfg.Issuers = slices.Clone(cfg.Issuers) // validate fills defaults in place
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	v := &Verifier{issuers: map[string]*issuer{}, clock: cfg.Clock, log: cfg.Logger, devOff: cfg.Dev == nil}
	var remotes []*remoteKeys
	for _, ic := range cfg.Issuers {
		rk := newRemoteKeys(ic.URL, cfg.HTTPClient, cfg.Clock, cfg.Logger)
		remotes = append(remotes, rk)
		v.issuers[ic.URL] = &issuer{url: ic.URL, audience: ic.Audience, groupsClaim: ic.GroupsClaim, keys: rk}
	}
	if d := cfg.Dev; d != nil {
		v.issuers[d.issuer] = &issuer{url: d.issuer, audience: DefaultAudience, groupsClaim: DefaultGroupsClaim,
			keys: staticKeys{issuer: d.issuer, keys: []jose.JSONWebKey{d.publicJWK()}}}
		cfg.Logger.Warn("identity: the dev issuer is enabled; tokens it signs are accepted (not for production)", "issuer", d.issuer)
	}
	for _, rk := range remotes {
		rk.start()
	}
	return v, nil
}

// Authenticate verifies token and returns the identity it proves. Every
// failure is a *gate.AuthError (see the reasons in errors.go); neither its
// text nor any log line contains the token. The returned identity is fresh
// and owned by the caller, but treat it as immutable.
//
// Order of checks: size and shape; header (alg allow-list, no crit, not
// nested); iss (unverified, only to pick the issuer); signature with that
// issuer's keys alone; then aud, exp, nbf, iat and the identity claims.
func (v *Verifier) Authenticate(ctx context.Context, token string) (*gate.Identity, error) {
	jws, err := parseToken(token)
	if err != nil {
		return nil, err
	}
	claims, err := decodeClaims(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil, err
	}
	iss, err := v.pick(claims)
	if err != nil {
		return nil, err
	}
	if err := iss.verify(ctx, jws); err != nil {
		return nil, err
	}
	return iss.identity(claims, v.clock.Now())
}

// pick returns the issuer the token claims to come from. Nothing about the
// token is trusted yet; the choice only limits which keys may verify it.
func (v *Verifier) pick(claims map[string]any) (*issuer, error) {
	raw, ok := claims["iss"]
	if !ok {
		return nil, fail(reasonIssuer, `token has no "iss" claim`)
	}
	iss, ok := raw.(string)
	if !ok {
		return nil, fail(reasonMalformed, `token claim "iss" is not a string`)
	}
	if is := v.issuers[iss]; is != nil {
		return is, nil
	}
	if v.devOff && iss == DefaultDevIssuer {
		return nil, fail(reasonIssuer, "issuer %s is not configured (dev tokens are accepted only when the dev issuer is enabled)", quote(iss))
	}
	return nil, fail(reasonIssuer, "issuer %s is not configured", quote(iss))
}

// parseToken checks the token's size and shape and parses its JWS header,
// enforcing the algorithm allow-list. The signature is not checked yet.
func parseToken(token string) (*jose.JSONWebSignature, error) {
	switch {
	case token == "":
		return nil, fail(reasonMissing, "no token was presented")
	case len(token) > MaxTokenSize:
		return nil, fail(reasonTooLarge, "token is %d bytes, over the %d-byte limit", len(token), MaxTokenSize)
	case token[0] == '{':
		return nil, fail(reasonMalformed, "token uses the JWS JSON serialization; only the compact form header.payload.signature is accepted")
	}
	switch dots := strings.Count(token, "."); {
	case dots == 4:
		return nil, fail(reasonMalformed, "token is an encrypted JWT (JWE, five parts); only signed JWTs (JWS, three parts) are accepted")
	case dots != 2:
		return nil, fail(reasonMalformed, "token is not a JWT: it has %d dot-separated parts, want 3 (header.payload.signature)", dots+1)
	}
	for seg := range strings.SplitSeq(token, ".") {
		if !canonicalBase64(seg) {
			return nil, fail(reasonMalformed, "token is not a JWT: a part is not canonical unpadded base64url")
		}
	}
	jws, err := jose.ParseSignedCompact(token, allowedAlgs)
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		switch {
		case errors.As(err, &algErr) && algErr.Got == "":
			return nil, fail(reasonAlgorithm, `token header has no "alg"`)
		case errors.As(err, &algErr):
			return nil, fail(reasonAlgorithm, "token algorithm %s is not allowed (allowed: %s)", quote(string(algErr.Got)), allowedAlgsText)
		}
		// go-jose's message may quote header values; say what is wrong
		// without it.
		return nil, fail(reasonMalformed, "token is not a JWT: its header or payload is not base64url-encoded JSON of the right shape")
	}
	sig := jws.Signatures[0] // compact serialization: exactly one
	if len(sig.Signature) == 0 {
		return nil, fail(reasonSignature, "token has no signature")
	}
	if _, ok := sig.Protected.ExtraHeaders["crit"]; ok {
		return nil, fail(reasonMalformed, `token header lists critical extensions ("crit"), which are not supported`)
	}
	if cty, _ := sig.Protected.ExtraHeaders[jose.HeaderContentType].(string); strings.EqualFold(cty, "JWT") {
		return nil, fail(reasonMalformed, `token is a nested JWT (cty "JWT"); only a plain signed JWT is accepted`)
	}
	return jws, nil
}

// verify checks the signature with is's keys only. A key is tried only if
// it fits the header's alg: its own "alg", if it has one, must be the same,
// and its type and curve must be the algorithm's.
func (is *issuer) verify(ctx context.Context, jws *jose.JSONWebSignature) error {
	h := jws.Signatures[0].Header
	keys, err := is.keys.lookup(ctx, h.KeyID)
	if err != nil {
		return err
	}
	tried, misfit := 0, ""
	for i := range keys {
		k := &keys[i]
		if why := keyMisfit(k, h.Algorithm); why != "" {
			misfit = why
			continue
		}
		tried++
		if _, err := jws.Verify(k.Key); err == nil {
			return nil
		}
	}
	switch {
	case tried == 0 && h.KeyID != "":
		return fail(reasonAlgorithm, "token algorithm %s cannot be used with key %s of issuer %q: the key %s", h.Algorithm, quote(h.KeyID), is.url, misfit)
	case tried == 0:
		return fail(reasonAlgorithm, "issuer %q has no key for token algorithm %s", is.url, h.Algorithm)
	case h.KeyID != "":
		return fail(reasonSignature, "token signature does not verify with key %s of issuer %q", quote(h.KeyID), is.url)
	}
	return fail(reasonSignature, "token has no key id and its signature verifies with no key of issuer %q", is.url)
}

// keyMisfit says why k cannot check a signature made with alg ("" if it can).
func keyMisfit(k *jose.JSONWebKey, alg string) string {
	if k.Algorithm != "" && k.Algorithm != alg {
		return "is for " + quote(k.Algorithm)
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS") {
			return ""
		}
		return "is an RSA key"
	case *ecdsa.PublicKey:
		if alg == "ES256" && pub.Curve == elliptic.P256() || alg == "ES384" && pub.Curve == elliptic.P384() {
			return ""
		}
		return "is an EC key on " + pub.Curve.Params().Name
	case ed25519.PublicKey:
		if alg == "EdDSA" {
			return ""
		}
		return "is an Ed25519 key"
	}
	return fmt.Sprintf("is of unsupported type %T", k.Key)
}

// canonicalBase64 reports whether seg could be the unpadded base64url
// encoding of some bytes with the unused low bits zero, so that one
// token has exactly one spelling. Other bad characters are left to the
// decoder.
func canonicalBase64(seg string) bool {
	var mask byte
	switch len(seg) % 4 {
	case 0:
		return true
	case 1:
		return false
	case 2:
		mask = 0x0f
	case 3:
		mask = 0x03
	}
	i := strings.IndexByte(base64URLAlphabet, seg[len(seg)-1])
	return i >= 0 && byte(i)&mask == 0
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
