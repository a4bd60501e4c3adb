package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
)

func TestRecorderCountsEvents(t *testing.T) {
	m := New()
	inner := gatetest.NewRecorder()
	rec := m.Recorder(inner)
	ctx := context.Background()
	events := []gate.Event{
		{Kind: gate.EventSessionOpen},
		{Kind: gate.EventStep, Decision: &gate.Decision{Action: gate.Allow}},
		{Kind: gate.EventStep, Decision: &gate.Decision{Action: gate.Deny}},
		{Kind: gate.EventStepResult, Outcome: &gate.Outcome{Duration: 3 * time.Millisecond, Error: "boom"}},
		{Kind: gate.EventAuthFailure, Reason: "expired: token expired at ..."},
	}
	for _, e := range events {
		if err := rec.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	inner.SetFail(gatetest.ErrInjected)
	if err := rec.Record(ctx, gate.Event{Kind: gate.EventSessionOpen}); err == nil {
		t.Fatal("failure not passed on")
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"gatehouse_sessions_open 1", `gatehouse_steps_total{decision="allow"} 1`, `gatehouse_steps_total{decision="deny"} 1`,
		"gatehouse_step_errors_total 1", "gatehouse_upstream_duration_seconds_count 1",
		`gatehouse_auth_failures_total{reason="expired"} 1`, "gatehouse_audit_errors_total 1",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
