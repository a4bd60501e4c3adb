package web

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/approval"
	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestOverApprovalService runs the API and the inbox stream over the real
// approval service on an SQLite store, to keep the fake honest: the same
// status codes, the grant errors as 400, the URL completed from a relative
// one, events from the store's change feed.
func TestOverApprovalService(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := approval.New(ctx, approval.Config{Store: st, Approvers: []string{"group:dba"},
		Connections: []approval.Connection{{Name: "shop", MaxGrant: 2 * time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(ctx) })
	e := newUIEnv(t, func(c *Config) { c.Approvals = svc })

	alice := e.signIn(t)
	req, _ := http.NewRequest("GET", e.Srv.URL+"/approvals/events", nil)
	_, stream := openStream(t, alice, req)
	if ev := stream.next(); ev.Event != "sync" || len(ev.Data.Items) != 0 {
		t.Fatalf("sync = %+v", ev)
	}
	r := sampleRequest(agentID)
	a, err := svc.Request(ctx, &r)
	if err != nil {
		t.Fatal(err)
	}
	if ev := stream.next(); ev.Data.ID != a.ID || !strings.Contains(ev.Data.HTML, `value="approve"`) {
		t.Fatalf("new request event = %+v", ev)
	}
	p := "/api/approvals/" + a.ID
	for _, tc := range []struct {
		method, path, token, body string
		code                      int
		want                      string
	}{
		{"GET", p, "approver", "", 200, `"url": "` + e.Srv.URL + `/approvals/` + a.ID + `"`},
		{"GET", p, "other", "", 403, "forbidden"},
		{"GET", "/api/approvals/nope", "approver", "", 404, "no approval request"},
		{"POST", p + "/approve", "agent", "", 403, "may not decide"},
		{"POST", p + "/approve", "approver", `{"comment":"ok"}`, 200, `"status": "approved"`},
		{"POST", p + "/deny", "approver", `{"comment":"changed my mind"}`, 409, "any more"},
		{"POST", "/api/grants", "agent", `{"connection":"shop","access":"write","duration":"3h","reason":"r"}`, 400, "max_grant"},
		{"POST", "/api/grants", "agent", `{"connection":"nope","access":"write","duration":"1h","reason":"r"}`, 400, "nope"},
		{"POST", "/api/grants", "agent", `{"connection":"shop","access":"superuser","duration":"1h","reason":"r"}`, 400, "superuser"},
	} {
		code, body := e.api(t, tc.method, tc.path, tc.token, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s as %q: %d %s\nwant %d containing %q", tc.method, tc.path, tc.token, code, body, tc.code, tc.want)
		}
	}
	if ev := stream.next(); ev.Data.ID != a.ID || ev.Data.Status != gate.ApprovalApproved {
		t.Fatalf("decided event = %+v", ev)
	}

	code, body := e.api(t, "POST", "/api/grants", "agent", `{"connection":"shop","access":"write","duration":"30m","reason":"backfill"}`)
	g := decodeApproval(t, body)
	if code != 201 || g.Status != gate.ApprovalPending || g.Request.Grant == nil {
		t.Fatalf("grant request: %d %s", code, body)
	}
	if code, body := e.api(t, "POST", "/api/approvals/"+g.ID+"/approve", "approver", ""); code != 200 {
		t.Fatalf("approving the grant: %d %s", code, body)
	}
	if _, body := e.api(t, "GET", "/api/grants?status=active", "agent", ""); !strings.Contains(body, g.ID) {
		t.Fatalf("active grants: %s", body)
	}
	if code, body := e.api(t, "POST", "/api/grants/"+g.ID+"/revoke", "agent", `{"comment":"done early"}`); code != 200 {
		t.Fatalf("the requester revoking its grant: %d %s", code, body)
	}
	if _, body := e.api(t, "GET", "/api/grants?status=active", "agent", ""); strings.Contains(body, g.ID) {
		t.Fatalf("revoked grant still active: %s", body)
	}
}
