package identity

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestUnknownKidRefetchesAtMostOncePerMinute(t *testing.T) {
	e := newEnv(t)
	e.mustAuth(t, e.iss.Token(t, nil))
	if n := e.iss.JWKSFetches(); n != 1 {
		t.Fatalf("start-up: %d JWKS fetches, want 1", n)
	}

	// The issuer rotates right after our start-up fetch: its new kid is
	// unknown, and a refetch is not due for a minute.
	kid2 := e.iss.Rotate(t)
	tok2 := e.iss.Token(t, nil)
	e.clock.Advance(30 * time.Second)
	e.mustFail(t, tok2, "signature", `key id "`+kid2+`" is not among the keys`, "at most once a minute")
	if n := e.iss.JWKSFetches(); n != 1 {
		t.Fatalf("%d JWKS fetches within the first minute, want 1", n)
	}

	// A minute after the last fetch, the unknown kid refetches once.
	e.clock.Advance(30 * time.Second)
	tok2 = e.iss.Token(t, nil)
	if id := e.mustAuth(t, tok2); id.Subject != "agent-1" {
		t.Fatalf("subject %q", id.Subject)
	}
	e.mustAuth(t, e.iss.Token(t, nil))
	if n := e.iss.JWKSFetches(); n != 2 {
		t.Fatalf("%d JWKS fetches after the rotation, want 2", n)
	}

	// A second unknown kid within the minute does not refetch...
	kid3 := e.iss.Rotate(t)
	e.clock.Advance(59 * time.Second)
	tok3 := e.iss.Token(t, nil)
	for range 5 {
		e.mustFail(t, tok3, "signature", kid3)
	}
	// ...nor does a forged one.
	e.mustFail(t, e.iss.TokenWith(t, testenv.TokenOptions{Header: map[string]any{"kid": "forged"}}), "signature", `"forged"`)
	if n := e.iss.JWKSFetches(); n != 2 {
		t.Fatalf("%d JWKS fetches, want still 2", n)
	}
	// The old keys are still served meanwhile.
	e.mustAuth(t, e.iss.TokenWith(t, testenv.TokenOptions{Key: kid2}))

	e.clock.Advance(time.Second)
	e.mustAuth(t, tok3)
	if n := e.iss.JWKSFetches(); n != 3 {
		t.Fatalf("%d JWKS fetches, want 3", n)
	}
}

func TestConcurrentVerificationsShareOneFetch(t *testing.T) {
	e := newEnv(t)
	e.mustAuth(t, e.iss.Token(t, nil))
	e.iss.Rotate(t)
	e.clock.Advance(refetchInterval)
	tok := e.iss.Token(t, nil)

	const n = 32
	release := e.iss.HoldJWKS()
	defer release()
	var waiting sync.WaitGroup
	waiting.Add(n)
	rk := e.remote()
	rk.mu.Lock()
	rk.onWait = waiting.Done
	rk.mu.Unlock()

	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.v.Authenticate(context.Background(), tok)
			errs <- err
		}()
	}
	waiting.Wait() // every caller is waiting on the one held fetch
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := e.iss.JWKSFetches(); got != 2 {
		t.Errorf("%d JWKS fetches, want 2 (start-up and one shared refetch)", got)
	}
}

func TestStartUpDoesNotWaitForIssuer(t *testing.T) {
	iss := testenv.NewIssuer(t)
	release := iss.HoldJWKS()
	defer release()
	done := make(chan *env)
	go func() { done <- newEnvFor(t, iss) }()
	var e *env
	select {
	case e = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("New blocked on the issuer's key set")
	}
	// A token that arrives meanwhile waits for the fetch, within its context.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	tok := iss.Token(t, nil)
	id, err := e.v.Authenticate(ctx, tok)
	checkAuthError(t, id, err, "keys_unavailable", "gave up waiting", iss.URL())
	release()
	e.mustAuth(t, tok)
	if n := iss.JWKSFetches(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1", n)
	}
}

func TestUnreachableIssuerRecovers(t *testing.T) {
	iss := testenv.NewIssuer(t)
	iss.SetDown(true)
	e := newEnvFor(t, iss)
	tok := iss.Token(t, nil)
	e.mustFail(t, tok, "keys_unavailable", `the keys of issuer "`+iss.URL()+`" could not be fetched`)
	if !strings.Contains(e.logs.String(), "cannot fetch the issuer's signing keys") {
		t.Errorf("the failure was not logged:\n%s", e.logs)
	}
	// Back up, but the retry is not due yet: no new request.
	iss.SetDown(false)
	before := iss.DiscoveryFetches()
	e.clock.Advance(retryInterval - time.Second)
	e.mustFail(t, tok, "keys_unavailable", "could not be fetched")
	if n := iss.DiscoveryFetches(); n != before {
		t.Errorf("discovery fetched %d times during the retry interval", n-before)
	}
	e.clock.Advance(time.Second)
	e.mustAuth(t, tok)
}

func TestIssuerNotListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	iss := testenv.NewIssuer(t)
	e := newEnvFor(t, iss, func(c *Config) { c.Issuers = []IssuerConfig{{URL: url}} })
	e.mustFail(t, iss.Token(t, map[string]any{"iss": url}), "keys_unavailable", "could not be fetched", "refused")
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	iss := testenv.NewIssuer(t)
	iss.SetDiscoveryIssuer(iss.URL() + "/")
	e := newEnvFor(t, iss)
	e.mustFail(t, iss.Token(t, nil), "keys_unavailable", "could not be fetched", `names issuer "`+iss.URL()+`/"`, "must match exactly")
	if n := iss.JWKSFetches(); n != 0 {
		t.Errorf("fetched the JWKS of an issuer whose discovery document is wrong")
	}
	if !strings.Contains(e.logs.String(), "must match exactly") {
		t.Errorf("the mismatch was not logged:\n%s", e.logs)
	}
}

func TestWithdrawnKeyStopsWorkingAfterRefresh(t *testing.T) {
	e := newEnv(t)
	old := e.iss.DefaultKey()
	tok := e.iss.Token(t, map[string]any{"exp": t0.Add(3 * time.Hour).Unix()})
	e.mustAuth(t, tok)
	e.iss.Rotate(t)
	e.iss.RemoveKey(old)
	// An hour on, the cached set is stale: it still serves this request
	// and refreshes in the background.
	e.clock.Advance(keysMaxAge)
	e.mustAuth(t, tok)
	e.settle()
	if n := e.iss.JWKSFetches(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2", n)
	}
	e.mustFail(t, tok, "signature", old, "not among the keys")
}

func TestUnusableJWKSKeysAreSkipped(t *testing.T) {
	iss := testenv.NewIssuer(t)
	rsaKid, ecKid, edKid := iss.KeyFor("RS256"), iss.KeyFor("ES256"), iss.KeyFor("EdDSA")
	iss.EditJWK(rsaKid, func(j map[string]any) { j["use"] = "enc" })
	iss.EditJWK(ecKid, func(j map[string]any) { j["kty"], j["k"] = "oct", "c2VjcmV0" })
	e := newEnvFor(t, iss)
	e.mustFail(t, iss.TokenWith(t, testenv.TokenOptions{Key: rsaKid}), "signature", "not among the keys")
	e.mustFail(t, iss.TokenWith(t, testenv.TokenOptions{Key: ecKid}), "signature", "not among the keys")
	e.mustAuth(t, iss.TokenWith(t, testenv.TokenOptions{Key: edKid}))
	logs := e.logs.String()
	for _, want := range []string{`use is \"enc\"`, "private or symmetric"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log does not explain %s:\n%s", want, logs)
		}
	}
}

func TestFetchLimits(t *testing.T) {
	var mu sync.Mutex
	var disc, jwks string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		if strings.HasSuffix(r.URL.Path, "openid-configuration") {
			w.Write([]byte(disc))
		} else {
			w.Write([]byte(jwks))
		}
	}))
	defer srv.Close()
	set := func(s int, d, j string) { mu.Lock(); status, disc, jwks = s, d, j; mu.Unlock() }
	okDisc := `{"issuer":"` + srv.URL + `","jwks_uri":"` + srv.URL + `/jwks"}`
	cases := []struct {
		name, want string
		status     int
		disc, jwks string
	}{
		{"huge discovery", "larger than", 200, `{"issuer":"` + strings.Repeat(" ", maxDiscoveryBytes) + `"}`, ""},
		{"huge JWKS", "larger than", 200, okDisc, `{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}`},
		{"HTTP 500", "500", 500, okDisc, ""},
		{"not JSON", "not the expected JSON", 200, "<html>", ""},
		{"no jwks_uri", "no jwks_uri", 200, `{"issuer":"` + srv.URL + `"}`, ""},
		{"remote http jwks_uri", "must be https", 200, `{"issuer":"` + srv.URL + `","jwks_uri":"http://example.com/jwks"}`, ""},
		{"empty key set", "no usable signing key", 200, okDisc, `{"keys":[]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set(c.status, c.disc, c.jwks)
			rk := newRemoteKeys(srv.URL, http.DefaultClient, &fakeClock{now: t0}, discardLogger())
			_, err := rk.lookup(context.Background(), "k")
			ae := checkAuthError(t, nil, err, "keys_unavailable", "could not be fetched", c.want)
			if len(ae.Detail) > 2000 {
				t.Errorf("detail is %d bytes long", len(ae.Detail))
			}
		})
	}
}

func TestWaitingCallerContext(t *testing.T) {
	e := newEnv(t)
	e.mustAuth(t, e.iss.Token(t, nil))
	e.iss.Rotate(t)
	e.clock.Advance(refetchInterval)
	release := e.iss.HoldJWKS()
	defer release()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("client went away"))
	id, err := e.v.Authenticate(ctx, e.iss.Token(t, nil))
	checkAuthError(t, id, err, "keys_unavailable", "client went away")
	var _ gate.Authenticator = e.v
}
