package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
	"github.com/gatehouse/gatehouse/internal/store"
)

// newTestServer records one session with two steps (one on trace T1) into a
// real SQLite store and serves the API over it.
func newTestServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec, err := audit.New(ctx, audit.Config{Store: st, Chain: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ids := gatetest.Tokens{
		"agent":   {Subject: "agent-1", Groups: []string{"agents"}},
		"auditor": {Subject: "sec-1", Groups: []string{"security"}},
	}
	g, err := gate.New(gate.Config{Authenticator: ids, Policy: gatetest.AllowKinds(gate.KindRead), Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := g.Open(ctx, gate.OpenRequest{Token: "agent", Target: gate.Target{Name: "shop", Kind: "postgres"}, User: "bot", Protocol: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	step, err := sess.Check(ctx, &gate.Command{Text: "SELECT 1", Class: gate.Class{Kind: gate.KindRead, Statements: []string{"SELECT"}},
		Request: gate.Request{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Reason: "checking"}})
	if err != nil {
		t.Fatal(err)
	}
	step.End(gate.Outcome{Tag: "SELECT 1", Rows: 1})
	if _, err := sess.Check(ctx, &gate.Command{Text: "DROP TABLE x", Class: gate.Class{Kind: gate.KindDDL}}); !gate.IsDenied(err) {
		t.Fatal("drop not denied")
	}
	sess.Close("client terminated")
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	auditors, _ := gate.ParsePrincipals([]string{"group:security"})
	s, err := New(Config{Auth: ids, Trail: audit.NewTrail(st), Auditors: auditors,
		DevToken: func(r DevTokenRequest) (string, time.Time, error) { return "tok-" + r.Subject, time.Now(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, sess.ID
}

func get(t *testing.T, srv *httptest.Server, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSessionsAPIAccess(t *testing.T) {
	srv, id := newTestServer(t)
	cases := []struct {
		path, token string
		code        int
		want        string
	}{
		{"/api/sessions", "", 401, "missing bearer token"},
		{"/api/sessions", "forged", 401, "authentication failed"},
		{"/api/sessions", "agent", 403, "neither access.admins nor access.auditors"},
		{"/api/sessions", "auditor", 200, id},
		{"/api/sessions?connection=shop&sub=agent-1", "auditor", 200, id},
		{"/api/sessions?connection=other", "auditor", 200, `"sessions": []`},
		{"/api/sessions?trace_id=4bf92f3577b34da6a3ce929d0e0e4736", "auditor", 200, id},
		{"/api/sessions?trace_id=00000000000000000000000000000001", "auditor", 200, `"sessions": []`},
		{"/api/sessions?since=1h", "auditor", 200, id},
		{"/api/sessions?since=yesterday", "auditor", 400, "since must be"},
		{"/api/sessions?limit=0", "auditor", 400, "limit"},
		{"/api/sessions/" + id, "auditor", 200, "DROP TABLE x"},
		{"/api/sessions/" + id, "agent", 403, "forbidden"},
		{"/api/sessions/nope", "auditor", 404, "no session"},
		{"/healthz", "", 200, `"ok"`},
	}
	for _, tc := range cases {
		code, body := get(t, srv, tc.path, tc.token)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s as %q: %d %s, want %d containing %q", tc.path, tc.token, code, body, tc.code, tc.want)
		}
	}
}

func TestSessionReplay(t *testing.T) {
	srv, id := newTestServer(t)
	_, body := get(t, srv, "/api/sessions/"+id, "auditor")
	var rec gate.SessionRecord
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Steps) != 2 || rec.Steps[0].Command.Text != "SELECT 1" || rec.Steps[0].Outcome == nil || rec.Steps[0].Outcome.Rows != 1 ||
		rec.Steps[1].Decision.Action != gate.Deny || rec.Steps[0].Command.Request.Reason != "checking" || rec.EndReason != "client terminated" {
		t.Fatalf("replay = %s", body)
	}
}

func TestDevToken(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, err := srv.Client().Post(srv.URL+"/dev/token", "application/json", strings.NewReader(`{"sub":"agent-9","groups":["agents"]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "tok-agent-9") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	resp, _ = srv.Client().Post(srv.URL+"/dev/token", "application/json", strings.NewReader(`{"sub":"x","admin":true}`))
	if resp.StatusCode != 400 {
		t.Fatalf("unknown field accepted: %d", resp.StatusCode)
	}
	resp.Body.Close()
}
