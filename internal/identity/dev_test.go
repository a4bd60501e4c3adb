package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

func newDev(t *testing.T) *DevIssuer {
	key, err := GenerateDevKey()
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := MarshalDevKey(key)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseDevKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Equal(key) {
		t.Fatal("ParseDevKey(MarshalDevKey(k)) != k")
	}
	return NewDevIssuer(again, "")
}

func TestDevIssuerRoundTrip(t *testing.T) {
	dev := newDev(t)
	if dev.Issuer() != DefaultDevIssuer {
		t.Fatalf("issuer %q", dev.Issuer())
	}
	// Dev only: no HTTP issuer at all.
	e := newEnv(t, func(c *Config) { c.Issuers = nil; c.Dev = dev })
	tok, err := dev.Sign(DevClaims{Subject: "alice-bot", Groups: []string{"platform"}, Email: "alice@example.com", IssuedAt: t0,
		Extra: map[string]any{"scope": "db:read"}})
	if err != nil {
		t.Fatal(err)
	}
	id := e.mustAuth(t, tok)
	want := struct {
		iss, sub, email string
		groups, scopes  []string
		exp             time.Time
	}{DefaultDevIssuer, "alice-bot", "alice@example.com", []string{"platform"}, []string{"db:read"}, t0.Add(DefaultDevTTL + ClockSkew)}
	if id.Issuer != want.iss || id.Subject != want.sub || id.Email != want.email || !reflect.DeepEqual(id.Groups, want.groups) ||
		!reflect.DeepEqual(id.Scopes, want.scopes) || !id.Expiry.Equal(want.exp) {
		t.Errorf("identity %+v", id)
	}
	if h := header(t, tok); h["alg"] != "EdDSA" || h["kid"] != dev.KeyID() {
		t.Errorf("header %v", h)
	}

	// Defaults and refusals through the dev path.
	expired, _ := dev.Sign(DevClaims{Subject: "a", IssuedAt: t0, TTL: -2 * time.Minute})
	e.mustFail(t, expired, "expired")
	wrongAud, _ := dev.Sign(DevClaims{Subject: "a", IssuedAt: t0, Audience: "other"})
	e.mustFail(t, wrongAud, "audience", `"other"`)
	if _, err := dev.Sign(DevClaims{}); err == nil {
		t.Error("Sign without a subject succeeded")
	}
	// Another dev key under the same issuer name is not accepted.
	impostor, _ := newDev(t).Sign(DevClaims{Subject: "a", IssuedAt: t0})
	e.mustFail(t, impostor, "signature", "is not the key of dev issuer")
	// Neither is the right key under another kid.
	e.mustFail(t, testenv.TamperHeader(t, tok, map[string]any{"kid": "x"}), "signature", `"x"`)
}

func TestDevTokenRefusedWithoutDev(t *testing.T) {
	dev := newDev(t)
	e := newEnv(t)
	tok, _ := dev.Sign(DevClaims{Subject: "a", IssuedAt: t0})
	e.mustFail(t, tok, "issuer", `issuer "gatehouse-dev" is not configured`, "dev issuer is enabled")
	custom := NewDevIssuer(mustKey(t), "my-dev")
	tok, _ = custom.Sign(DevClaims{Subject: "a", IssuedAt: t0})
	e.mustFail(t, tok, "issuer", `issuer "my-dev" is not configured`)
}

func TestDevKeyWithAnotherIssuerRefused(t *testing.T) {
	dev := newDev(t)
	e := newEnv(t, func(c *Config) { c.Dev = dev })
	// A real dev token is fine alongside the OIDC issuer.
	ok, _ := dev.Sign(DevClaims{Subject: "a", IssuedAt: t0})
	e.mustAuth(t, ok)
	// Signed by the dev key but claiming the OIDC issuer: only that
	// issuer's keys may verify it.
	forged, _ := dev.Sign(DevClaims{Subject: "a", IssuedAt: t0, Extra: map[string]any{"iss": e.iss.URL()}})
	e.mustFail(t, forged, "signature", "not among the keys of issuer")
	forged, _ = dev.Sign(DevClaims{Subject: "a", IssuedAt: t0, Extra: map[string]any{"iss": "https://token.actions.githubusercontent.com"}})
	e.mustFail(t, forged, "issuer", "not configured")
	// And an OIDC issuer's token claiming the dev issuer is refused too.
	e.mustFail(t, e.iss.Token(t, map[string]any{"iss": DefaultDevIssuer}), "signature", "not the key of dev issuer")
}

func TestDevJWKS(t *testing.T) {
	dev := newDev(t)
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(dev.JWKS(), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", dev.JWKS(), err)
	}
	k, err := parseJWK(set.Keys[0])
	if err != nil {
		t.Fatalf("dev JWKS key unusable: %v", err)
	}
	if k.KeyID != dev.KeyID() || k.Algorithm != "EdDSA" || k.Use != "sig" {
		t.Errorf("JWK %+v", k)
	}
	if bytes.Contains(dev.JWKS(), []byte(`"d"`)) {
		t.Error("JWKS holds the private key")
	}
}

func TestParseDevKeyRefusesOthers(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	for name, in := range map[string][]byte{
		"garbage":     []byte("not pem"),
		"EC key":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"wrong block": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"bad DER":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := ParseDevKey(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Ed25519") {
			t.Errorf("NewDevIssuer(nil) did not panic clearly: %v", r)
		}
	}()
	NewDevIssuer(nil, "")
}

func mustKey(t testing.TB) ed25519.PrivateKey {
	k, err := GenerateDevKey()
	if err != nil {
		panic(err)
	}
	return k
}

func TestConfigValidation(t *testing.T) {
	dev := newDev(t)
	for name, cfg := range map[string]Config{
		"nothing":        {},
		"plain http":     {Issuers: []IssuerConfig{{URL: "http://idp.example.com"}}},
		"relative":       {Issuers: []IssuerConfig{{URL: "idp.example.com"}}},
		"query":          {Issuers: []IssuerConfig{{URL: "https://idp.example.com/?x=1"}}},
		"fragment":       {Issuers: []IssuerConfig{{URL: "https://idp.example.com/#x"}}},
		"twice":          {Issuers: []IssuerConfig{{URL: "https://a.example"}, {URL: "https://a.example"}}},
		"dev collides":   {Issuers: []IssuerConfig{{URL: "https://a.example"}}, Dev: NewDevIssuer(dev.key, "https://a.example")},
		"user info":      {Issuers: []IssuerConfig{{URL: "https://u:p@a.example"}}},
		"ftp":            {Issuers: []IssuerConfig{{URL: "ftp://a.example"}}},
		"http not local": {Issuers: []IssuerConfig{{URL: "http://10.0.0.1"}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	issuers := []IssuerConfig{{URL: "https://idp.example.invalid"}, {URL: "http://localhost:9"}, {URL: "http://[::1]:9"}}
	v, err := New(Config{Issuers: issuers, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if issuers[0].Audience != "" {
		t.Error("New changed the caller's Config")
	}
	if is := v.issuers["https://idp.example.invalid"]; is.audience != DefaultAudience || is.groupsClaim != DefaultGroupsClaim {
		t.Errorf("defaults: %+v", is)
	}
}
