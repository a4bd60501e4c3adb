package identity

import (
	"cmp"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultDevTTL is how long a dev token lives when DevClaims.TTL is zero.
const DefaultDevTTL = time.Hour

// DevIssuer signs tokens with a local Ed25519 key, for trying gatehouse
// out without an identity provider. A Verifier accepts its tokens only when
// Config.Dev is this issuer, and checks them against its key directly
// (no HTTP). It is immutable and safe for concurrent use.
type DevIssuer struct {
	key    ed25519.PrivateKey
	issuer string
	kid    string
}

// DevClaims describe a dev token. Zero fields take the defaults shown.
type DevClaims struct {
	// Subject becomes sub; required unless Extra sets "sub".
	Subject string
	// Groups become the "groups" claim.
	Groups []string
	// Email becomes email, with email_verified true.
	Email string
	// TTL is the token's lifetime from IssuedAt (DefaultDevTTL). A
	// negative TTL makes an already expired token.
	TTL time.Duration
	// Audience becomes aud (DefaultAudience).
	Audience string
	// IssuedAt becomes iat and nbf (time.Now()).
	IssuedAt time.Time
	// Extra claims are set last and may override any of the above,
	// including iss, aud and exp.
	Extra map[string]any
}

// NewDevIssuer returns a dev issuer signing with key as issuer ("" means
// DefaultDevIssuer). It panics if key is not an Ed25519 private key of the
// right length: load keys with ParseDevKey or GenerateDevKey.
func NewDevIssuer(key ed25519.PrivateKey, issuer string) *DevIssuer {
	if len(key) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("identity: NewDevIssuer: Ed25519 private key of %d bytes, want %d", len(key), ed25519.PrivateKeySize))
	}
	if issuer == "" {
		issuer = DefaultDevIssuer
	}
	jwk := jose.JSONWebKey{Key: key.Public()}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		panic("identity: NewDevIssuer: " + err.Error()) // cannot happen for a valid Ed25519 key
	}
	return &DevIssuer{key: key, issuer: issuer, kid: base64.RawURLEncoding.EncodeToString(thumb)}
}

// GenerateDevKey returns a fresh Ed25519 key for a dev issuer.
func GenerateDevKey() (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	return key, err
}

// MarshalDevKey encodes key as a PKCS#8 "PRIVATE KEY" PEM block, to be
// stored with owner-only permissions.
func MarshalDevKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("identity: encoding dev key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseDevKey decodes a PKCS#8 PEM block written by MarshalDevKey (or by
// `openssl genpkey -algorithm ed25519`). Anything else is an error.
func ParseDevKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New(`identity: dev key is not a PEM "PRIVATE KEY" block`)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity: dev key: %w", err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity: dev key is a %T, want Ed25519", key)
	}
	return ed, nil
}

// Issuer returns the iss of the tokens it signs.
func (d *DevIssuer) Issuer() string { return d.issuer }

// KeyID returns the kid of its key: the RFC 7638 SHA-256 thumbprint.
func (d *DevIssuer) KeyID() string { return d.kid }

// JWKS returns its public key set as JSON ({"keys":[...]}), fit to serve
// at a jwks_uri.
func (d *DevIssuer) JWKS() []byte {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{d.publicJWK()}})
	if err != nil {
		panic("identity: DevIssuer.JWKS: " + err.Error()) // cannot happen for a valid Ed25519 key
	}
	return b
}

func (d *DevIssuer) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: d.key.Public(), KeyID: d.kid, Algorithm: string(jose.EdDSA), Use: "sig"}
}

// Sign returns a signed dev token (EdDSA, with the issuer's kid).
func (d *DevIssuer) Sign(c DevClaims) (string, error) {
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultDevTTL
	}
	claims := map[string]any{
		"iss": d.issuer,
		"aud": cmp.Or(c.Audience, DefaultAudience),
		"iat": iat.Unix(),
		"nbf": iat.Unix(),
		"exp": iat.Add(ttl).Unix(),
	}
	if c.Subject != "" {
		claims["sub"] = c.Subject
	}
	if c.Groups != nil {
		claims["groups"] = c.Groups
	}
	if c.Email != "" {
		claims["email"], claims["email_verified"] = c.Email, true
	}
	maps.Copy(claims, c.Extra)
	if _, ok := claims["sub"]; !ok {
		return "", errors.New("identity: DevClaims.Subject is required")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("identity: dev token claims: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: d.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", d.kid))
	if err != nil {
		return "", fmt.Errorf("identity: dev signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("identity: signing dev token: %w", err)
	}
	return jws.CompactSerialize()
}
