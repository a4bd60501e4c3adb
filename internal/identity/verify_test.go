package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestValidTokenForEachKeyType(t *testing.T) {
	e := newEnv(t)
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"} {
		kid := e.iss.KeyFor(alg)
		if kid == "" {
			kid = e.iss.AddKey(t, alg)
		}
		_ = kid
	}
	// The keys above were added after the start-up fetch: let the rate
	// limit pass so the next unknown kid refetches.
	e.settle()
	e.clock.Advance(refetchInterval)
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			tok := e.iss.TokenWith(t, testenv.TokenOptions{Key: e.iss.KeyFor(alg), Claims: map[string]any{"sub": "bot-" + alg}})
			if h := header(t, tok); h["alg"] != alg {
				t.Fatalf("minted alg %v, want %s", h["alg"], alg)
			}
			id := e.mustAuth(t, tok)
			if id.Subject != "bot-"+alg || id.Issuer != e.iss.URL() {
				t.Errorf("identity %+v", id)
			}
			if want := e.clock.Now().Add(5 * time.Minute).Truncate(time.Second).Add(ClockSkew); !id.Expiry.Equal(want) {
				t.Errorf("Expiry %v, want %v", id.Expiry, want)
			}
		})
	}
	if n := e.iss.JWKSFetches(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (start-up, then one refetch for the new kids)", n)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	iss := e.iss
	rsaKid, ecKid, edKid := iss.KeyFor("RS256"), iss.KeyFor("ES256"), iss.KeyFor("EdDSA")
	good := iss.Token(t, nil)
	e.mustAuth(t, good)
	parts := strings.Split(good, ".")
	now := e.clock.Now()

	// Another issuer, trusted by nobody here, with its own keys.
	other := testenv.NewIssuer(t)
	other.SetClock(e.clock.Now)

	cases := []struct {
		name, token, reason string
		details             []string
	}{
		{"empty", "", "missing", []string{"no token"}},
		{"too large", iss.Token(t, map[string]any{"pad": strings.Repeat("x", MaxTokenSize)}), "too_large", []string{"16384-byte limit"}},
		{"one part", "abc", "malformed", []string{"1 dot-separated parts"}},
		{"two parts", parts[0] + "." + parts[1], "malformed", []string{"2 dot-separated parts"}},
		{"four parts", good + ".x", "malformed", []string{"4 dot-separated parts"}},
		{"JWE compact", jweToken(t), "malformed", []string{"encrypted JWT (JWE"}},
		{"JWS JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, "malformed", []string{"JSON serialization"}},
		{"bearer prefix", "Bearer " + good, "malformed", []string{"not a JWT"}},
		{"header not JSON", b64("nope") + "." + parts[1] + "." + parts[2], "malformed", []string{"not base64url-encoded JSON"}},
		{"bad base64", parts[0] + "." + parts[1] + "*." + parts[2], "malformed", nil},
		{"non-canonical base64", nonCanonical(t, good), "malformed", []string{"canonical"}},
		{"payload not an object", iss.TokenWith(t, testenv.TokenOptions{Payload: []byte(`["sub"]`)}), "malformed", []string{"payload is not a JSON object"}},
		{"payload not JSON", iss.TokenWith(t, testenv.TokenOptions{Payload: []byte("hello")}), "malformed", []string{"payload is not a JSON object"}},
		{"nested JWT", iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"cty": "JWT"}}), "malformed", []string{"nested"}},
		{"crit header", iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"crit": []string{"exp"}, "exp": 1}}), "malformed", []string{"crit"}},
		{"b64 false", iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"crit": []string{"b64"}, "b64": false}}), "malformed", []string{"crit"}},
		{"exp missing", iss.Token(t, map[string]any{"exp": testenv.Omit}), "malformed", []string{`no "exp" claim`}},
		{"exp a string", iss.Token(t, map[string]any{"exp": "tomorrow"}), "malformed", []string{`"exp" is not a date`}},
		{"exp absurd", iss.Token(t, map[string]any{"exp": 1e300}), "malformed", []string{`"exp" is not a date`}},
		{"sub missing", iss.Token(t, map[string]any{"sub": testenv.Omit}), "malformed", []string{`no "sub" claim`}},
		{"sub not a string", iss.Token(t, map[string]any{"sub": 42}), "malformed", []string{`no "sub" claim`}},
		{"iss not a string", iss.Token(t, map[string]any{"iss": []string{iss.URL()}}), "malformed", []string{`"iss" is not a string`}},
		{"aud a number", iss.Token(t, map[string]any{"aud": 7}), "malformed", []string{`"aud"`}},

		{"alg none", iss.TokenWith(t, testenv.TokenOptions{Alg: "none"}), "algorithm", []string{`"none" is not allowed`}},
		{"alg none with a signature", iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"alg": "none"}}), "algorithm", []string{`"none"`}},
		{"alg None", iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"alg": "None"}}), "algorithm", []string{`"None"`}},
		{"alg missing", iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"alg": testenv.Omit}}), "algorithm", []string{`no "alg"`}},
		{"HS256 keyed with the RSA public key PEM", iss.TokenWith(t, testenv.TokenOptions{Alg: "HS256", HMACSecret: iss.PublicKeyPEM(t, rsaKid)}), "algorithm", []string{`"HS256" is not allowed`}},
		{"HS512 keyed with the EC public key PEM", iss.TokenWith(t, testenv.TokenOptions{Key: ecKid, Alg: "HS512", HMACSecret: iss.PublicKeyPEM(t, ecKid)}), "algorithm", []string{`"HS512"`}},
		{"ES512", iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"alg": "ES512"}}), "algorithm", []string{`"ES512"`}},
		{"RS256 signed, kid of the EC key", iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"kid": ecKid}}), "algorithm", []string{"is for \"ES256\""}},
		{"ES256 signed, kid of the RSA key", iss.TokenWith(t, testenv.TokenOptions{Key: ecKid, Header: map[string]any{"kid": rsaKid}}), "algorithm", []string{`"RS256"`}},
		{"EdDSA signed, kid of the RSA key", iss.TokenWith(t, testenv.TokenOptions{Key: edKid, Header: map[string]any{"kid": rsaKid}}), "algorithm", []string{rsaKid}},

		{"stripped signature", testenv.StripSignature(good), "signature", []string{"no signature"}},
		{"tampered payload", testenv.TamperClaims(t, good, map[string]any{"sub": "admin"}), "signature", []string{"does not verify", rsaKid}},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(iss.Token(t, map[string]any{"sub": "x"}), ".")[2], "signature", []string{"does not verify"}},
		{"other issuer's key under our kid", other.TokenWith(t, testenv.TokenOptions{Claims: map[string]any{"iss": iss.URL()}, Header: map[string]any{"kid": rsaKid}}), "signature", []string{"does not verify"}},
		{"other issuer's key and kid", other.Token(t, map[string]any{"iss": iss.URL()}), "signature", []string{"not among the keys"}},
		{"no kid, wrong key", other.TokenWith(t, testenv.TokenOptions{Claims: map[string]any{"iss": iss.URL()}, Header: map[string]any{"kid": testenv.Omit}}), "signature", []string{"no key id"}},

		{"iss not configured", other.Token(t, nil), "issuer", []string{`issuer "` + other.URL() + `" is not configured`}},
		{"iss missing", iss.Token(t, map[string]any{"iss": testenv.Omit}), "issuer", []string{`no "iss"`}},
		{"iss with trailing slash", iss.Token(t, map[string]any{"iss": iss.URL() + "/"}), "issuer", []string{"not configured"}},
		{"dev iss without dev", iss.Token(t, map[string]any{"iss": DefaultDevIssuer}), "issuer", []string{"dev issuer is enabled"}},
		{"iss very long", iss.Token(t, map[string]any{"iss": strings.Repeat("h", 5000)}), "issuer", []string{`hhh"...`}},

		{"aud other", iss.Token(t, map[string]any{"aud": "ci"}), "audience", []string{`token audience ["ci"] does not include "gatehouse"`}},
		{"aud array without ours", iss.Token(t, map[string]any{"aud": []string{"ci", "deploy"}}), "audience", []string{`["ci", "deploy"]`}},
		{"aud missing", iss.Token(t, map[string]any{"aud": testenv.Omit}), "audience", []string{`no "aud"`}},
		{"aud prefix", iss.Token(t, map[string]any{"aud": "gatehouse2"}), "audience", nil},

		{"expired", iss.Token(t, map[string]any{"exp": now.Add(-3 * time.Minute).Unix(), "iat": now.Add(-time.Hour).Unix()}), "expired",
			[]string{"token expired at 2026-11-26T09:57:00Z (now 2026-11-26T10:00:00Z)"}},
		{"exp 61s ago", iss.Token(t, map[string]any{"exp": now.Add(-61 * time.Second).Unix()}), "expired", nil},
		{"exp 60s ago", iss.Token(t, map[string]any{"exp": now.Add(-60 * time.Second).Unix()}), "expired", nil},
		{"nbf in 61s", iss.Token(t, map[string]any{"nbf": now.Add(61 * time.Second).Unix()}), "not_yet_valid",
			[]string{"not valid before 2026-11-26T10:01:01Z (now 2026-11-26T10:00:00Z)"}},
		{"iat in 61s", iss.Token(t, map[string]any{"iat": now.Add(61 * time.Second).Unix()}), "issued_in_future",
			[]string{"issued at 2026-11-26T10:01:01Z"}},
		{"nbf a string", iss.Token(t, map[string]any{"nbf": "now"}), "malformed", []string{`"nbf"`}},
		{"iat negative", iss.Token(t, map[string]any{"iat": -5}), "malformed", []string{`"iat"`}},
		{"groups an object", iss.Token(t, map[string]any{"groups": map[string]any{"a": 1}}), "malformed", []string{`"groups"`}},
		{"groups with a number", iss.Token(t, map[string]any{"groups": []any{"ok", 3}}), "malformed", []string{`"groups"`}},
		{"scp a number", iss.Token(t, map[string]any{"scp": 3}), "malformed", []string{`"scp"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { e.mustFail(t, c.token, c.reason, c.details...) })
	}
	if n := e.iss.JWKSFetches(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1: no refusal may refetch within the minute", n)
	}
}

func TestClockSkewBoundaries(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	ok := map[string]map[string]any{
		"exp 59s ago":   {"exp": now.Add(-59 * time.Second).Unix(), "iat": now.Add(-time.Hour).Unix()},
		"exp 1s ahead":  {"exp": now.Add(time.Second).Unix()},
		"nbf 59s ahead": {"nbf": now.Add(59 * time.Second).Unix()},
		"nbf 60s ahead": {"nbf": now.Add(60 * time.Second).Unix()},
		"iat 59s ahead": {"iat": now.Add(59 * time.Second).Unix()},
		"iat 60s ahead": {"iat": now.Add(60 * time.Second).Unix()},
		"fractional":    {"exp": float64(now.Unix()) + 0.5, "iat": float64(now.Unix()) - 0.25},
	}
	for name, claims := range ok {
		t.Run(name, func(t *testing.T) { e.mustAuth(t, e.iss.Token(t, claims)) })
	}
	// The same token, as the clock moves: accepted 59 s after exp,
	// refused 61 s after.
	tok := e.iss.Token(t, map[string]any{"exp": now.Unix()})
	e.clock.Advance(59 * time.Second)
	e.mustAuth(t, tok)
	e.clock.Advance(2 * time.Second)
	e.mustFail(t, tok, "expired", "token expired at 2026-11-26T10:00:00Z (now 2026-11-26T10:01:01Z)")
}

func TestAudienceArrays(t *testing.T) {
	e := newEnv(t)
	e.mustAuth(t, e.iss.Token(t, map[string]any{"aud": []string{"ci", "gatehouse"}}))
	e.mustAuth(t, e.iss.Token(t, map[string]any{"aud": []string{"gatehouse"}}))
	e.mustFail(t, e.iss.Token(t, map[string]any{"aud": []string{}}), "audience", "[]")
	e.mustFail(t, e.iss.Token(t, map[string]any{"aud": []any{"gatehouse", 1}}), "malformed", `"aud"`)
}

func TestJWKSKeyAlgConflict(t *testing.T) {
	iss := testenv.NewIssuer(t)
	rsaKid := iss.KeyFor("RS256")
	iss.EditJWK(rsaKid, func(jwk map[string]any) { jwk["alg"] = "RS512" })
	e := newEnvFor(t, iss)
	e.mustFail(t, e.iss.Token(t, nil), "algorithm", `cannot be used with key "`+rsaKid+`"`, `is for "RS512"`)
}

func TestTokenNamesNoKid(t *testing.T) {
	e := newEnv(t)
	// Without a kid every key of the issuer that fits the alg is tried.
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		e.mustAuth(t, e.iss.TokenWith(t, testenv.TokenOptions{Key: e.iss.KeyFor(alg), Header: map[string]any{"kid": testenv.Omit}}))
	}
	e.mustFail(t, e.iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"kid": testenv.Omit, "alg": "ES384"}}),
		"algorithm", "no key for token algorithm ES384")
}

// jweToken is a genuine compact JWE carrying claims.
func jweToken(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: &k.PublicKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := enc.Encrypt([]byte(`{"iss":"x","sub":"y"}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// nonCanonical respells the token's signature with the same bytes but
// nonzero unused bits in its last character.
func nonCanonical(t *testing.T, tok string) string {
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	if len(sig)%4 == 0 {
		t.Fatalf("signature length %d has no unused bits", len(sig))
	}
	last := strings.IndexByte(base64URLAlphabet, sig[len(sig)-1])
	respelled := sig[:len(sig)-1] + string(base64URLAlphabet[last+1])
	a, _ := base64.RawURLEncoding.DecodeString(sig)
	b, err := base64.RawURLEncoding.DecodeString(respelled)
	if err != nil || string(a) != string(b) {
		t.Fatalf("respelling changed the bytes (%v)", err)
	}
	return tok[:len(tok)-len(sig)] + respelled
}

func header(t *testing.T, tok string) map[string]any {
	var h map[string]any
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err == nil {
		err = json.Unmarshal(raw, &h)
	}
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
