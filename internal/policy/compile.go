package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// compiledPolicy is a PolicyConfig ready to evaluate. Immutable.
type compiledPolicy struct {
	name        string
	match       *expr // nil when Match is empty (always)
	allConns    bool
	connections []string
	rules       []compiledRule
}

// appliesTo reports whether the policy covers the named connection.
func (p *compiledPolicy) appliesTo(conn string) bool {
	return p.allConns || slices.Contains(p.connections, conn)
}

// compiledRule is a RuleConfig ready to evaluate. Immutable: review is
// copied into each Decision, never handed out.
type compiledRule struct {
	name    string
	when    *expr
	action  gate.Action
	message string
	review  gate.ReviewSpec // set when action is Review
}

// expr is one compiled boolean expression and its source.
type expr struct {
	src string
	prg cel.Program
}

// newEnv builds the CEL environment every expression is checked against:
// the standard library, optional values, the strings and sets extensions,
// and the four declared variables.
func newEnv() (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.Types(identityType, connectionType, commandType, requestType),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		// Literal checks at compile time. Regex literals are checked when the
		// program is planned (OptOptimize), whose message names the problem.
		cel.ASTValidators(cel.ValidateDurationLiterals(), cel.ValidateTimestampLiterals(), cel.ValidateHomogeneousAggregateLiterals()),
		cel.ASTValidators(noStructLiterals{}),
	}
	for _, v := range variables {
		opts = append(opts, cel.Variable(v.name, v.typ.celType))
	}
	return cel.NewEnv(opts...)
}

// noStructLiterals rejects object construction (gatehouse.Command{...}):
// the variables are the only objects a policy sees, and a literal would only
// fail at run time.
type noStructLiterals struct{}

func (noStructLiterals) Name() string { return "gatehouse.no_struct_literals" }

func (noStructLiterals) Validate(_ *cel.Env, _ cel.ValidatorConfig, a *ast.AST, iss *cel.Issues) {
	for _, e := range ast.MatchDescendants(ast.NavigateAST(a), ast.KindMatcher(ast.StructKind)) {
		iss.ReportErrorAtID(e.ID(), "%s values cannot be constructed in a policy", e.AsStruct().TypeName())
	}
}

// compileExpr parses, type-checks and plans src. The result type must be
// exactly bool (not dyn): identity.claims["admin"] must be written
// identity.claims["admin"] == true. Errors carry CEL's own message with
// location ("ERROR: <input>:1:9: undefined field 'kinds'").
func compileExpr(env *cel.Env, src string) (*expr, error) {
	ast, iss := env.Compile(src)
	if err := iss.Err(); err != nil {
		return nil, err
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) {
		return nil, fmt.Errorf("must be a boolean expression, but its type is %s", cel.FormatCELType(t))
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	return &expr{src: src, prg: prg}, nil
}

// compile turns a normalized Config into policies, reporting every
// expression error (joined *ConfigError values), not just the first.
func compile(env *cel.Env, cfg Config) ([]compiledPolicy, error) {
	var errs []error
	out := make([]compiledPolicy, len(cfg.Policies))
	for pi, p := range cfg.Policies {
		cp := compiledPolicy{name: p.Name, connections: p.Connections, rules: make([]compiledRule, len(p.Rules))}
		cp.allConns = slices.Contains(p.Connections, "*")
		if p.Match != "" {
			e, err := compileExpr(env, p.Match)
			if err != nil {
				errs = append(errs, &ConfigError{Policy: p.Name, PolicyIndex: pi, RuleIndex: -1, Field: "match", Err: err})
			}
			cp.match = e
		}
		for ri, r := range p.Rules {
			var e *expr
			var err error
			if strings.TrimSpace(r.When) != "" { // else normalize reported it
				e, err = compileExpr(env, r.When)
			}
			if err != nil {
				errs = append(errs, &ConfigError{Policy: p.Name, PolicyIndex: pi, Rule: r.Name, RuleIndex: ri, Field: "when", Err: err})
			}
			act, _ := gate.ParseAction(r.Action) // checked by normalize
			cr := compiledRule{name: r.Name, when: e, action: act, message: r.Message}
			if act == gate.Review {
				cr.review = gate.ReviewSpec{Approvers: r.Approvers, Required: r.Required, Mode: r.Mode}
			}
			cp.rules[ri] = cr
		}
		out[pi] = cp
	}
	return out, errors.Join(errs...)
}
