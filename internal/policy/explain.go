package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Check names what a Trace entry evaluated.
type Check string

const (
	// CheckKind: the command's kind was unknown, so nothing else ran.
	CheckKind Check = "kind"
	// CheckConnections: whether the policy covers the target connection.
	CheckConnections Check = "connections"
	// CheckMatch: the policy's match expression.
	CheckMatch Check = "match"
	// CheckWhen: a rule's when expression.
	CheckWhen Check = "when"
)

// Trace is one check Decide made, in order. Decide stops at the first
// policy that applies and the first rule that is true, so checks after
// those do not appear: the trace shows exactly the path to the decision.
type Trace struct {
	Policy string `json:"policy,omitempty"`
	Rule   string `json:"rule,omitempty"` // empty for policy-level checks
	Check  Check  `json:"check"`
	// Expr is the CEL source for match and when, the connection list for
	// connections.
	Expr   string `json:"expr"`
	Result bool   `json:"result"`
	// Error is the evaluation error, when the check failed; Result is then
	// false and the decision is a deny.
	Error string `json:"error,omitempty"`
}

// String formats t as one line for the explain CLI:
//
//	agents/reads when `command.kind == "read"` -> true
func (t Trace) String() string {
	var b strings.Builder
	b.WriteString(t.Policy)
	if t.Rule != "" {
		b.WriteString("/" + t.Rule)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%s `%s` -> ", t.Check, t.Expr)
	if t.Error != "" {
		b.WriteString("error: " + t.Error)
	} else {
		fmt.Fprint(&b, t.Result)
	}
	return b.String()
}

// Explain decides in exactly as Decide does and also returns every check
// made on the way, for `gatehouse explain`. It is slower than Decide (it
// formats each step) and is not meant for the hot path.
func (e *Engine) Explain(ctx context.Context, in gate.Input) (gate.Decision, []Trace, error) {
	var tr []Trace
	d, err := e.decide(ctx, in, &tr)
	return d, tr, err
}

func traceOf(policy, rule string, check Check, src string, ok bool, err error) Trace {
	t := Trace{Policy: policy, Rule: rule, Check: check, Expr: src, Result: ok && err == nil}
	if err != nil {
		t.Error = err.Error()
	}
	return t
}
