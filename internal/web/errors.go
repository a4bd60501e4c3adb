package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// approvalErrorStatus translates an error of gate.Approvals (Get, Decide,
// Revoke) on request id into an HTTP status and a sentence for the caller;
// verb names what by tried ("decide", "revoke"). This is the one place the
// web adapter maps those errors.
func approvalErrorStatus(err error, verb, id string, by *gate.Identity) (int, string) {
	q := strconv.Quote(id)
	switch {
	case errors.Is(err, gate.ErrNotFound):
		return http.StatusNotFound, "no approval request " + q
	case errors.Is(err, gate.ErrForbidden):
		return http.StatusForbidden, by.String() + " may not " + verb + " request " + q + " (not one of its approvers, or its requester): " + err.Error()
	case errors.Is(err, gate.ErrConflict):
		return http.StatusConflict, "cannot " + verb + " request " + q + " any more (already decided, expired, cancelled or used, or you already voted): " + err.Error()
	}
	return http.StatusInternalServerError, "the approval service failed: " + err.Error()
}

// grantErrorStatus translates an error of Approvals.RequestGrant. The port
// documents its errors as naming a bad connection, access or duration, so
// anything that is not a gate sentinel is the caller's input: 400.
func grantErrorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, gate.ErrForbidden):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, gate.ErrConflict):
		return http.StatusConflict, err.Error()
	case errors.Is(err, gate.ErrInvalid):
		return http.StatusBadRequest, "grant refused: " + err.Error()
	}
	// Anything else is the service failing, not the request.
	return http.StatusServiceUnavailable, "the grant request could not be stored: " + err.Error()
}
