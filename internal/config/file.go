package config

// File is the configuration file's schema. Field comments give the YAML
// key and its default.
type File struct {
	// Node names this gateway in the audit trail's hash chains (one chain
	// per node). Default: the host name.
	Node     string       `yaml:"node"`
	Listen   Listen       `yaml:"listen"`
	Store    string       `yaml:"store"` // sqlite:///path or postgres://...
	TLS      TLS          `yaml:"tls"`
	Identity Identity     `yaml:"identity"`
	Access   Access       `yaml:"access"`
	Conns    []Connection `yaml:"connections"`
	Policies []Policy     `yaml:"policies"`
	Limits   Limits       `yaml:"limits"`

	positions map[string]int // key path -> line, for validation errors
	path      string
}

// Listen holds the listener addresses.
type Listen struct {
	Postgres string `yaml:"postgres"` // default 127.0.0.1:6432
	HTTP     string `yaml:"http"`     // default 127.0.0.1:8080
}

// TLS is the certificate clients see. Without files a self-signed
// certificate is generated at start.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Identity configures token verification.
type Identity struct {
	Issuers []Issuer `yaml:"issuers"`
	// Dev makes the gateway its own token issuer (gatehouse token). Trials only.
	Dev bool `yaml:"dev"`
}

// Issuer is a trusted OIDC issuer.
type Issuer struct {
	URL         string `yaml:"url"`
	Audience    string `yaml:"audience"`
	GroupsClaim string `yaml:"groups_claim"` // default "groups"
}

// Access lists who may use the admin API.
type Access struct {
	Admins   []string `yaml:"admins"`
	Auditors []string `yaml:"auditors"`
}

// Connection is an upstream the gateway holds credentials for.
type Connection struct {
	Name         string `yaml:"name"`
	Kind         string `yaml:"kind"` // postgres
	Address      string `yaml:"address"`
	Database     string `yaml:"database"`
	User         string `yaml:"user"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	TLS          string `yaml:"tls"` // disable | prefer (default) | require | verify-full
	CAFile       string `yaml:"ca_file"`
}

// Policy is one policy: who it matches, where, and its ordered rules.
type Policy struct {
	Name        string   `yaml:"name"`
	Match       string   `yaml:"match"`
	Connections []string `yaml:"connections"`
	Rules       []Rule   `yaml:"rules"`
}

// Rule is one rule of a policy.
type Rule struct {
	Name      string   `yaml:"name"`
	When      string   `yaml:"when"`
	Action    string   `yaml:"action"`
	Message   string   `yaml:"message"`
	Approvers []string `yaml:"approvers"`
	Required  int      `yaml:"required"`
	Mode      string   `yaml:"mode"`
}

// Limits bound what untrusted clients can make the gateway hold.
type Limits struct {
	// MaxMessageSize bounds a protocol message the gateway decodes, in
	// bytes (default 64 MiB).
	MaxMessageSize int `yaml:"max_message_size"`
	// StartupTimeout bounds TLS, start-up and authentication (default 15s).
	StartupTimeout Duration `yaml:"startup_timeout"`
	// ShutdownGrace is how long SIGTERM waits for running statements
	// (default 30s).
	ShutdownGrace Duration `yaml:"shutdown_grace"`
}
