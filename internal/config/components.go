package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/pgwire"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// PolicyConfig is the policy engine's configuration.
func (f *File) PolicyConfig() policy.Config {
	var pc policy.Config
	for _, p := range f.Policies {
		pp := policy.PolicyConfig{Name: p.Name, Match: p.Match, Connections: p.Connections}
		if p.Mask != nil {
			// The masking in force is part of the policy version.
			b, _ := json.Marshal(p.Mask)
			sum := sha256.Sum256(b)
			pp.Digest = "mask:" + hex.EncodeToString(sum[:])
		}
		for _, r := range p.Rules {
			if r.Action == "review" && len(r.Approvers) == 0 {
				r.Approvers = f.Access.Approvers // access.approvers is the default
			}
			pp.Rules = append(pp.Rules, r)
		}
		pc.Policies = append(pc.Policies, pp)
	}
	return pc
}

// IssuerConfigs are the trusted issuers for identity.Config.
func (f *File) IssuerConfigs() []identity.IssuerConfig {
	var out []identity.IssuerConfig
	for _, is := range f.Identity.Issuers {
		out = append(out, identity.IssuerConfig{URL: is.URL, Audience: is.Audience, GroupsClaim: is.GroupsClaim})
	}
	return out
}

// Upstreams are the PostgreSQL connections for pgwire, by name.
func (f *File) Upstreams() map[string]*pgwire.Upstream {
	out := map[string]*pgwire.Upstream{}
	for _, c := range f.Conns {
		if c.Kind != "postgres" {
			continue
		}
		out[c.Name] = &pgwire.Upstream{Name: c.Name, Address: c.Address, Database: c.Database, User: c.User,
			Password: c.Password, TLS: c.TLS, CAFile: c.CAFile, DryRun: c.DryRun}
	}
	return out
}

// Principals returns the parsed admins, auditors and approvers lists
// (validated by Load).
func (f *File) Principals() (admins, auditors, approvers gate.Principals) {
	admins, _ = gate.ParsePrincipals(f.Access.Admins)
	auditors, _ = gate.ParsePrincipals(f.Access.Auditors)
	approvers, _ = gate.ParsePrincipals(f.Access.Approvers)
	return admins, auditors, approvers
}
