package identity

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

var knownReasons = []string{reasonMissing, reasonTooLarge, reasonMalformed, reasonAlgorithm, reasonSignature, reasonIssuer,
	reasonAudience, reasonExpired, reasonNotYetValid, reasonIssuedInFuture, reasonKeysUnavailable}

// FuzzAuthenticate feeds arbitrary strings to a Verifier trusting a live
// testenv issuer and a dev issuer. Properties: no panic; a failure is a
// *gate.AuthError with a known reason that does not quote the token; and
// nothing authenticates except the genuine tokens minted here (the fuzzer
// cannot sign, so any other success is a forgery).
func FuzzAuthenticate(f *testing.F) {
	dev := NewDevIssuer(mustKey(nil), "")
	e := newEnv(f, func(c *Config) { c.Dev = dev })
	iss := e.iss
	genuine := map[string]bool{}
	mint := func(tok string) string { genuine[tok] = true; return tok }
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		f.Add(mint(iss.TokenWith(f, testenv.TokenOptions{Key: iss.KeyFor(alg), Claims: map[string]any{"groups": []string{"a"}, "scope": "x y"}})))
	}
	devTok, err := dev.Sign(DevClaims{Subject: "bot", Groups: []string{"g"}, IssuedAt: t0})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mint(devTok))
	good := iss.Token(f, nil)
	f.Add(testenv.StripSignature(good))
	f.Add(testenv.TamperClaims(f, good, map[string]any{"sub": "root"}))
	f.Add(testenv.TamperHeader(f, good, map[string]any{"alg": "none"}))
	f.Add(iss.TokenWith(f, testenv.TokenOptions{Alg: "none"}))
	f.Add(iss.TokenWith(f, testenv.TokenOptions{Alg: "HS256", HMACSecret: iss.PublicKeyPEM(f, iss.KeyFor("RS256"))}))
	f.Add(iss.TokenWith(f, testenv.TokenOptions{Header: map[string]any{"kid": iss.KeyFor("ES256")}}))
	f.Add(iss.TokenWith(f, testenv.TokenOptions{Header: map[string]any{"crit": []string{"b64"}, "b64": false}}))
	f.Add(iss.TokenWith(f, testenv.TokenOptions{Payload: []byte(`{"iss":1e999}`)}))
	f.Add("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d")
	f.Add("")
	e.mustAuth(f, good) // the key set is cached; the clock never moves, so no refetch

	f.Fuzz(func(t *testing.T, token string) {
		id, err := e.v.Authenticate(context.Background(), token)
		if err == nil {
			if !genuine[token] {
				t.Fatalf("forged token authenticated as %+v", id)
			}
			if id == nil || id.Subject == "" {
				t.Fatalf("success without an identity: %+v", id)
			}
			return
		}
		if id != nil {
			t.Fatalf("identity together with error %v", err)
		}
		var ae *gate.AuthError
		if !errors.As(err, &ae) || !slices.Contains(knownReasons, ae.Reason) {
			t.Fatalf("error %T %v is not an AuthError with a known reason", err, err)
		}
		if ae.Detail == "" || strings.ContainsAny(ae.Detail, "\n\r") {
			t.Fatalf("detail %q", ae.Detail)
		}
		if len(token) >= 24 && strings.Contains(err.Error(), token) {
			t.Fatalf("error quotes the token: %v", err)
		}
	})
}

// FuzzSignedPayload signs arbitrary payloads with the issuer's real key, so
// that claim checking and mapping see every shape. Properties: no panic;
// an accepted token's claims really do pass every check.
func FuzzSignedPayload(f *testing.F) {
	e := newEnv(f)
	kid := e.iss.KeyFor("EdDSA")
	claims := e.iss.Claims()
	seed, _ := json.Marshal(claims)
	f.Add(seed)
	claims["groups"], claims["scp"], claims["email"], claims["email_verified"] = []any{"a", "b"}, "r w", "a@b", "false"
	seed, _ = json.Marshal(claims)
	f.Add(seed)
	f.Add([]byte(`{"iss":"` + e.iss.URL() + `","aud":["x","gatehouse"],"sub":"s","exp":1e10,"nbf":-1}`))
	f.Add([]byte(`{"iss":"` + e.iss.URL() + `","aud":"gatehouse","sub":"s","exp":1795687200.999,"iat":null}`))
	f.Add([]byte(`null`))
	e.mustAuth(f, e.iss.Token(f, nil))

	f.Fuzz(func(t *testing.T, payload []byte) {
		tok := e.iss.TokenWith(t, testenv.TokenOptions{Key: kid, Payload: payload})
		id, err := e.v.Authenticate(context.Background(), tok)
		if err != nil {
			var ae *gate.AuthError
			if !errors.As(err, &ae) || !slices.Contains(knownReasons, ae.Reason) {
				t.Fatalf("error %T %v is not an AuthError with a known reason", err, err)
			}
			if ae.Reason == reasonSignature || ae.Reason == reasonAlgorithm || ae.Reason == reasonKeysUnavailable {
				t.Fatalf("a genuinely signed token failed with %v", err)
			}
			return
		}
		var c map[string]any
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatalf("accepted a payload that is not JSON: %v", err)
		}
		aud, _ := stringList(c["aud"])
		exp, _ := c["exp"].(float64)
		now := float64(t0.Unix())
		switch {
		case c["iss"] != e.iss.URL() || id.Issuer != e.iss.URL():
			t.Fatalf("iss %v accepted", c["iss"])
		case !slices.Contains(aud, "gatehouse"):
			t.Fatalf("aud %v accepted", c["aud"])
		case exp+ClockSkew.Seconds() <= now:
			t.Fatalf("exp %v accepted at %v", c["exp"], now)
		case id.Subject == "" || id.Subject != c["sub"]:
			t.Fatalf("sub %v mapped to %q", c["sub"], id.Subject)
		case !id.Expiry.Equal(time.Unix(0, 0).Add(time.Duration(exp*1e9)+ClockSkew)) && id.Expiry.Unix() != int64(exp)+int64(ClockSkew.Seconds()):
			t.Fatalf("Expiry %v for exp %v", id.Expiry, exp)
		}
		if nbf, ok := c["nbf"].(float64); ok && nbf > now+ClockSkew.Seconds() {
			t.Fatalf("nbf %v accepted", nbf)
		}
		if iat, ok := c["iat"].(float64); ok && iat > now+ClockSkew.Seconds() {
			t.Fatalf("iat %v accepted", iat)
		}
		if c["email_verified"] == false && id.Email != "" {
			t.Fatalf("unverified email %q kept", id.Email)
		}
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	e := newEnv(b)
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		tok := e.iss.TokenWith(b, testenv.TokenOptions{Key: e.iss.KeyFor(alg),
			Claims: map[string]any{"groups": []string{"platform", "oncall"}, "email": "bot@example.com", "scope": "db:read db:write"}})
		e.mustAuth(b, tok) // warm the key cache
		b.Run(alg, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.v.Authenticate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("refused/expired", func(b *testing.B) {
		tok := e.iss.Token(b, map[string]any{"exp": t0.Add(-time.Hour).Unix()})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.v.Authenticate(ctx, tok); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
