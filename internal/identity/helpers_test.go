package identity

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// t0 is the fake clock's start: tokens are minted and checked against it.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// fakeClock is a gate.Clock that moves only when told. AfterFunc timers
// never fire (identity does not use them).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
func (c *fakeClock) AfterFunc(time.Duration, func()) gate.Timer { return stopped{} }

type stopped struct{}

func (stopped) Stop() bool { return false }

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// env is a Verifier trusting one testenv issuer, on a fake clock.
type env struct {
	iss   *testenv.Issuer
	clock *fakeClock
	logs  *syncBuffer
	v     *Verifier
}

func newEnv(t testing.TB, mods ...func(*Config)) *env {
	t.Helper()
	return newEnvFor(t, testenv.NewIssuer(t), mods...)
}

// newEnvFor is newEnv with an issuer the test prepared before the Verifier
// starts fetching from it.
func newEnvFor(t testing.TB, iss *testenv.Issuer, mods ...func(*Config)) *env {
	t.Helper()
	e := &env{iss: iss, clock: &fakeClock{now: t0}, logs: &syncBuffer{}}
	e.iss.SetClock(e.clock.Now)
	cfg := Config{
		Issuers: []IssuerConfig{{URL: e.iss.URL(), Audience: "gatehouse"}},
		Clock:   e.clock,
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mods {
		m(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.v = v
	return e
}

// remote returns the key cache of the env's issuer.
func (e *env) remote() *remoteKeys { return e.v.issuers[e.iss.URL()].keys.(*remoteKeys) }

// settle waits for the fetch in flight, if any, to finish.
func (e *env) settle() {
	rk := e.remote()
	rk.mu.Lock()
	c := rk.call
	rk.mu.Unlock()
	if c != nil {
		<-c.done
	}
}

func (e *env) auth(t testing.TB, token string) (*gate.Identity, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return e.v.Authenticate(ctx, token)
}

// mustAuth expects token to be accepted.
func (e *env) mustAuth(t testing.TB, token string) *gate.Identity {
	t.Helper()
	id, err := e.auth(t, token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if id == nil {
		t.Fatal("Authenticate returned neither identity nor error")
	}
	return id
}

// mustFail expects token to be refused with reason and a Detail containing
// every one of details, and checks that neither the error nor the log
// leaks the token.
func (e *env) mustFail(t testing.TB, token, reason string, details ...string) *gate.AuthError {
	t.Helper()
	id, err := e.auth(t, token)
	ae := checkAuthError(t, id, err, reason, details...)
	checkNoLeak(t, token, err.Error(), "error")
	checkNoLeak(t, token, e.logs.String(), "log")
	return ae
}

func checkAuthError(t testing.TB, id *gate.Identity, err error, reason string, details ...string) *gate.AuthError {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted (subject %q), want reason %q", id.Subject, reason)
	}
	if id != nil {
		t.Errorf("identity %v returned together with error %v", id, err)
	}
	var ae *gate.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v is not a *gate.AuthError", err, err)
	}
	if !errors.Is(err, gate.ErrUnauthenticated) {
		t.Errorf("errors.Is(%v, gate.ErrUnauthenticated) = false", err)
	}
	if ae.Reason != reason {
		t.Errorf("reason %q (%s), want %q", ae.Reason, ae.Detail, reason)
	}
	for _, d := range details {
		if !strings.Contains(ae.Detail, d) {
			t.Errorf("detail %q does not mention %q", ae.Detail, d)
		}
	}
	return ae
}

// checkNoLeak fails if text holds the token or its payload or signature
// part (long enough to be meaningful).
func checkNoLeak(t testing.TB, token, text, what string) {
	t.Helper()
	if len(token) >= 16 && strings.Contains(text, token) {
		t.Errorf("%s contains the token", what)
	}
	for i, part := range strings.Split(token, ".") {
		if i > 0 && len(part) >= 16 && strings.Contains(text, part) {
			t.Errorf("%s contains part %d of the token", what, i)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
