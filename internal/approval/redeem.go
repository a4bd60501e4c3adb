package approval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Redeem implements gate.Approver. It finds an approved, unused, unexpired
// approval of exactly req and marks it used, in one store transaction per
// candidate, so that of two replicas racing for one approval exactly one
// wins. "Exactly" is the redeem key (redeemKey): the identity's issuer
// and subject, the target's name, the statement text normalized by
// sqlcomment.Normalize (a new traceparent comment on the retry still
// matches; any change to the SQL does not), every parameter value and
// NULL, and the policy version in force. The candidate's stored request is
// compared field by field as well, so a key collision could not redeem
// someone else's approval.
func (s *Service) Redeem(ctx context.Context, req *gate.ApprovalRequest) (*gate.Approval, bool, error) {
	if req == nil || req.Identity == nil {
		return nil, false, nil
	}
	key := redeemKey(req)
	rows, err := s.st.ListApprovals(ctx, store.ApprovalQuery{
		Statuses: []string{string(gate.ApprovalApproved)}, Kind: store.ApprovalStatement, RedeemKey: key,
	})
	if err != nil {
		return nil, false, fmt.Errorf("approval: redeem: %w", err)
	}
	slices.Reverse(rows) // oldest approval first
	for _, r := range rows {
		b, err := s.update(ctx, r.ID, func(b *body, now time.Time) error {
			a := &b.Approval
			if a.Status != gate.ApprovalApproved || !now.Before(a.Expires) || b.RedeemKey != key || !sameStatement(&a.Request, req) {
				return errUnchanged
			}
			a.Status = gate.ApprovalUsed
			return nil
		})
		if errors.Is(err, errUnchanged) {
			continue // another replica won, or it lapsed: try the next
		}
		if err != nil {
			return nil, false, fmt.Errorf("approval: redeem: %w", err)
		}
		s.changed(b, "")
		return s.view(b), true, nil
	}
	return nil, false, nil
}

// redeemKey is the hex SHA-256 of the fields an approval binds, each
// length-prefixed so that no two requests share an encoding.
func redeemKey(req *gate.ApprovalRequest) string {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field("gatehouse approval v1")
	if req.Identity != nil {
		field(req.Identity.Issuer)
		field(req.Identity.Subject)
	}
	field(req.Target.Name)
	field(normalizedText(&req.Command))
	field(req.Decision.PolicyVersion)
	params := req.Command.Params
	field(fmt.Sprint(len(params)))
	for i, p := range params {
		if isNull(&req.Command, i) {
			field("NULL")
			continue
		}
		field("value")
		field(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func isNull(c *gate.Command, i int) bool { return i < len(c.ParamNulls) && c.ParamNulls[i] }

// sameStatement compares what redeemKey hashes.
func sameStatement(a, b *gate.ApprovalRequest) bool {
	if !sameIdentity(a.Identity, b.Identity) || a.Target.Name != b.Target.Name ||
		a.Decision.PolicyVersion != b.Decision.PolicyVersion ||
		normalizedText(&a.Command) != normalizedText(&b.Command) ||
		len(a.Command.Params) != len(b.Command.Params) {
		return false
	}
	for i := range a.Command.Params {
		na, nb := isNull(&a.Command, i), isNull(&b.Command, i)
		if na != nb || !na && a.Command.Params[i] != b.Command.Params[i] {
			return false
		}
	}
	return true
}
