package gatetest

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Tokens authenticates by exact token lookup.
type Tokens map[string]*gate.Identity

// Authenticate returns the identity for token or an *gate.AuthError.
func (t Tokens) Authenticate(_ context.Context, token string) (*gate.Identity, error) {
	if id, ok := t[token]; ok {
		return id, nil
	}
	return nil, &gate.AuthError{Reason: "signature", Detail: "unknown test token"}
}

// PolicyFunc adapts a function to gate.Policy.
type PolicyFunc func(gate.Input) gate.Decision

// Decide calls f.
func (f PolicyFunc) Decide(_ context.Context, in gate.Input) (gate.Decision, error) {
	return f(in), nil
}

// AllowKinds allows commands of the listed kinds and denies the rest with a
// rule named "test/kinds".
func AllowKinds(kinds ...gate.Kind) PolicyFunc {
	return func(in gate.Input) gate.Decision {
		if slices.Contains(kinds, in.Command.Class.Kind) {
			return gate.Decision{Action: gate.Allow, Policy: "test", Rule: "kinds"}
		}
		return gate.Decision{Action: gate.Deny, Policy: "test", Rule: "kinds", Message: in.Command.Class.Kind.String() + " is not allowed in this test"}
	}
}

// Recorder keeps events in memory. Set Fail to make every Record fail.
type Recorder struct {
	mu     sync.Mutex
	events []gate.Event
	fail   error
	notify chan struct{}
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{notify: make(chan struct{}, 1)} }

// Record stores a copy of e, or returns the configured failure.
func (r *Recorder) Record(_ context.Context, e gate.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	if e.Command != nil {
		c := *e.Command
		e.Command = &c
	}
	r.events = append(r.events, e)
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

// SetFail makes Record return err (nil restores it).
func (r *Recorder) SetFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

// Events returns a copy of what was recorded, in order.
func (r *Recorder) Events() []gate.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Steps returns the EventStep events.
func (r *Recorder) Steps() []gate.Event {
	var out []gate.Event
	for _, e := range r.Events() {
		if e.Kind == gate.EventStep {
			out = append(out, e)
		}
	}
	return out
}

// WaitFor waits until pred holds for the recorded events or timeout passes;
// it returns the events and whether pred held. Events arrive from other
// goroutines (a step's result is recorded after the client has its answer).
func (r *Recorder) WaitFor(timeout time.Duration, pred func([]gate.Event) bool) ([]gate.Event, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ev := r.Events()
		if pred(ev) {
			return ev, true
		}
		select {
		case <-r.notify:
		case <-deadline.C:
			ev = r.Events()
			return ev, pred(ev)
		}
	}
}

// ErrInjected is the failure tests inject.
var ErrInjected = errors.New("injected recorder failure")

// Clock is a manual clock: time moves only with Advance, which runs due
// AfterFunc callbacks synchronously in deadline order.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

type timer struct {
	c       *Clock
	at      time.Time
	f       func()
	stopped bool
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d.
func (c *Clock) AfterFunc(d time.Duration, f func()) gate.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop cancels the timer.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves time forward by d and runs the callbacks that became due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*timer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}
