package gate

import (
	"errors"
	"fmt"
)

// Sentinel errors. Adapters translate them once, in their errors.go, into
// the protocol's own error (SQLSTATE, MySQL ERR packet, HTTP status).
var (
	// ErrUnauthenticated: the caller presented no valid credential. The
	// concrete error is an *AuthError naming the failed check.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrAuditUnavailable: the step could not be recorded, so it must not run.
	ErrAuditUnavailable = errors.New("audit store unavailable")
	// ErrTokenExpired ends a session whose token has expired.
	ErrTokenExpired = errors.New("token expired")
	// ErrApprovalTimeout: a reviewed command waited longer than allowed.
	ErrApprovalTimeout = errors.New("approval timed out")
	// ErrShuttingDown: the gateway is stopping and takes no new work.
	ErrShuttingDown = errors.New("gateway shutting down")
)

// AuthError says which identity check failed. Reason is a short stable code
// for metrics ("expired", "audience", "issuer", "signature", "malformed",
// "algorithm", "not_yet_valid", "issued_in_future", "keys_unavailable",
// "missing", "too_large"); Detail is a sentence for the caller. Neither holds the token.
type AuthError struct {
	Reason string
	Detail string
}

func (e *AuthError) Error() string {
	if e.Detail == "" {
		return "authentication failed: " + e.Reason
	}
	return "authentication failed: " + e.Detail
}

// Unwrap makes errors.Is(err, ErrUnauthenticated) true.
func (e *AuthError) Unwrap() error { return ErrUnauthenticated }

// DeniedError is a policy refusal. Its message names the policy and rule so
// that an agent can understand and recover.
type DeniedError struct {
	Policy  string
	Rule    string
	Message string
}

func (e *DeniedError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "not allowed"
	}
	switch {
	case e.Policy != "" && e.Rule != "":
		return fmt.Sprintf("denied by rule %s/%s: %s", e.Policy, e.Rule, msg)
	case e.Policy != "":
		return fmt.Sprintf("denied by policy %s: %s", e.Policy, msg)
	default:
		return "denied: " + msg
	}
}

// IsDenied reports whether err is or wraps a *DeniedError.
func IsDenied(err error) bool {
	var d *DeniedError
	return errors.As(err, &d)
}
