package config

import "github.com/gatehouse/gatehouse/internal/policy"

// File is the configuration file's schema. Field comments give the YAML
// key and its default.
type File struct {
	// Node names this gateway in the audit trail's hash chains (one chain
	// per node). Default: the host name.
	Node string `yaml:"node"`
	// ExternalURL is how humans reach the admin HTTP address, for links in
	// notices, errors and notifications. Default: http://<listen.http>.
	ExternalURL string       `yaml:"external_url"`
	Listen      Listen       `yaml:"listen"`
	Store       string       `yaml:"store"` // sqlite:///path or postgres://...
	TLS         TLS          `yaml:"tls"`
	Identity    Identity     `yaml:"identity"`
	Access      Access       `yaml:"access"`
	Conns       []Connection `yaml:"connections"`
	Policies    []Policy     `yaml:"policies"`
	Approvals   Approvals    `yaml:"approvals"`
	Audit       Audit        `yaml:"audit"`
	Limits      Limits       `yaml:"limits"`

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
	// UI is the issuer humans sign in with to the web UI (authorization
	// code with PKCE). Without it, only dev mode offers a sign-in page.
	UI *UI `yaml:"ui"`
}

// UI is an OIDC client registration for the web UI.
type UI struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	GroupsClaim  string `yaml:"groups_claim"` // default "groups"
	// Scopes are asked for besides openid (default email, profile); add
	// groups for issuers such as Dex that need it to send groups.
	Scopes []string `yaml:"scopes"`
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
	// Approvers decide held statements and grants unless a rule names its own.
	Approvers []string `yaml:"approvers"`
}

// Approvals configures human review.
type Approvals struct {
	Timeout Duration `yaml:"timeout"` // how long a request waits (default 10m)
	Notify  []Notify `yaml:"notify"`
}

// Notify is a webhook told about requests created, decided and expired.
type Notify struct {
	URL    string `yaml:"url"`
	Format string `yaml:"format"` // json (default) | slack
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
	// DryRun makes impact estimates of held writes run the statement in a
	// transaction that is always rolled back, for an exact row count.
	DryRun bool `yaml:"dry_run"`
	// MaxGrant caps the duration of time-bound grants (default 8h).
	MaxGrant Duration `yaml:"max_grant"`
}

// Policy is one policy: who it matches, where, and its ordered rules.
type Policy struct {
	Name        string              `yaml:"name"`
	Match       string              `yaml:"match"`
	Connections []string            `yaml:"connections"`
	Rules       []policy.RuleConfig `yaml:"rules"`
	// Mask masks the results of the commands this policy decides.
	Mask *Mask `yaml:"mask"`
}

// Mask is a policy's masking of results.
type Mask struct {
	// Columns are protected columns: table.column, schema.table.column or
	// *.column. Every output column derived from one is masked.
	Columns []string `yaml:"columns"`
	// Detectors run over every other text value: email, phone,
	// credit_card, ssn, iban, ip, secret (or all).
	Detectors []string `yaml:"detectors"`
	// Strategy is the default: redact (default), partial, hash or null.
	Strategy string `yaml:"strategy"`
	// Strategies override it per detector or column.
	Strategies map[string]string `yaml:"strategies"`
	Custom     []CustomPattern   `yaml:"custom"`
	// Unresolved is what happens to an output column whose lineage cannot
	// be determined: mask (default) masks it whole, deny refuses the
	// statement.
	Unresolved string `yaml:"unresolved"`
}

// CustomPattern is a named regular expression masked like a detector.
type CustomPattern struct {
	Name    string `yaml:"name"`
	Pattern string `yaml:"pattern"`
}

// Audit tunes what the audit trail keeps.
type Audit struct {
	// PreviewRows is how many rows of each result the replay shows, as the
	// client saw them (after masking); 0 keeps none (default 5).
	PreviewRows *int `yaml:"preview_rows"`
	// PreviewBytes bounds a step's preview (default 4096).
	PreviewBytes int `yaml:"preview_bytes"`
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
