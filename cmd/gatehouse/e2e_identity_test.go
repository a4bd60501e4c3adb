package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// authCase is a credential the gateway must refuse at start-up.
type authCase struct {
	name, token string
	parts       []string // in the FATAL message
}

// TestE2EIdentity: tokens that fail verification end the start-up with
// FATAL 28000 naming the failed check, are recorded as auth failures
// without the token, and a valid identity that no policy matches can
// connect but runs nothing.
func TestE2EIdentity(t *testing.T) {
	g := newGateway(t, gwOpts{variant: sqliteOIDC})
	now := time.Now()
	agent := func(extra map[string]any) map[string]any {
		c := map[string]any{"sub": "id-agent", "groups": []string{groupAgents}}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	other := testenv.NewIssuer(t)
	devKey, err := identity.GenerateDevKey()
	if err != nil {
		t.Fatal(err)
	}
	devToken, err := identity.NewDevIssuer(devKey, "").Sign(identity.DevClaims{Subject: "id-agent", Groups: []string{groupAgents}})
	if err != nil {
		t.Fatal(err)
	}

	cases := []authCase{
		{"expired", g.issuer.Token(t, agent(map[string]any{"iat": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-10 * time.Minute).Unix()})),
			[]string{"gatehouse: authentication failed: token expired at "}},
		{"wrong audience", g.issuer.Token(t, agent(map[string]any{"aud": "billing"})),
			[]string{"audience", `["billing"]`, `does not include "gatehouse"`}},
		{"unknown issuer", other.Token(t, agent(nil)),
			[]string{"issuer", other.URL(), "is not configured"}},
		{"configured issuer, foreign key", other.Token(t, agent(map[string]any{"iss": g.issuer.URL()})),
			[]string{"is not among the keys of issuer"}},
		{"dev token, dev issuer off", devToken,
			[]string{`issuer "gatehouse-dev" is not configured (dev tokens are accepted only when the dev issuer is enabled)`}},
		{"not a token", "hunter2", []string{"not a JWT"}},
		{"no token", "", []string{"no token"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := ctxT(t)
			conn, err := pgconn.Connect(ctx, g.dsn("id-agent", c.token))
			if err == nil {
				conn.Close(ctx)
				t.Fatal("connected")
			}
			pe := wantPgError(t, err, c.name, "28000", c.parts...)
			if pe.Severity != "FATAL" {
				t.Fatalf("severity %s, want FATAL", pe.Severity)
			}
		})
	}

	// A token pasted into the user name instead of the password.
	userToken := g.issuer.Token(t, agent(nil))
	t.Run("token as the user name", func(t *testing.T) {
		ctx := ctxT(t)
		h, p := g.hostPort()
		_, err := pgconn.Connect(ctx, fmt.Sprintf("host=%s port=%s dbname=shop user=%s password=nope sslmode=require", h, p, userToken))
		wantPgError(t, err, "token as user name", "28000", "not a JWT")
	})

	t.Run("psql shows the reason", func(t *testing.T) {
		needPsql(t)
		r := g.psql(t, cases[0].token, "require", "-c", "select 1")
		if r.code == 0 || !strings.Contains(r.stderr, "FATAL:  gatehouse: authentication failed: token expired at") {
			t.Fatalf("psql with an expired token:\n%s", r)
		}
	})

	t.Run("no policy applies", func(t *testing.T) {
		ctx := ctxT(t)
		c := g.connect(t, "intern-1", "interns")
		var one int
		err := c.QueryRow(ctx, "SELECT 1").Scan(&one)
		wantPgError(t, err, "first statement of an unmatched identity", "42501", `no policy applies to intern-1 on connection "shop"`)
	})

	t.Run("token expiry ends the session", func(t *testing.T) {
		// A token valid for a few more seconds: the session opens and
		// ends when the token expires, with FATAL 28000. Expiry allows
		// identity.ClockSkew, so exp lies that far back.
		ctx := ctxT(t)
		exp := time.Now().Add(3*time.Second - identity.ClockSkew)
		tok := g.issuer.Token(t, agent(map[string]any{"sub": "short-lived", "iat": exp.Add(-time.Minute).Unix(), "exp": exp.Unix()}))
		conn, err := pgconn.Connect(ctx, g.dsn("short-lived", tok))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "SELECT 1").ReadAll(); err != nil {
			t.Fatal(err)
		}
		err = conn.WaitForNotification(ctx) // returns when the FATAL arrives
		wantPgError(t, err, "session at token expiry", "28000", "token expired")
		rec := g.closedSession(t, "short-lived")
		if rec.EndReason != "token expired" {
			t.Fatalf("end reason %q", rec.EndReason)
		}
	})

	// Every refused start-up is in the audit trail with its reason, and no
	// record anywhere holds a token.
	t.Run("auth failures recorded without tokens", func(t *testing.T) {
		ctx := ctxT(t)
		var failures []string
		poll(t, "the auth failures recorded", func() (bool, string) {
			failures = nil
			for r, err := range g.app.store.Scan(ctx, g.node, 0) {
				if err != nil {
					return false, err.Error()
				}
				for _, c := range append(cases, authCase{"user name", userToken, nil}) {
					// The signature alone is a give-away too.
					sig := c.token[strings.LastIndexByte(c.token, '.')+1:]
					if len(c.token) > 20 && (bytes.Contains(r.Body, []byte(c.token)) || bytes.Contains(r.Body, []byte(sig))) {
						t.Fatalf("record %d (%s) holds the %s token", r.Seq, r.Kind, c.name)
					}
				}
				if r.Kind == store.KindAuthFailure {
					failures = append(failures, string(r.Body))
				}
			}
			return len(failures) >= len(cases)+2, strings.Join(failures, "\n")
		})
		for _, reason := range []string{"expired", "audience", "issuer", "signature", "malformed", "missing"} {
			if n := g.metric(t, `gatehouse_auth_failures_total{reason="`+reason+`"}`); n < 1 {
				t.Errorf(`gatehouse_auth_failures_total{reason=%q} = %v`, reason, n)
			}
		}
		all := strings.Join(failures, "\n")
		for _, want := range []string{"expired: token expired at", "audience: token audience", "issuer: issuer", "missing: "} {
			if !strings.Contains(all, want) {
				t.Errorf("no auth failure with %q in:\n%s", want, all)
			}
		}
	})
}
