package audit

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// stepWithMaps builds an equal event each call, with its maps filled in the
// given key order.
func stepWithMaps(keys []string) gate.Event {
	masked := map[string]int64{}
	for _, k := range keys {
		masked["col_"+k] = int64(k[len(k)-1]) // the same value for the same key
	}
	return gate.Event{Kind: gate.EventStepResult, Time: base, SessionID: "s", Step: 3,
		Outcome: &gate.Outcome{Tag: "SELECT 2", Rows: 2, Masked: masked, Duration: time.Second,
			Preview: &gate.Preview{Columns: []string{"a"}, Rows: [][]string{{"<b>&"}}}}}
}

func TestEncodeDeterministic(t *testing.T) {
	keys := []string{"k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11", "k12"}
	rev := make([]string, len(keys))
	for i, k := range keys {
		rev[len(keys)-1-i] = k
	}
	e1, e2 := stepWithMaps(keys), stepWithMaps(rev)
	r1, err := encodeEvent(&e1)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		r2, err := encodeEvent(&e2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r1.Body, r2.Body) {
			t.Fatalf("equal events encode differently:\n%s\n%s", r1.Body, r2.Body)
		}
	}
	// Identity claims are maps too.
	o1 := openEvent("s", "orders", "bot", 0)
	o2 := openEvent("s", "orders", "bot", 0)
	for i := range 20 {
		o1.Session.Identity.Claims[strings.Repeat("x", i+1)] = map[string]any{"n": float64(i), "l": []any{"a", true, nil}}
		o2.Session.Identity.Claims[strings.Repeat("x", 20-i)] = map[string]any{"l": []any{"a", true, nil}, "n": float64(19 - i)}
	}
	b1, _ := encodeEvent(&o1)
	b2, _ := encodeEvent(&o2)
	if !bytes.Equal(b1.Body, b2.Body) {
		t.Fatalf("identity claims encode differently:\n%s\n%s", b1.Body, b2.Body)
	}
	// No HTML escaping: SQL stays readable.
	if !bytes.Contains(r1.Body, []byte(`"<b>&"`)) {
		t.Errorf("body escapes HTML: %s", r1.Body)
	}
}

