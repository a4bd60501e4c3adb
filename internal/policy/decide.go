package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/common/types"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Engine decides commands with the policies of one Config, compiled once.
// It implements gate.Policy. It is immutable and safe for concurrent use;
// a new Config means a new Engine (with a new Version).
type Engine struct {
	policies     []compiledPolicy
	version      string
	acts         *activations
	usesEstimate bool
}

var _ gate.Policy = (*Engine)(nil)

// New validates cfg, compiles and type-checks every expression and returns
// an Engine. All problems are reported at once: the error joins one
// *ConfigError per problem, each naming the policy, the rule and the key.
func New(cfg Config) (*Engine, error) {
	norm, nerr := normalize(cfg)
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("policy: CEL environment: %w", err)
	}
	policies, cerr := compile(env, norm)
	if err := errors.Join(nerr, cerr); err != nil {
		return nil, err
	}
	return &Engine{policies: policies, version: version(norm), acts: newActivations(env.CELTypeAdapter()),
		usesEstimate: mentions(norm, "estimated_rows")}, nil
}

// UsesEstimate reports whether any expression refers to
// command.estimated_rows, so that adapters ask the upstream for an estimate
// (a round trip) only when a rule can use it. It errs on the side of yes:
// the test is on the expression text.
func (e *Engine) UsesEstimate() bool { return e.usesEstimate }

func mentions(cfg Config, word string) bool {
	for _, p := range cfg.Policies {
		if strings.Contains(p.Match, word) {
			return true
		}
		for _, r := range p.Rules {
			if strings.Contains(r.When, word) {
				return true
			}
		}
	}
	return false
}

// Version is the PolicyVersion stamped on every Decision: 16 hex digits of
// the SHA-256 of the normalized Config. It changes when anything in the
// Config changes (order included) and only then.
func (e *Engine) Version() string { return e.version }

// EvalError is a failure to evaluate an expression at run time (a missing
// map key, a failed conversion). Decide returns it with a deny Decision.
type EvalError struct {
	Policy string
	Rule   string // empty for the policy's match
	Field  string // "match" or "when"
	Err    error
}

func (e *EvalError) Error() string {
	if e.Rule == "" {
		return fmt.Sprintf("policy %q %s: evaluation failed: %v", e.Policy, e.Field, e.Err)
	}
	return fmt.Sprintf("policy %q rule %q %s: evaluation failed: %v", e.Policy, e.Rule, e.Field, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// Decide implements gate.Policy: the first policy that covers in.Target and
// whose match is true applies; its first rule whose when is true decides.
// Otherwise the command is denied, with a message saying which level found
// nothing. A nil Command or a cancelled ctx is an error; an evaluation error
// is an *EvalError with a deny Decision naming the policy and rule. Decide
// never returns Allow together with an error. It does not retain in.
func (e *Engine) Decide(ctx context.Context, in gate.Input) (gate.Decision, error) {
	return e.decide(ctx, in, nil)
}

// decide is Decide, appending a Trace per check to tr when tr is not nil.
func (e *Engine) decide(ctx context.Context, in gate.Input, tr *[]Trace) (gate.Decision, error) {
	deny := gate.Decision{Action: gate.Deny, PolicyVersion: e.version}
	if err := ctx.Err(); err != nil {
		return deny, err
	}
	if in.Command == nil {
		return deny, errors.New("policy: no command to decide")
	}
	if k := in.Command.Class.Kind; k < gate.KindRead || k > gate.KindAdmin {
		deny.Message = "the command could not be classified, and unclassified commands are denied"
		if tr != nil {
			*tr = append(*tr, Trace{Check: CheckKind, Expr: "command.kind", Error: "kind is " + k.String()})
		}
		return deny, nil
	}
	a := e.acts.get(in)
	defer e.acts.put(a)
	for pi := range e.policies {
		p := &e.policies[pi]
		covered := p.appliesTo(in.Target.Name)
		if tr != nil {
			*tr = append(*tr, Trace{Policy: p.name, Check: CheckConnections, Expr: fmt.Sprint(p.connections), Result: covered})
		}
		if !covered {
			continue
		}
		if p.match != nil {
			ok, err := eval(p.match, a)
			if tr != nil {
				*tr = append(*tr, traceOf(p.name, "", CheckMatch, p.match.src, ok, err))
			}
			if err != nil {
				deny.Policy = p.name
				return deny, &EvalError{Policy: p.name, Field: "match", Err: err}
			}
			if !ok {
				continue
			}
		}
		deny.Policy = p.name
		for ri := range p.rules {
			r := &p.rules[ri]
			ok, err := eval(r.when, a)
			if tr != nil {
				*tr = append(*tr, traceOf(p.name, r.name, CheckWhen, r.when.src, ok, err))
			}
			if err != nil {
				deny.Rule = r.name
				return deny, &EvalError{Policy: p.name, Rule: r.name, Field: "when", Err: err}
			}
			if ok {
				return r.decision(p.name, e.version), nil
			}
		}
		deny.Message = fmt.Sprintf("no rule of policy %s allows this %s command", p.name, in.Command.Class.Kind)
		return deny, nil
	}
	deny.Message = fmt.Sprintf("no policy applies to %s on connection %q", in.Identity, in.Target.Name)
	return deny, nil
}

// decision builds the rule's Decision; the ReviewSpec is a fresh copy the
// caller may keep.
func (r *compiledRule) decision(policy, version string) gate.Decision {
	d := gate.Decision{Action: r.action, Policy: policy, Rule: r.name, Message: r.message, PolicyVersion: version}
	if r.action == gate.Review {
		rs := r.review
		rs.Approvers = slices.Clone(rs.Approvers)
		d.Review = &rs
	}
	return d
}

// eval runs one compiled expression. Anything but a CEL bool is an error.
func eval(x *expr, a *activation) (bool, error) {
	out, _, err := x.prg.Eval(a)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("result is %s, not bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// Applicable returns the name of the policy that applies to in (the first
// whose connections include the target and whose match is true), without
// evaluating any rule; "" when none does. Adapters use it to prepare what
// depends on the policy (its masking) before Decide. An error in a match
// expression is returned (Decide then denies).
func (e *Engine) Applicable(ctx context.Context, in gate.Input) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if in.Command == nil {
		return "", errors.New("policy: no command")
	}
	a := e.acts.get(in)
	defer e.acts.put(a)
	for pi := range e.policies {
		p := &e.policies[pi]
		if !p.appliesTo(in.Target.Name) {
			continue
		}
		if p.match != nil {
			ok, err := eval(p.match, a)
			if err != nil {
				return "", &EvalError{Policy: p.name, Field: "match", Err: err}
			}
			if !ok {
				continue
			}
		}
		return p.name, nil
	}
	return "", nil
}
