package approval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Webhook delivery. Each target has its own bounded queue and goroutine,
// so a slow or failing target delays only its own events, never a request
// or another target. An event is posted up to NotifyTries times, waiting
// NotifyBackoff, then twice as long each time up to NotifyMaxWait (real
// time, not the Clock). Outcomes are counted in
// gatehouse_approval_webhooks_total{target, result}:
//
//	delivered  a 2xx answer
//	retried    an attempt failed (error or non-2xx) and will be repeated
//	failed     every attempt failed; the event is given up (and logged)
//	dropped    the target's queue was full (or the Service closed first)
//
// Delivery is best effort and in memory: events queued when the process
// dies are lost. The requests themselves are in the store and visible in
// the web UI regardless.

// notice is one event for the webhooks.
type notice struct {
	event   string // created, approved, denied, expired, cancelled
	a       *gate.Approval
	revoked *Revocation
	at      time.Time
}

type notifier struct {
	cfg     Config
	log     *slog.Logger
	client  *http.Client
	results *prometheus.CounterVec
	targets []*target
	abort   chan struct{} // closed when Close gives up waiting
	aborted sync.Once
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

type target struct {
	NotifyTarget
	queue chan notice
}

func newNotifier(cfg Config) (*notifier, error) {
	n := &notifier{cfg: cfg, log: cfg.Logger, client: cfg.HTTPClient, abort: make(chan struct{})}
	n.results = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_approval_webhooks_total",
		Help: "Approval webhook events by target and result (delivered, retried, failed, dropped).",
	}, []string{"target", "result"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(n.results); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("approval: register metrics: %w", err)
			}
			n.results = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	for _, t := range cfg.Notify {
		tg := &target{NotifyTarget: t, queue: make(chan notice, cfg.NotifyQueue)}
		n.targets = append(n.targets, tg)
		n.wg.Go(func() { n.run(tg) })
	}
	return n, nil
}

// send queues an event for every target without blocking.
func (n *notifier) send(event string, a *gate.Approval, revoked *Revocation, at time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range n.targets {
		if n.closed {
			n.results.WithLabelValues(t.Name, "dropped").Inc()
			continue
		}
		select {
		case t.queue <- notice{event: event, a: a, revoked: revoked, at: at}:
		default:
			n.results.WithLabelValues(t.Name, "dropped").Inc()
			n.log.Error("approval webhook queue full; event dropped", "target", t.Name, "event", event, "id", a.ID)
		}
	}
}

// run delivers t's events in order until its queue is closed and empty.
func (n *notifier) run(t *target) {
	for ev := range t.queue {
		select {
		case <-n.abort:
			n.results.WithLabelValues(t.Name, "dropped").Inc()
			continue
		default:
		}
		body, err := payload(t.Format, &ev)
		if err != nil {
			n.results.WithLabelValues(t.Name, "failed").Inc()
			n.log.Error("approval webhook payload", "target", t.Name, "err", err)
			continue
		}
		n.deliver(t, &ev, body)
	}
}

// deliver posts body with retries.
func (n *notifier) deliver(t *target, ev *notice, body []byte) {
	wait := n.cfg.NotifyBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = n.post(t.URL, body); err == nil {
			n.results.WithLabelValues(t.Name, "delivered").Inc()
			return
		}
		if attempt >= n.cfg.NotifyTries {
			break
		}
		n.results.WithLabelValues(t.Name, "retried").Inc()
		n.log.Warn("approval webhook failed; retrying", "target", t.Name, "event", ev.event, "id", ev.a.ID, "attempt", attempt, "in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-n.abort:
			timer.Stop()
			n.results.WithLabelValues(t.Name, "dropped").Inc()
			return
		}
		wait = min(2*wait, n.cfg.NotifyMaxWait)
	}
	n.results.WithLabelValues(t.Name, "failed").Inc()
	n.log.Error("approval webhook given up", "target", t.Name, "event", ev.event, "id", ev.a.ID, "attempts", n.cfg.NotifyTries, "err", err)
}

// post sends one attempt. Errors never contain the URL, which may be a
// secret (Slack).
func (n *notifier) post(u string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return errors.New("bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatehouse")
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return nil
}

// close stops accepting events and waits for the queues to drain until ctx
// ends; then it aborts retries and drops what is left.
func (n *notifier) close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		for _, t := range n.targets {
			close(t.queue)
		}
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		n.aborted.Do(func() { close(n.abort) })
		<-done
		return fmt.Errorf("approval: webhooks not all delivered: %w", ctx.Err())
	}
}
