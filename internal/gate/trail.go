package gate

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound: the requested record does not exist.
var ErrNotFound = errors.New("not found")

// Trail reads the audit trail back: the sessions list and the replay of one
// session. The admin API and CLI consume it; audit implements it.
type Trail interface {
	// Sessions lists sessions, newest first, matching every non-zero field
	// of f.
	Sessions(ctx context.Context, f SessionFilter) ([]SessionSummary, error)
	// Session returns one session with its steps in order, or ErrNotFound.
	Session(ctx context.Context, id string) (*SessionRecord, error)
}

// SessionFilter narrows Sessions. Zero fields match everything; Limit 0
// means a default page (100).
type SessionFilter struct {
	Connection string
	Subject    string
	TraceID    string // sessions with at least one step in this agent run
	Since      time.Time
	Limit      int
}

// SessionSummary is a session as listed.
type SessionSummary struct {
	ID         string     `json:"id"`
	Identity   *Identity  `json:"identity,omitempty"`
	Target     Target     `json:"target"`
	ClientAddr string     `json:"client_addr,omitempty"`
	User       string     `json:"user,omitempty"`
	Protocol   string     `json:"protocol"`
	Opened     time.Time  `json:"opened"`
	Closed     *time.Time `json:"closed,omitempty"`
	EndReason  string     `json:"end_reason,omitempty"`
	Steps      int        `json:"steps"`
	Denied     int        `json:"denied"`
}

// SessionRecord is a session with its steps, for replay.
type SessionRecord struct {
	SessionSummary
	Steps []StepRecord `json:"step_list"`
}

// StepRecord is one step as recorded: what was asked, what was decided and,
// for allowed steps, what came back (nil while running or if lost).
type StepRecord struct {
	N        int       `json:"n"`
	Time     time.Time `json:"time"`
	Command  Command   `json:"command"`
	Decision Decision  `json:"decision"`
	Outcome  *Outcome  `json:"outcome,omitempty"`
}
