package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// defaults fills in what the file leaves out.
func (f *File) defaults() {
	if f.Node == "" {
		f.Node, _ = os.Hostname()
		if f.Node == "" {
			f.Node = "gatehouse"
		}
	}
	if f.Listen.Postgres == "" {
		f.Listen.Postgres = "127.0.0.1:6432"
	}
	if f.Listen.HTTP == "" {
		f.Listen.HTTP = "127.0.0.1:8080"
	}
	if f.Store == "" {
		f.Store = "sqlite:///var/lib/gatehouse/gatehouse.db"
	}
	for i := range f.Identity.Issuers {
		if f.Identity.Issuers[i].GroupsClaim == "" {
			f.Identity.Issuers[i].GroupsClaim = "groups"
		}
	}
	for i := range f.Conns {
		if f.Conns[i].TLS == "" {
			f.Conns[i].TLS = "prefer"
		}
		if f.Conns[i].MaxGrant == 0 {
			f.Conns[i].MaxGrant = Duration(8 * time.Hour)
		}
	}
	if f.ExternalURL == "" {
		f.ExternalURL = "http://" + f.Listen.HTTP
	}
	f.ExternalURL = strings.TrimRight(f.ExternalURL, "/")
	if f.Approvals.Timeout == 0 {
		f.Approvals.Timeout = Duration(10 * time.Minute)
	}
	for i := range f.Approvals.Notify {
		if f.Approvals.Notify[i].Format == "" {
			f.Approvals.Notify[i].Format = "json"
		}
	}
	if f.Identity.UI != nil && f.Identity.UI.GroupsClaim == "" {
		f.Identity.UI.GroupsClaim = "groups"
	}
	if f.Limits.MaxMessageSize == 0 {
		f.Limits.MaxMessageSize = 64 << 20
	}
	if f.Limits.StartupTimeout == 0 {
		f.Limits.StartupTimeout = Duration(15 * time.Second)
	}
	if f.Limits.ShutdownGrace == 0 {
		f.Limits.ShutdownGrace = Duration(30 * time.Second)
	}
}

// validate checks everything that can be checked without compiling
// policies or contacting anything. Errors name the key and line.
func (f *File) validate() error {
	if len(f.Node) > 200 || strings.ContainsAny(f.Node, "\x00\n") {
		return f.errAt("node", "must be at most 200 bytes, without NUL or newline")
	}
	for key, addr := range map[string]string{"listen.postgres": f.Listen.Postgres, "listen.http": f.Listen.HTTP} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return f.errAt(key, "%q is not a host:port address", addr)
		}
	}
	if err := f.validateStore(); err != nil {
		return err
	}
	if (f.TLS.CertFile == "") != (f.TLS.KeyFile == "") {
		return f.errAt("tls", "set both cert_file and key_file, or neither (a self-signed certificate is then generated)")
	}
	if err := f.validateIdentity(); err != nil {
		return err
	}
	if u, err := url.Parse(f.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return f.errAt("external_url", "%q is not an http(s) URL", f.ExternalURL)
	}
	if err := f.validateApprovals(); err != nil {
		return err
	}
	for key, list := range map[string][]string{"access.admins": f.Access.Admins, "access.auditors": f.Access.Auditors, "access.approvers": f.Access.Approvers} {
		if _, err := gate.ParsePrincipals(list); err != nil {
			return f.errAt(key, "%v", err)
		}
	}
	names := map[string]bool{}
	for i := range f.Conns {
		if err := f.validateConnection(i, names); err != nil {
			return err
		}
	}
	for i, p := range f.Policies {
		if m := p.Mask; m != nil {
			key := fmt.Sprintf("policies[%d].mask", i)
			switch m.Unresolved {
			case "", "mask", "deny":
			default:
				return f.errAt(key+".unresolved", "%q: want mask or deny", m.Unresolved)
			}
			for j, c := range m.Columns {
				parts := strings.Split(c, ".")
				if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
					return f.errAt(fmt.Sprintf("%s.columns[%d]", key, j), "%q: want table.column, schema.table.column or *.column", c)
				}
			}
		}
		for j, c := range p.Connections {
			if c != "*" && !names[c] {
				return f.errAt(fmt.Sprintf("policies[%d].connections[%d]", i, j), "no connection named %q", c)
			}
		}
	}
	if f.Audit.PreviewRows != nil && *f.Audit.PreviewRows < 0 {
		return f.errAt("audit.preview_rows", "must be 0 or more")
	}
	if f.Limits.MaxMessageSize < 1<<16 {
		return f.errAt("limits.max_message_size", "%d is too small (at least 65536)", f.Limits.MaxMessageSize)
	}
	return nil
}

