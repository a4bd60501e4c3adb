package gate

import "fmt"

// Action is what a policy decides for a command.
type Action uint8

const (
	// Deny refuses the command. It is the zero value: an unset decision denies.
	Deny Action = iota
	// Allow forwards the command.
	Allow
	// Review holds the command for human approval.
	Review
)

var actionNames = [...]string{"deny", "allow", "review"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// ParseAction is the inverse of Action.String.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if n == s {
			return Action(i), nil
		}
	}
	return Deny, fmt.Errorf("unknown action %q (want allow, deny or review)", s)
}

// MarshalText encodes the action by name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText decodes an action name.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Decision is a policy's verdict on one command. The zero Decision denies
// without naming a rule.
type Decision struct {
	Action Action `json:"action"`
	// Policy and Rule name what decided; empty when no policy or no rule
	// applied (both are then denials).
	Policy string `json:"policy,omitempty"`
	Rule   string `json:"rule,omitempty"`
	// Message is the rule's message, shown to the caller on deny and review.
	Message string `json:"message,omitempty"`
	// PolicyVersion identifies the compiled policy set that decided, so an
	// approval granted under one version is not reused under another.
	PolicyVersion string `json:"policy_version,omitempty"`
	// Review carries the approval requirements when Action is Review.
	Review *ReviewSpec `json:"review,omitempty"`
	// ApprovalID names the approval request of a held command, or the
	// approval that allowed it; ApprovedBy lists who approved.
	ApprovalID string   `json:"approval_id,omitempty"`
	ApprovedBy []string `json:"approved_by,omitempty"`
}

// ReviewSpec says who must approve a command held for review.
type ReviewSpec struct {
	Approvers []string `json:"approvers,omitempty"` // access entries (group:NAME...)
	Required  int      `json:"required"`            // distinct approvals needed, >= 1
	Mode      string   `json:"mode"`                // "wait" or "defer"
}

// Denial builds the error an adapter reports for a denied decision.
func (d Decision) Denial() *DeniedError {
	return &DeniedError{Policy: d.Policy, Rule: d.Rule, Message: d.Message}
}
