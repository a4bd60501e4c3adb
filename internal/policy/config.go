package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Config is the policies section of the gateway configuration, in order.
// The zero Config is valid and denies everything.
type Config struct {
	Policies []PolicyConfig `yaml:"policies"`
}

// PolicyConfig is one policy. The first policy whose Connections include the
// target and whose Match is true applies; later policies are not consulted.
type PolicyConfig struct {
	// Name identifies the policy in decisions and the audit trail; required,
	// unique.
	Name string `yaml:"name"`
	// Match is a boolean CEL expression; empty means always.
	Match string `yaml:"match"`
	// Connections lists connection names the policy covers; "*" covers all.
	// At least one entry is required.
	Connections []string `yaml:"connections"`
	// Rules are tried in order; the first whose When is true decides. A
	// policy without rules denies everything it applies to.
	Rules []RuleConfig `yaml:"rules"`
	// Digest stands for configuration that applies with this policy but
	// that the engine does not evaluate (its masking). It only enters the
	// PolicyVersion, so a change to it is a new version (approvals made
	// under the old one are not redeemed under the new one).
	Digest string `yaml:"-"`
}

// RuleConfig is one rule of a policy.
type RuleConfig struct {
	// Name identifies the rule; required, unique within its policy.
	Name string `yaml:"name"`
	// When is a boolean CEL expression; required (write 'true' for a
	// catch-all, so that a forgotten condition is an error, not an allow).
	When string `yaml:"when"`
	// Action is "allow", "deny" or "review"; required.
	Action string `yaml:"action"`
	// Message is shown to the caller on deny and review.
	Message string `yaml:"message"`
	// Approvers lists access entries (group:NAME, sub:SUBJECT,
	// email:ADDRESS); required for review, not allowed otherwise.
	Approvers []string `yaml:"approvers"`
	// Required is the number of distinct approvals; review only, default 1.
	Required int `yaml:"required"`
	// Mode is "wait" (default: the caller blocks until decided) or "defer"
	// (the caller is told to retry later); review only.
	Mode string `yaml:"mode"`
}

// Review modes.
const (
	ModeWait  = "wait"
	ModeDefer = "defer"
)

