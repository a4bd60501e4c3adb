package gate

import "time"

// Target is the upstream an agent asks to reach: a configured connection.
type Target struct {
	Name string `json:"name"` // the connection's configured name
	Kind string `json:"kind"` // "postgres", later "mysql", "http"
}

// EventKind tells which stage of the pipeline an Event records.
type EventKind uint8

const (
	// EventSessionOpen: an identity opened a session on a target. Write-ahead.
	EventSessionOpen EventKind = iota + 1
	// EventStep: a command was decided (allowed, denied or held). For an
	// allowed command it is written before the command is forwarded. Write-ahead.
	EventStep
	// EventStepResult: what came back for an allowed step.
	EventStepResult
	// EventSessionClose: the session ended.
	EventSessionClose
	// EventAuthFailure: a connection presented a credential that failed.
	EventAuthFailure
)

var eventKindNames = [...]string{"", "session_open", "step", "step_result", "session_close", "auth_failure"}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && k != 0 {
		return eventKindNames[k]
	}
	return "unknown"
}

// ParseEventKind is the inverse of EventKind.String; it returns 0 for an
// unknown name.
func ParseEventKind(s string) EventKind {
	for i, n := range eventKindNames {
		if i > 0 && n == s {
			return EventKind(i)
		}
	}
	return 0
}

// WriteAhead reports whether the event must be durable before the pipeline
// goes on (see Recorder).
func (k EventKind) WriteAhead() bool { return k == EventSessionOpen || k == EventStep }

// SessionInfo describes a session when it opens (and a failed attempt).
type SessionInfo struct {
	Identity   *Identity `json:"identity,omitempty"`
	Target     Target    `json:"target"`
	ClientAddr string    `json:"client_addr,omitempty"`
	// User is the user name the client sent; free text, recorded only.
	User     string `json:"user,omitempty"`
	Protocol string `json:"protocol"`
}

// Outcome is what an allowed step produced.
type Outcome struct {
	// Tag is the protocol's completion tag ("SELECT 3", "DELETE 1", "200").
	Tag string `json:"tag,omitempty"`
	// Rows is the number of rows returned or affected (-1 when unknown).
	Rows int64 `json:"rows"`
	// Bytes is the size of the result sent to the client.
	Bytes int64 `json:"bytes,omitempty"`
	// Error is the upstream or gateway error, if the step failed.
	Error     string `json:"error,omitempty"`
	ErrorCode string `json:"error_code,omitempty"`
	// NotRun is true when the upstream skipped the step (an earlier error
	// in the same pipeline, a cancelled connection).
	NotRun   bool          `json:"not_run,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Masked counts masked values by "column" or "detector:NAME".
	Masked map[string]int64 `json:"masked,omitempty"`
	// Preview holds the first rows of the result as the client saw them
	// (after masking), bounded in size by the adapter.
	Preview *Preview `json:"preview,omitempty"`
}

// Preview is a bounded sample of a result.
type Preview struct {
	Columns   []string   `json:"columns"`
	Rows      [][]string `json:"rows"`
	Truncated bool       `json:"truncated,omitempty"`
}

// Event is one record of the audit trail. Which fields are set depends on
// Kind: Session for EventSessionOpen and EventAuthFailure; Command and
// Decision for EventStep; Outcome for EventStepResult; Reason for
// EventSessionClose and EventAuthFailure.
type Event struct {
	Kind      EventKind
	Time      time.Time
	SessionID string
	// Step numbers steps within a session from 1; 0 for session events.
	Step     int
	Session  *SessionInfo
	Command  *Command
	Decision *Decision
	Outcome  *Outcome
	Reason   string
}
