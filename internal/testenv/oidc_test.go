package testenv

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func getJSONT(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// verifyWithJWKS checks tok against the issuer's published keys with
// go-jose: an independent check of the hand-rolled signing.
func verifyWithJWKS(t *testing.T, i *Issuer, tok string) (map[string]any, error) {
	t.Helper()
	var set jose.JSONWebKeySet
	getJSONT(t, i.URL()+"/jwks", &set)
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.EdDSA})
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(&set)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(payload, &claims)
}

func TestIssuerDiscoveryAndSigning(t *testing.T) {
	i := NewIssuer(t)
	var doc map[string]any
	getJSONT(t, i.URL()+"/.well-known/openid-configuration", &doc)
	if doc["issuer"] != i.URL() || doc["jwks_uri"] != i.URL()+"/jwks" {
		t.Fatalf("discovery %v", doc)
	}
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"} {
		kid := i.KeyFor(alg)
		if kid == "" {
			kid = i.AddKey(t, alg)
		}
		claims, err := verifyWithJWKS(t, i, i.TokenWith(t, TokenOptions{Key: kid, Claims: map[string]any{"sub": alg}}))
		if err != nil || claims["sub"] != alg || claims["iss"] != i.URL() {
			t.Errorf("%s: %v %v", alg, claims, err)
		}
	}
	if i.JWKSFetches() == 0 || i.DiscoveryFetches() != 1 {
		t.Errorf("counters %d %d", i.JWKSFetches(), i.DiscoveryFetches())
	}
	// Broken tokens are really broken.
	good := i.Token(t, nil)
	for name, tok := range map[string]string{
		"stripped": StripSignature(good),
		"tampered": TamperClaims(t, good, map[string]any{"sub": "x"}),
		"header":   TamperHeader(t, good, map[string]any{"typ": "x"}),
	} {
		if _, err := verifyWithJWKS(t, i, tok); err == nil {
			t.Errorf("%s token verified", name)
		}
	}
	if claims, err := verifyWithJWKS(t, i, i.Token(t, map[string]any{"exp": Omit})); err != nil || claims["exp"] != nil || claims["iat"] == nil {
		t.Errorf("Omit: %v %v", claims, err)
	}
}

func TestIssuerRotation(t *testing.T) {
	i := NewIssuer(t)
	old := i.DefaultKey()
	kid := i.Rotate(t)
	if kid == old || i.DefaultKey() != kid {
		t.Fatal("Rotate did not change the default key")
	}
	i.RemoveKey(old)
	var set struct{ Keys []map[string]any }
	getJSONT(t, i.URL()+"/jwks", &set)
	kids := map[string]bool{}
	for _, k := range set.Keys {
		kids[k["kid"].(string)] = true
		if _, private := k["d"]; private {
			t.Error("JWKS publishes a private key")
		}
	}
	if kids[old] || !kids[kid] || len(kids) != 3 {
		t.Errorf("published %v", kids)
	}
	if _, err := verifyWithJWKS(t, i, i.TokenWith(t, TokenOptions{Key: old})); err == nil {
		t.Error("token of a removed key verified")
	}
}

func TestIssuerDownAndHeld(t *testing.T) {
	i := NewIssuer(t)
	i.SetDown(true)
	if _, err := http.Get(i.URL() + "/jwks"); err == nil {
		t.Error("a down issuer answered")
	}
	i.SetDown(false)
	release := i.HoldJWKS()
	done := make(chan struct{})
	go func() {
		resp, err := http.Get(i.URL() + "/jwks")
		if err == nil {
			resp.Body.Close()
		}
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("held JWKS request answered")
	default:
	}
	release()
	<-done
	release()
}

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	i := NewIssuer(t)
	i.SetLoginClaims(map[string]any{"sub": "alice", "email": "alice@example.com"})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	redirect := "http://127.0.0.1:1/callback"

	authorize := func(q url.Values) *http.Response {
		resp, err := client.Get(i.URL() + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	q := url.Values{"response_type": {"code"}, "client_id": {"ui"}, "redirect_uri": {redirect}, "state": {"s1"},
		"nonce": {"n1"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	noPKCE := url.Values{}
	for k, v := range q {
		noPKCE[k] = v
	}
	noPKCE.Set("code_challenge_method", "plain")
	if resp := authorize(noPKCE); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain PKCE: %s", resp.Status)
	}
	code := func() string {
		resp := authorize(q)
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("state") != "s1" || !strings.HasPrefix(loc.String(), redirect) {
			t.Fatalf("authorize: %s %v", resp.Status, resp.Header.Get("Location"))
		}
		return loc.Query().Get("code")
	}
	exchange := func(code, verifier, redirect string) (int, map[string]any) {
		resp, err := http.PostForm(i.URL()+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {"ui"}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if status, body := exchange(code(), "wrong-verifier-wrong-verifier-wrong-verifier", redirect); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %d %v", status, body)
	}
	if status, _ := exchange(code(), verifier, redirect+"x"); status != 400 {
		t.Errorf("other redirect_uri: %d", status)
	}
	c := code()
	status, body := exchange(c, verifier, redirect)
	if status != 200 {
		t.Fatalf("exchange: %d %v", status, body)
	}
	claims, err := verifyWithJWKS(t, i, body["id_token"].(string))
	if err != nil || claims["sub"] != "alice" || claims["aud"] != "ui" || claims["nonce"] != "n1" || claims["iss"] != i.URL() {
		t.Errorf("id_token claims %v %v", claims, err)
	}
	claims, err = verifyWithJWKS(t, i, body["access_token"].(string))
	if err != nil || claims["aud"] != "gatehouse" {
		t.Errorf("access_token claims %v %v", claims, err)
	}
	if status, _ := exchange(c, verifier, redirect); status != 400 {
		t.Errorf("code used twice: %d", status)
	}
}
