package gate

import (
	"context"
	"time"
)

// Authenticator verifies a bearer credential (an OIDC token) and returns the
// identity it proves. Failures are *AuthError values.
// Implementations must be safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Identity, error)
}

// Input is everything a policy may look at for one command.
type Input struct {
	Identity *Identity
	Target   Target
	Command  *Command
}

// Policy decides a command. An error means the policy could not decide (an
// evaluation failure); gate treats it as a deny. Implementations must be
// safe for concurrent use and must not retain in.
type Policy interface {
	Decide(ctx context.Context, in Input) (Decision, error)
}

// Recorder appends events to the audit trail.
//
// For write-ahead events (Event.WriteAhead reports true: session opened,
// step decided) Record returns only once the event is durable, or with an
// error; the caller must then not proceed. For the other events Record may
// return before the event is durable; an error then means it was lost.
// Implementations must be safe for concurrent use and must not retain e's
// pointers beyond the call unless they copy what they keep.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// Clock is the source of time for everything that waits or expires.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, unless stopped.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it did.
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// PolicyMatcher is an optional extension of Policy: it names the policy
// that applies to an input without deciding, so that an adapter can prepare
// what depends on the policy (its masking) before Decide.
type PolicyMatcher interface {
	Applicable(ctx context.Context, in Input) (policy string, err error)
}
