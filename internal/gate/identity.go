package gate

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Identity is a verified caller: the claims of a token that passed every
// check of an Authenticator. It is immutable once returned; share it freely.
type Identity struct {
	Issuer  string   `json:"issuer"`
	Subject string   `json:"sub"`
	Email   string   `json:"email,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	Scopes  []string `json:"scopes,omitempty"`
	// Claims holds every claim of the token as decoded from JSON
	// (string, float64, bool, []any, map[string]any, nil).
	Claims map[string]any `json:"claims,omitempty"`
	// Expiry is when the gateway stops accepting the token (its exp claim
	// plus the clock skew the authenticator allows); a session ends then.
	Expiry time.Time `json:"expiry,omitzero"`
	// Grants lists active time-bound grants as "connection:access"
	// (filled by an approver at each decision).
	Grants []string `json:"grants,omitempty"`
}

// String names the identity for logs and error messages. It never contains
// a token.
func (id *Identity) String() string {
	if id == nil {
		return "<anonymous>"
	}
	if id.Email != "" {
		return fmt.Sprintf("%s (%s)", id.Subject, id.Email)
	}
	return id.Subject
}

// Principal is one entry of an access list: group:NAME, sub:SUBJECT or
// email:ADDRESS.
type Principal struct {
	Kind  string // "group", "sub" or "email"
	Value string
}

// Principals is a parsed access list. The zero value matches nobody.
type Principals []Principal

// ParsePrincipals parses entries such as "group:platform". It rejects
// anything else, naming the bad entry.
func ParsePrincipals(entries []string) (Principals, error) {
	out := make(Principals, 0, len(entries))
	for _, e := range entries {
		kind, value, ok := strings.Cut(e, ":")
		if !ok || value == "" {
			return nil, fmt.Errorf("access entry %q: want group:NAME, sub:SUBJECT or email:ADDRESS", e)
		}
		switch kind {
		case "group", "sub", "email":
		default:
			return nil, fmt.Errorf("access entry %q: unknown kind %q (want group, sub or email)", e, kind)
		}
		out = append(out, Principal{Kind: kind, Value: value})
	}
	return out, nil
}

// Match reports whether id is named by any entry. A nil identity matches
// nothing.
func (ps Principals) Match(id *Identity) bool {
	if id == nil {
		return false
	}
	for _, p := range ps {
		switch p.Kind {
		case "group":
			if slices.Contains(id.Groups, p.Value) {
				return true
			}
		case "sub":
			if id.Subject == p.Value {
				return true
			}
		case "email":
			if id.Email != "" && strings.EqualFold(id.Email, p.Value) {
				return true
			}
		}
	}
	return false
}
