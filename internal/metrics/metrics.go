// Package metrics derives gatehouse's Prometheus metrics from the audit
// events every step already produces: a gate.Recorder decorator counts what
// passes through it, so no adapter needs to know about metrics.
package metrics

import (
	"context"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Metrics holds the registry and the series. It is safe for concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	openSessions prometheus.Gauge
	sessions     prometheus.Counter
	steps        [3]prometheus.Counter // by gate.Action
	stepErrors   prometheus.Counter
	duration     prometheus.Histogram
	authFailures *prometheus.CounterVec
	auditErrors  prometheus.Counter
}

// New creates the series in a new registry, with Go and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.openSessions = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_sessions_open", Help: "Sessions currently open."})
	m.sessions = prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_sessions_total", Help: "Sessions opened."})
	stepsVec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_steps_total", Help: "Steps by decision."}, []string{"decision"})
	for _, a := range []gate.Action{gate.Deny, gate.Allow, gate.Review} {
		m.steps[a] = stepsVec.WithLabelValues(a.String())
	}
	m.stepErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_step_errors_total", Help: "Allowed steps that ended with an upstream error."})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gatehouse_upstream_duration_seconds",
		Help: "Time from forwarding a step upstream to its completion.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_auth_failures_total", Help: "Failed authentications by reason."}, []string{"reason"})
	m.auditErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_audit_errors_total", Help: "Audit events that could not be recorded."})
	m.reg.MustRegister(m.openSessions, m.sessions, stepsVec, m.stepErrors, m.duration, m.authFailures, m.auditErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry lets other components register their own series.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Recorder returns a gate.Recorder that records with next and counts each
// event that next accepted (and each it refused, as an audit error).
func (m *Metrics) Recorder(next gate.Recorder) gate.Recorder { return &recorder{m: m, next: next} }

type recorder struct {
	m    *Metrics
	next gate.Recorder
}

func (r *recorder) Record(ctx context.Context, e gate.Event) error {
	if err := r.next.Record(ctx, e); err != nil {
		r.m.auditErrors.Inc()
		return err
	}
	m := r.m
	switch e.Kind {
	case gate.EventSessionOpen:
		m.sessions.Inc()
		m.openSessions.Inc()
	case gate.EventSessionClose:
		m.openSessions.Dec()
	case gate.EventStep:
		if e.Decision != nil && int(e.Decision.Action) < len(m.steps) {
			m.steps[e.Decision.Action].Inc()
		}
	case gate.EventStepResult:
		if o := e.Outcome; o != nil {
			if !o.NotRun {
				m.duration.Observe(o.Duration.Seconds())
			}
			if o.Error != "" {
				m.stepErrors.Inc()
			}
		}
	case gate.EventAuthFailure:
		reason, _, _ := strings.Cut(e.Reason, ":")
		m.authFailures.WithLabelValues(reason).Inc()
	}
	return nil
}