func TestEncodeStepGolden(t *testing.T) {
	e := stepEvent("s1", 2, "SELECT * FROM orders WHERE id < 10", gate.Deny, "4bf92f3577b34da6a3ce929d0e0e4736", time.Second)
	r, err := encodeEvent(&e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"v":1,"command":{"text":"SELECT * FROM orders WHERE id < 10","class":{"kind":"read","statements":["SELECT"],"has_where":false},` +
		`"request":{"reason":"check orders","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}},"decision":{"action":"deny","policy":"p","rule":"r2"}}`
	if string(r.Body) != want {
		t.Fatalf("body\n%s\nwant\n%s", r.Body, want)
	}
	if r.Kind != "step" || r.Session != "s1" || r.Step != 2 || r.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || r.Action != "deny" || r.Connection != "" {
		t.Fatalf("columns = %+v", r)
	}
	if !r.Time.Equal(base.Add(time.Second)) || r.Time.Location() != time.UTC {
		t.Fatalf("time = %v", r.Time)
	}
}

func TestHashLayout(t *testing.T) {
	r := store.Record{Chain: "node-1", Seq: 7, Time: time.Date(2026, 3, 1, 9, 0, 0, 500, time.FixedZone("X", 3600)),
		Kind: "session_close", Session: "abc", Step: 0, Body: []byte(`{"v":1,"reason":"client <quit>"}`), PrevHash: genesis}
	const pre = `{"chain":"node-1","seq":7,"time":"2026-03-01T08:00:00.0000005Z","kind":"session_close","session":"abc","step":0,` +
		`"body":{"v":1,"reason":"client <quit>"},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}`
	if got := string(preimage(&r)); got != pre {
		t.Fatalf("preimage\n%s\nwant\n%s", got, pre)
	}
	sum := sha256.Sum256([]byte(pre))
	if got := hashRecord(&r); !bytes.Equal(got, sum[:]) {
		t.Fatalf("hash %x, want %x", got, sum)
	}
	// Every hashed field changes the hash; index columns do not.
	for name, mut := range map[string]func(*store.Record){
		"chain":   func(r *store.Record) { r.Chain = "node-2" },
		"seq":     func(r *store.Record) { r.Seq++ },
		"time":    func(r *store.Record) { r.Time = r.Time.Add(1) },
		"kind":    func(r *store.Record) { r.Kind = "step" },
		"session": func(r *store.Record) { r.Session = "abd" },
		"step":    func(r *store.Record) { r.Step = 1 },
		"body":    func(r *store.Record) { r.Body = []byte(`{"v":1,"reason":"client <quiT>"}`) },
		"prev":    func(r *store.Record) { r.PrevHash = bytes.Repeat([]byte{1}, 32) },
	} {
		c := r
		mut(&c)
		if bytes.Equal(hashRecord(&c), sum[:]) {
			t.Errorf("changing %s leaves the hash unchanged", name)
		}
	}
	c := r
	c.Connection, c.Subject, c.TraceID, c.Action = "x", "y", "z", "allow"
	if !bytes.Equal(hashRecord(&c), sum[:]) {
		t.Error("index columns change the hash")
	}
}

func TestAuthFailureBody(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJl"
	info := &gate.SessionInfo{Target: gate.Target{Name: "orders", Kind: "postgres"}, ClientAddr: "10.0.0.9:1234",
		User: jwt, Protocol: "postgres"}
	e := gate.Event{Kind: gate.EventAuthFailure, Time: base, SessionID: "s9", Session: info,
		Reason: "malformed: cannot parse " + jwt + " as a token",
		// Fields an auth failure does not have must not be recorded.
		Command:  &gate.Command{Text: "password=hunter2"},
		Decision: &gate.Decision{Action: gate.Allow, Message: "hunter2"},
		Outcome:  &gate.Outcome{Error: "hunter2"}}
	r, err := encodeEvent(&e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"v":1,"session":{"target":{"name":"orders","kind":"postgres"},"client_addr":"10.0.0.9:1234",` +
		`"user":"[redacted token]","protocol":"postgres"},"reason":"malformed: cannot parse [redacted token] as a token"}`
	if string(r.Body) != want {
		t.Fatalf("auth failure body\n%s\nwant\n%s", r.Body, want)
	}
	if info.User != jwt {
		t.Fatal("the caller's SessionInfo was modified")
	}
	if r.Connection != "orders" || r.Subject != "" {
		t.Fatalf("columns = %+v", r)
	}
}

func TestRedactTokens(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "",
		"no token here, eyJ alone":         "no token here, eyJ alone",
		"eyJa.b":                           "eyJa.b",
		"x eyJa.b.c y eyJd.e.f":            "x [redacted token] y [redacted token]",
		"eyJhbGci.eyJzdWIi.sig-_=":         "[redacted token]",
		"user=bob eyJeyJa.b.c":             "user=bob [redacted token]",
		"expired at 2026-03-01T09:00:00Z.": "expired at 2026-03-01T09:00:00Z.",
	} {
		if got := redactTokens(in); got != want {
			t.Errorf("redactTokens(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestColumnSanitized(t *testing.T) {
	e := stepEvent("s\x00id", 1, "SELECT 1", gate.Allow, "bad\x00trace\xff"+strings.Repeat("é", 200), 0)
	r, err := encodeEvent(&e)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{r.Session, r.TraceID} {
		if strings.ContainsRune(c, 0) || !strings.HasPrefix(c, "s") && !strings.HasPrefix(c, "bad") || len(c) > maxColumn {
			t.Errorf("column %q not sanitized", c)
		}
	}
	if !strings.HasPrefix(r.TraceID, "bad\uFFFDtrace\uFFFD") {
		t.Errorf("trace column = %q", r.TraceID)
	}
	// The body keeps the value whole (JSON escapes it).
	if !bytes.Contains(r.Body, []byte(`bad\u0000trace`)) {
		t.Errorf("body lost the raw trace id: %s", r.Body)
	}
}

func TestEncodeRejects(t *testing.T) {
	for name, e := range map[string]gate.Event{
		"unknown kind":      {Kind: 99, Time: base},
		"step without cmd":  {Kind: gate.EventStep, Time: base, Decision: &gate.Decision{}},
		"time out of range": {Kind: gate.EventSessionClose, Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := encodeEvent(&e); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStoreKindsAreGateNames(t *testing.T) {
	for k, s := range map[gate.EventKind]string{
		gate.EventSessionOpen: store.KindSessionOpen, gate.EventStep: store.KindStep, gate.EventStepResult: store.KindStepResult,
		gate.EventSessionClose: store.KindSessionClose, gate.EventAuthFailure: store.KindAuthFailure,
	} {
		if k.String() != s {
			t.Errorf("%v != %q", k, s)
		}
	}
	if gate.Deny.String() != store.ActionDeny {
		t.Errorf("deny action")
	}
}
