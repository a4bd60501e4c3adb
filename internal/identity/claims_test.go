package identity

import (
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestIdentityMapping(t *testing.T) {
	e := newEnv(t)
	custom := newEnvFor(t, testenv.NewIssuer(t), func(c *Config) { c.Issuers[0].GroupsClaim = "roles" })
	cases := []struct {
		name   string
		e      *env
		claims map[string]any
		email  string
		groups []string
		scopes []string
	}{
		{name: "bare"},
		{name: "groups array", claims: map[string]any{"groups": []string{"platform", "oncall"}}, groups: []string{"platform", "oncall"}},
		{name: "groups string", claims: map[string]any{"groups": "platform"}, groups: []string{"platform"}},
		{name: "groups empty array", claims: map[string]any{"groups": []string{}}, groups: []string{}},
		{name: "custom groups claim", e: custom, claims: map[string]any{"roles": []string{"dba"}, "groups": []string{"ignored"}}, groups: []string{"dba"}},
		{name: "custom groups claim as string", e: custom, claims: map[string]any{"roles": "dba"}, groups: []string{"dba"}},
		{name: "custom claim absent", e: custom, claims: map[string]any{"groups": []string{"ignored"}}},
		{name: "email verified", claims: map[string]any{"email": "a@x.io", "email_verified": true}, email: "a@x.io"},
		{name: "email without email_verified", claims: map[string]any{"email": "a@x.io"}, email: "a@x.io"},
		{name: "email_verified false", claims: map[string]any{"email": "a@x.io", "email_verified": false}},
		{name: "email_verified string false", claims: map[string]any{"email": "a@x.io", "email_verified": "False"}},
		{name: "email_verified string true", claims: map[string]any{"email": "a@x.io", "email_verified": "true"}, email: "a@x.io"},
		{name: "email not a string", claims: map[string]any{"email": 5}},
		{name: "scope string", claims: map[string]any{"scope": "read  write "}, scopes: []string{"read", "write"}},
		{name: "scp array", claims: map[string]any{"scp": []string{"read", "admin"}}, scopes: []string{"read", "admin"}},
		{name: "scp string", claims: map[string]any{"scp": "read write"}, scopes: []string{"read", "write"}},
		{name: "scope wins over scp", claims: map[string]any{"scope": "a", "scp": []string{"b"}}, scopes: []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := c.e
			if env == nil {
				env = e
			}
			claims := map[string]any{"sub": "repo:acme/app:ref:refs/heads/main", "repository": "acme/app", "run_id": 7}
			for k, v := range c.claims {
				claims[k] = v
			}
			id := env.mustAuth(t, env.iss.Token(t, claims))
			if id.Subject != "repo:acme/app:ref:refs/heads/main" || id.Issuer != env.iss.URL() {
				t.Errorf("subject %q issuer %q", id.Subject, id.Issuer)
			}
			if id.Email != c.email {
				t.Errorf("email %q, want %q", id.Email, c.email)
			}
			if !reflect.DeepEqual(id.Groups, c.groups) {
				t.Errorf("groups %#v, want %#v", id.Groups, c.groups)
			}
			if !reflect.DeepEqual(id.Scopes, c.scopes) {
				t.Errorf("scopes %#v, want %#v", id.Scopes, c.scopes)
			}
			if id.Claims["repository"] != "acme/app" || id.Claims["run_id"] != 7.0 || id.Claims["iss"] != env.iss.URL() {
				t.Errorf("claims %v", id.Claims)
			}
			// Expiry is exp plus the accepted clock skew.
			if exp := id.Claims["exp"].(float64); id.Expiry.Unix() != int64(exp)+int64(ClockSkew.Seconds()) {
				t.Errorf("Expiry %v, exp %v", id.Expiry, exp)
			}
		})
	}
}
