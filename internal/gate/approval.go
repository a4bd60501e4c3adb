package gate

import (
	"context"
	"errors"
	"time"
)

// Approval errors.
var (
	// ErrForbidden: the identity may not decide this request (not an
	// approver for it, or its own request).
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the request was already decided, expired, cancelled or
	// used.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: a request (a grant request) is malformed or out of
	// bounds; the wrapping error says what to change.
	ErrInvalid = errors.New("invalid request")
)

// ApprovalStatus is where a request is in its life.
type ApprovalStatus string

const (
	ApprovalPending   ApprovalStatus = "pending"
	ApprovalApproved  ApprovalStatus = "approved" // enough approvals; not yet executed
	ApprovalDenied    ApprovalStatus = "denied"
	ApprovalExpired   ApprovalStatus = "expired"
	ApprovalCancelled ApprovalStatus = "cancelled" // the waiting client went away
	ApprovalUsed      ApprovalStatus = "used"      // approved and executed once
)

// Impact is the adapter's estimate of what a held command would change.
type Impact struct {
	// EstimatedRows is the planner's estimate (-1 when unknown).
	EstimatedRows int64 `json:"estimated_rows"`
	// ExactRows is the count from a dry run that was rolled back (nil
	// when no dry run was made).
	ExactRows *int64 `json:"exact_rows,omitempty"`
	// Plan is the upstream's plan (EXPLAIN output), possibly truncated.
	Plan string `json:"plan,omitempty"`
	// Error explains why no estimate could be made.
	Error string `json:"error,omitempty"`
}

// ApprovalRequest is everything an approver sees when deciding a held
// command, and what an approval authorizes: exactly this statement with
// these parameters, by this identity, on this target, under this policy
// version, once.
type ApprovalRequest struct {
	SessionID string    `json:"session_id"`
	Step      int       `json:"step"`
	Identity  *Identity `json:"identity"`
	Target    Target    `json:"target"`
	Command   Command   `json:"command"`
	Decision  Decision  `json:"decision"` // the review decision: policy, rule, message, version, ReviewSpec
	Impact    *Impact   `json:"impact,omitempty"`
	// Context lists the earlier steps of the same agent run (same trace
	// id, else same session), oldest first, at most 20. The approver
	// service fills it.
	Context []StepRecord `json:"context,omitempty"`
	// Grant is set instead of Command for a request for time-bound access.
	Grant *GrantSpec `json:"grant,omitempty"`
}

// GrantSpec is a request for time-bound access: while the grant is active,
// identity.grants contains "CONNECTION:ACCESS" for the requester.
type GrantSpec struct {
	Connection string        `json:"connection"`
	Access     string        `json:"access"` // e.g. "write"
	Duration   time.Duration `json:"duration_ns"`
	Reason     string        `json:"reason,omitempty"`
	// Starts and Ends bound an approved grant (zero until approved).
	Starts time.Time `json:"starts,omitzero"`
	Ends   time.Time `json:"ends,omitzero"`
}

// Key is the grant's entry in identity.grants.
func (g *GrantSpec) Key() string { return g.Connection + ":" + g.Access }

// ApprovalVote is one approver's decision.
type ApprovalVote struct {
	By      string    `json:"by"` // the approver's identity, as Identity.String
	Issuer  string    `json:"issuer,omitempty"`
	Subject string    `json:"subject"`
	Approve bool      `json:"approve"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// Approval is a persisted approval request and its state.
type Approval struct {
	ID      string          `json:"id"`
	URL     string          `json:"url"` // where a human decides it
	Status  ApprovalStatus  `json:"status"`
	Request ApprovalRequest `json:"request"`
	Created time.Time       `json:"created"`
	Expires time.Time       `json:"expires"`
	// Required is how many distinct approvers must approve.
	Required int            `json:"required"`
	Votes    []ApprovalVote `json:"votes,omitempty"`
	// Revoked records who ended a grant (or withdrew a request) early.
	Revoked *ApprovalVote `json:"revoked,omitempty"`
	Updated time.Time     `json:"updated"`
}

// Approver holds commands for human review. It is the port the data path
// uses; internal/approval implements it.
type Approver interface {
	// Redeem finds an approved, unused approval for exactly req (same
	// identity issuer and subject, target, normalized statement text,
	// parameters and policy version) and marks it used, atomically across
	// replicas, so it authorizes one execution. ok is false when there is
	// none.
	Redeem(ctx context.Context, req *ApprovalRequest) (a *Approval, ok bool, err error)
	// Request persists a new pending request for req and notifies.
	Request(ctx context.Context, req *ApprovalRequest) (*Approval, error)
	// Wait blocks until request id is decided or expires, or ctx ends.
	// An approved request is marked used before Wait returns it, so it
	// runs once. When ctx ends first, the request is cancelled and
	// ctx.Err() returned.
	Wait(ctx context.Context, id string) (*Approval, error)
	// Grants lists id's active grants as "connection:access" entries. It
	// is called for every decision, so implementations cache and keep the
	// cache current with change events.
	Grants(ctx context.Context, id *Identity) ([]string, error)
}

// ApprovalFilter narrows Approvals.List.
type ApprovalFilter struct {
	Status ApprovalStatus // "" = any
	Limit  int
}

// ApprovalEvent tells subscribers that an approval changed.
type ApprovalEvent struct {
	ID     string         `json:"id"`
	Status ApprovalStatus `json:"status"`
}

// Approvals is the deciding side, for the admin API, web UI and CLI.
type Approvals interface {
	List(ctx context.Context, f ApprovalFilter) ([]*Approval, error)
	// Get returns one approval or ErrNotFound.
	Get(ctx context.Context, id string) (*Approval, error)
	// Decide records by's vote. Errors: ErrNotFound, ErrForbidden (not an
	// approver of this request, or the requester), ErrConflict (no longer
	// pending, or by already voted).
	Decide(ctx context.Context, id string, by *Identity, approve bool, comment string) (*Approval, error)
	// CanDecide reports whether by may vote on a (for showing buttons).
	CanDecide(a *Approval, by *Identity) bool
	// Subscribe delivers change events until ctx ends (for live pages). An
	// event with an empty ID means events were missed: reload everything.
	Subscribe(ctx context.Context) <-chan ApprovalEvent
	// RequestGrant persists a pending grant request by id (an approval
	// whose Request.Grant is set). Errors name a bad connection, access or
	// a duration over the connection's max_grant.
	RequestGrant(ctx context.Context, id *Identity, g GrantSpec) (*Approval, error)
	// Revoke ends an active grant (or withdraws a pending request) early.
	Revoke(ctx context.Context, id string, by *Identity, comment string) (*Approval, error)
}