// ConfigError is one problem found in a Config by New. Index fields locate
// the YAML node (policies[PolicyIndex].rules[RuleIndex]); RuleIndex is -1
// for a policy-level problem. Field names the key ("when", "match",
// "action"...). Err holds CEL's own message, with location, for expression
// errors.
type ConfigError struct {
	Policy      string
	PolicyIndex int
	Rule        string
	RuleIndex   int
	Field       string
	Err         error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.Policy != "" {
		fmt.Fprintf(&b, "policy %q", e.Policy)
	} else {
		fmt.Fprintf(&b, "policies[%d]", e.PolicyIndex)
	}
	if e.RuleIndex >= 0 {
		if e.Rule != "" {
			fmt.Fprintf(&b, " rule %q", e.Rule)
		} else {
			fmt.Fprintf(&b, " rules[%d]", e.RuleIndex)
		}
	}
	if e.Field != "" {
		b.WriteString(" " + e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// normalize validates cfg and returns a copy with defaults applied
// (Required 1 and Mode "wait" for review rules). All problems are reported,
// joined, as *ConfigError values. Expressions are checked by compile, not
// here.
func normalize(cfg Config) (Config, error) {
	var errs []error
	bad := func(pi int, p string, ri int, r, field, format string, args ...any) {
		errs = append(errs, &ConfigError{Policy: p, PolicyIndex: pi, Rule: r, RuleIndex: ri, Field: field, Err: fmt.Errorf(format, args...)})
	}
	out := Config{Policies: make([]PolicyConfig, len(cfg.Policies))}
	seen := make(map[string]bool, len(cfg.Policies))
	for pi, p := range cfg.Policies {
		switch {
		case p.Name == "":
			bad(pi, "", -1, "", "name", "a policy needs a name")
		case seen[p.Name]:
			bad(pi, p.Name, -1, "", "name", "duplicate policy name")
		}
		seen[p.Name] = true
		if len(p.Connections) == 0 {
			bad(pi, p.Name, -1, "", "connections", `list at least one connection name, or "*" for all`)
		}
		for _, c := range p.Connections {
			if strings.TrimSpace(c) == "" {
				bad(pi, p.Name, -1, "", "connections", "empty connection name")
			}
		}
		np := p
		np.Connections = append([]string(nil), p.Connections...)
		np.Rules = make([]RuleConfig, len(p.Rules))
		ruleSeen := make(map[string]bool, len(p.Rules))
		for ri, r := range p.Rules {
			switch {
			case r.Name == "":
				bad(pi, p.Name, ri, "", "name", "a rule needs a name")
			case ruleSeen[r.Name]:
				bad(pi, p.Name, ri, r.Name, "name", "duplicate rule name in this policy")
			}
			ruleSeen[r.Name] = true
			if strings.TrimSpace(r.When) == "" {
				bad(pi, p.Name, ri, r.Name, "when", "a rule needs a condition (write 'true' to match every command)")
			}
			nr := r
			nr.Approvers = append([]string(nil), r.Approvers...)
			act, err := gate.ParseAction(r.Action)
			if r.Action == "" {
				err = errors.New("missing (want allow, deny or review)")
			}
			if err != nil {
				bad(pi, p.Name, ri, r.Name, "action", "%v", err)
			} else if act == gate.Review {
				if len(r.Approvers) == 0 {
					bad(pi, p.Name, ri, r.Name, "approvers", "a review rule needs at least one approver")
				} else if _, err := gate.ParsePrincipals(r.Approvers); err != nil {
					bad(pi, p.Name, ri, r.Name, "approvers", "%v", err)
				}
				if nr.Required == 0 {
					nr.Required = 1
				}
				if nr.Required < 1 {
					bad(pi, p.Name, ri, r.Name, "required", "must be at least 1, got %d", r.Required)
				}
				if nr.Mode == "" {
					nr.Mode = ModeWait
				}
				if nr.Mode != ModeWait && nr.Mode != ModeDefer {
					bad(pi, p.Name, ri, r.Name, "mode", "unknown mode %q (want wait or defer)", r.Mode)
				}
			} else {
				for _, f := range [...]struct {
					name string
					set  bool
				}{{"approvers", len(r.Approvers) > 0}, {"required", r.Required != 0}, {"mode", r.Mode != ""}} {
					if f.set {
						bad(pi, p.Name, ri, r.Name, f.name, "only meaningful with action review, not %s", r.Action)
					}
				}
			}
			np.Rules[ri] = nr
		}
		out.Policies[pi] = np
	}
	return out, errors.Join(errs...)
}

// version returns the PolicyVersion of a normalized Config: the first 16 hex
// digits of the SHA-256 of a canonical, length-prefixed encoding of every
// field, in order. Equal configs (after defaults) have equal versions; any
// change to any field of any policy or rule changes it.
func version(cfg Config) string {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	num := func(n int) { h.Write(buf[:binary.PutVarint(buf[:], int64(n))]) }
	str := func(s string) { num(len(s)); h.Write([]byte(s)) }
	strs := func(ss []string) {
		num(len(ss))
		for _, s := range ss {
			str(s)
		}
	}
	str("gatehouse.policy/v1")
	num(len(cfg.Policies))
	for _, p := range cfg.Policies {
		str(p.Name)
		str(p.Match)
		strs(p.Connections)
		str(p.Digest)
		num(len(p.Rules))
		for _, r := range p.Rules {
			str(r.Name)
			str(r.When)
			str(r.Action)
			str(r.Message)
			strs(r.Approvers)
			num(r.Required)
			str(r.Mode)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