func (f *File) validateApprovals() error {
	for i, n := range f.Approvals.Notify {
		key := fmt.Sprintf("approvals.notify[%d]", i)
		u, err := url.Parse(n.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return f.errAt(key+".url", "%q is not an http(s) URL", n.URL)
		}
		if n.Format != "json" && n.Format != "slack" {
			return f.errAt(key+".format", "%q: want json or slack", n.Format)
		}
	}
	if ui := f.Identity.UI; ui != nil {
		u, err := url.Parse(ui.Issuer)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
			return f.errAt("identity.ui.issuer", "%q: want the https URL of an OIDC issuer", ui.Issuer)
		}
		if ui.ClientID == "" {
			return f.errAt("identity.ui.client_id", "required")
		}
	}
	return nil
}

func (f *File) validateStore() error {
	u, err := url.Parse(f.Store)
	if err != nil {
		return f.errAt("store", "not a URL: want sqlite:///path/to/file.db or postgres://user:password@host:5432/db")
	}
	switch u.Scheme {
	case "sqlite":
		if u.Path == "" || u.Host != "" {
			return f.errAt("store", "want sqlite:///absolute/path/gatehouse.db (three slashes: an empty host, then the path)")
		}
	case "postgres", "postgresql":
	default:
		return f.errAt("store", "unknown scheme %q: want sqlite:// or postgres://", u.Scheme)
	}
	return nil
}

func (f *File) validateIdentity() error {
	if len(f.Identity.Issuers) == 0 && !f.Identity.Dev {
		return f.errAt("identity", "no token issuer: configure identity.issuers (or identity.dev: true for a trial)")
	}
	seen := map[string]bool{}
	for i, is := range f.Identity.Issuers {
		key := fmt.Sprintf("identity.issuers[%d]", i)
		u, err := url.Parse(is.URL)
		if err != nil || u.Host == "" {
			return f.errAt(key+".url", "%q is not an absolute URL", is.URL)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
			return f.errAt(key+".url", "issuer URLs must use https (plain http is accepted only for loopback test issuers)")
		}
		if is.Audience == "" {
			return f.errAt(key+".audience", "required: the audience tokens must be issued for (e.g. gatehouse)")
		}
		if seen[is.URL] {
			return f.errAt(key+".url", "issuer %q is listed twice", is.URL)
		}
		seen[is.URL] = true
	}
	return nil
}

func (f *File) validateConnection(i int, names map[string]bool) error {
	c := &f.Conns[i]
	key := fmt.Sprintf("connections[%d]", i)
	switch {
	case c.Name == "":
		return f.errAt(key+".name", "required")
	case strings.ContainsAny(c.Name, " \t/\x00"):
		return f.errAt(key+".name", "%q: connection names cannot contain spaces, slashes or NUL", c.Name)
	case names[c.Name]:
		return f.errAt(key+".name", "connection %q is defined twice", c.Name)
	}
	names[c.Name] = true
	if c.Kind != "postgres" {
		return f.errAt(key+".kind", "%q is not supported (supported: postgres)", c.Kind)
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return f.errAt(key+".address", "%q is not a host:port address", c.Address)
	}
	if c.Database == "" {
		return f.errAt(key+".database", "required")
	}
	if c.User == "" {
		return f.errAt(key+".user", "required")
	}
	if c.Password != "" && c.PasswordFile != "" {
		return f.errAt(key+".password_file", "set password or password_file, not both")
	}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return f.errAt(key+".password_file", "%v", err)
		}
		c.Password = strings.TrimRight(string(b), "\r\n")
		c.PasswordFile = ""
	}
	switch c.TLS {
	case "disable", "prefer", "require":
	case "verify-full":
		if c.CAFile == "" {
			return f.errAt(key+".ca_file", "required with tls: verify-full")
		}
	default:
		return f.errAt(key+".tls", "%q: want disable, prefer, require or verify-full", c.TLS)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
