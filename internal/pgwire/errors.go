package pgwire

import (
	"errors"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// SQLSTATE codes the gateway itself sends.
const (
	codeInsufficientPrivilege = "42501"
	codeSyntaxError           = "42601"
	codeInvalidAuthorization  = "28000"
	codeInvalidCatalogName    = "3D000"
	codeProtocolViolation     = "08P01"
	codeCannotConnect         = "08001"
	codeSystemError           = "58000"
	codeAdminShutdown         = "57P01"
	codeFeatureNotSupported   = "0A000"
	codeInvalidStatementName  = "26000"
	codeInternalError         = "XX000"
)

// errorResponse translates an error from the core, the classifier or this
// adapter into the ErrorResponse a PostgreSQL client understands. This is
// the one place where gatehouse errors become SQLSTATEs. Messages start with
// "gatehouse: " so that a user can tell the gateway from the database.
func errorResponse(err error, fatal bool) *pgproto3.ErrorResponse {
	sev := "ERROR"
	if fatal {
		sev = "FATAL"
	}
	e := &pgproto3.ErrorResponse{Severity: sev, SeverityUnlocalized: sev}
	var (
		denied *gate.DeniedError
		auth   *gate.AuthError
		proto  *ProtocolError
		parse  *parseError
		wire   *wireError
	)
	switch {
	case errors.As(err, &wire):
		e.Code, e.Message, e.Hint = wire.code, wire.msg, wire.hint
		if wire.fatal {
			e.Severity, e.SeverityUnlocalized = "FATAL", "FATAL"
		}
		return e
	case errors.As(err, &denied):
		e.Code = codeInsufficientPrivilege
		e.Message = "gatehouse: " + denied.Error()
	case errors.As(err, &parse):
		e.Code = codeSyntaxError
		e.Message = "gatehouse: cannot parse statement, so it was not run: " + parse.msg
		e.Position = parse.pos
	case errors.As(err, &auth):
		e.Code = codeInvalidAuthorization
		e.Message = "gatehouse: " + auth.Error()
	case errors.Is(err, gate.ErrApprovalTimeout):
		e.Code = codeInsufficientPrivilege
		e.Message = "gatehouse: " + err.Error() + "; the statement was not run"
	case errors.Is(err, gate.ErrTokenExpired):
		e.Code = codeInvalidAuthorization
		e.Message = "gatehouse: the session's token expired; reconnect with a fresh token"
	case errors.Is(err, gate.ErrAuditUnavailable):
		// The store's own error (hosts, roles, node names) is for the
		// operator's log, not for the agent.
		e.Code = codeSystemError
		what := "the statement was not run"
		if fatal {
			what = "the session was not opened"
		}
		e.Message = "gatehouse: audit store unavailable, so " + what
		e.Hint = "retry later; the gateway refuses to run what it cannot record"
	case errors.Is(err, gate.ErrShuttingDown):
		e.Code = codeAdminShutdown
		e.Message = "gatehouse: the gateway is shutting down; reconnect"
	case errors.As(err, &proto):
		e.Code = codeProtocolViolation
		e.Message = "gatehouse: " + proto.Error()
	default:
		e.Code = codeInternalError
		e.Message = "gatehouse: " + err.Error()
	}
	return e
}

// wireError is an error this adapter raises with its own SQLSTATE.
type wireError struct {
	code, msg, hint string
	fatal           bool
}

func (e *wireError) Error() string { return e.msg }

func fatalf(code, msg, hint string) error {
	return &wireError{code: code, msg: msg, hint: hint, fatal: true}
}

// parseError is the classifier's refusal to parse a statement.
type parseError struct {
	msg string
	pos int32
}

func (e *parseError) Error() string { return "cannot parse statement: " + e.msg }
