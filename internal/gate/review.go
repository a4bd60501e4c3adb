package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Hold takes a command that the policy sent to review (d.Action == Review)
// through human approval, and returns the decision to act on:
//
//   - an approval for exactly this command that is approved and unused
//     (deferred mode: the agent retries once approved) is redeemed: Allow;
//   - otherwise a request is persisted and recorded as a review step. In
//     defer mode Hold returns at once with a *DeniedError naming the request
//     and where to approve it. In wait mode it calls notice (so the adapter
//     can tell the client) and waits: approved -> Allow; denied -> a
//     *DeniedError naming the approver and comment; expired -> an error
//     wrapping ErrApprovalTimeout; ctx ended (the client went away) -> the
//     request is cancelled and ctx's error returned.
//
// An Allow decision carries the approval's ID and approvers; the adapter
// then calls Begin as for any allowed command.
func (s *Session) Hold(ctx context.Context, cmd *Command, d Decision, impact *Impact, notice func(*Approval)) (Decision, error) {
	ap := s.g.approver
	if d.Action != Review || ap == nil {
		return d, errors.New("gate: Hold called without a review decision and an approver")
	}
	req := &ApprovalRequest{SessionID: s.ID, Identity: s.Identity, Target: s.Target, Command: *cmd, Decision: d, Impact: impact}
	a, ok, err := ap.Redeem(ctx, req)
	if err != nil {
		return s.refuseReview(ctx, cmd, d, "the approval service is unavailable ("+err.Error()+"), so the statement cannot run")
	}
	if ok {
		return approvedDecision(d, a), nil
	}
	s.stepMu.Lock()
	req.Step = s.nsteps + 1
	s.stepMu.Unlock()
	a, err = ap.Request(ctx, req)
	if err != nil {
		return s.refuseReview(ctx, cmd, d, "the approval request could not be stored ("+err.Error()+"), so the statement cannot run")
	}
	held := d
	held.ApprovalID = a.ID
	if _, err := s.recordStep(ctx, cmd, &held); err != nil {
		return d, fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	if d.Review == nil || d.Review.Mode == "defer" {
		return d, &DeniedError{Policy: d.Policy, Rule: d.Rule, Message: fmt.Sprintf(
			"approval required (request %s): %s; send the identical statement again once it is approved", a.ID, a.URL)}
	}
	if notice != nil {
		notice(a)
	}
	id := a.ID
	a, err = ap.Wait(ctx, id)
	if err != nil {
		s.recordOutcome(cmd, d, id, "not run: the wait for approval request "+id+" ended: "+err.Error())
		return d, err
	}
	switch a.Status {
	case ApprovalUsed, ApprovalApproved:
		return approvedDecision(d, a), nil
	case ApprovalDenied:
		err = &DeniedError{Policy: d.Policy, Rule: d.Rule, Message: fmt.Sprintf("approval request %s was denied%s", a.ID, describeVotes(a, false))}
	case ApprovalExpired:
		err = fmt.Errorf("%w: approval request %s was not decided by %s", ErrApprovalTimeout, a.ID, a.Expires.UTC().Format(time.RFC3339))
	default:
		err = &DeniedError{Policy: d.Policy, Rule: d.Rule, Message: fmt.Sprintf("approval request %s ended as %s", a.ID, a.Status)}
	}
	s.recordOutcome(cmd, d, a.ID, err.Error())
	return d, err
}

// recordOutcome records how the review of a held command ended when it
// did not run (denied, expired, the wait given up), so the outcome is in
// the hash-chained trail and not only in the approvals store.
func (s *Session) recordOutcome(cmd *Command, d Decision, id, msg string) {
	d.Action, d.Message, d.ApprovalID = Deny, msg, id
	s.recordDenial(context.Background(), cmd, &d)
}

// refuseReview records and returns a denial of a held command that could
// not be put up for approval (fail closed).
func (s *Session) refuseReview(ctx context.Context, cmd *Command, d Decision, msg string) (Decision, error) {
	d.Action, d.Message = Deny, msg
	s.recordDenial(ctx, cmd, &d)
	return d, d.Denial()
}

func approvedDecision(d Decision, a *Approval) Decision {
	d.Action = Allow
	d.ApprovalID = a.ID
	for _, v := range a.Votes {
		if v.Approve {
			d.ApprovedBy = append(d.ApprovedBy, v.By)
		}
	}
	return d
}

// describeVotes renders " by alice: too broad" for the deciding votes.
func describeVotes(a *Approval, approve bool) string {
	var parts []string
	for _, v := range a.Votes {
		if v.Approve != approve {
			continue
		}
		p := " by " + v.By
		if v.Comment != "" {
			p += ": " + v.Comment
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ";")
}
