package mask

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Config is one policy's masking configuration, already decoded from the
// policy file by the config package. The zero Config masks nothing in free
// text and redacts protected columns.
type Config struct {
	// Detectors names the built-in value detectors to run over free text:
	// email, phone, credit_card, ssn, iban, ip, secret, or "all" for every
	// one of them. Custom patterns are always enabled; naming them here is
	// allowed and changes nothing. Empty means no built-in detector.
	Detectors []string
	// Strategy is the default strategy: redact (the default when empty),
	// partial, hash or null.
	Strategy string
	// Strategies overrides the default per detector name (a built-in that
	// Detectors enables, or a custom pattern's name) or per column pattern
	// (any key with a dot: "customers.email", "*.card_number",
	// "billing.accounts.iban"; see Masker.Column for the matching rules).
	Strategies map[string]string
	// Custom adds detectors built from Go regular expressions, at most
	// MaxCustom.
	Custom []CustomPattern
	// Key is the gateway's secret for the hash strategy (HMAC-SHA256). It is
	// required, at least 16 bytes, when any strategy is hash; tokens are
	// stable for one key. New copies it.
	Key []byte
	// MaxLine bounds one line of MaskStream; 0 means 1 MiB.
	MaxLine int
}

// CustomPattern is a named regular expression (Go RE2 syntax) whose matches
// are masked like a built-in detector's.
type CustomPattern struct {
	// Name is the detector's name in counts and Strategies: a lower-case
	// letter, then lower-case letters, digits or underscores, at most 32,
	// not a built-in name. Its redaction label is the upper-cased name in
	// angle brackets ("employee_id" -> "<EMPLOYEE_ID>").
	Name string
	// Pattern must compile and must not match the empty string.
	Pattern string
}

// Strategy is how a detected span or a protected value is masked.
type Strategy uint8

const (
	// Redact replaces the span with a type label such as <EMAIL>.
	Redact Strategy = iota + 1
	// Partial keeps a detector-specific hint and masks the rest
	// (**** **** **** 4444, a***@example.org); see partial.go.
	Partial
	// Hash replaces the span with a keyed token, tok_ and 16 hex digits,
	// equal for equal values under one key.
	Hash
	// Null makes the whole value SQL NULL.
	Null
)

var strategyNames = [...]string{"", "redact", "partial", "hash", "null"}

// String returns the configuration name.
func (s Strategy) String() string {
	if int(s) < len(strategyNames) && s != 0 {
		return strategyNames[s]
	}
	return fmt.Sprintf("strategy(%d)", s)
}

// ParseStrategy is the inverse of String.
func ParseStrategy(name string) (Strategy, error) {
	for i, n := range strategyNames {
		if i > 0 && n == name {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("unknown strategy %q (want redact, partial, hash or null)", name)
}

// ErrNoKey is returned by New when a hash strategy has no usable key.
var ErrNoKey = errors.New("mask: the hash strategy needs a key of at least 16 bytes")

var customName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// compile validates cfg into m. Errors name the detector, strategy,
// column or pattern at fault.
func (m *Masker) compile(cfg Config) error {
	def := Redact
	if cfg.Strategy != "" {
		s, err := ParseStrategy(cfg.Strategy)
		if err != nil {
			return fmt.Errorf("mask: strategy: %w", err)
		}
		def = s
	}
	m.def = def
	for d := range m.strategy {
		m.strategy[d] = def
	}
	var enabled [FirstCustom]bool
	for _, name := range cfg.Detectors {
		if name == "all" {
			enabled = [FirstCustom]bool{true, true, true, true, true, true, true}
			continue
		}
		id, ok := builtinID(name)
		if !ok {
			if isCustom(cfg.Custom, name) {
				continue
			}
			return fmt.Errorf("mask: detectors: unknown detector %q (want %s, all, or a custom pattern's name)",
				name, strings.Join(builtinNames[:], ", "))
		}
		enabled[id] = true
	}
	for id := Detector(0); id < FirstCustom; id++ {
		m.names[id] = builtinNames[id]
		m.labels[id] = builtinLabels[id]
		m.prio[id] = builtinPriority[id]
		if enabled[id] {
			m.dets = append(m.dets, detector{id: id, sc: builtinScanners[id]})
		}
	}
	if len(cfg.Custom) > MaxCustom {
		return fmt.Errorf("mask: custom: %d patterns, at most %d", len(cfg.Custom), MaxCustom)
	}
	for k, c := range cfg.Custom {
		if !customName.MatchString(c.Name) {
			return fmt.Errorf("mask: custom %q: name must be a lower-case letter then letters, digits or underscores, at most 32", c.Name)
		}
		if _, ok := builtinID(c.Name); ok || c.Name == "all" {
			return fmt.Errorf("mask: custom %q: name is taken by a built-in detector", c.Name)
		}
		for _, o := range cfg.Custom[:k] {
			if o.Name == c.Name {
				return fmt.Errorf("mask: custom %q: defined twice", c.Name)
			}
		}
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			return fmt.Errorf("mask: custom %q: pattern: %w", c.Name, err)
		}
		if re.Match(nil) {
			return fmt.Errorf("mask: custom %q: pattern %q matches the empty string", c.Name, c.Pattern)
		}
		id := FirstCustom + Detector(k)
		m.names[id] = c.Name
		m.labels[id] = "<" + strings.ToUpper(c.Name) + ">"
		m.prio[id] = 0
		m.dets = append(m.dets, detector{id: id, sc: customScanner{re}})
	}
	keys := make([]string, 0, len(cfg.Strategies))
	for k := range cfg.Strategies {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic errors and column order
	usesHash := def == Hash
	for _, key := range keys {
		s, err := ParseStrategy(cfg.Strategies[key])
		if err != nil {
			return fmt.Errorf("mask: strategies: %s: %w", key, err)
		}
		usesHash = usesHash || s == Hash
		if strings.Contains(key, ".") {
			r, err := parseColumnRule(key, s)
			if err != nil {
				return err
			}
			m.columns = append(m.columns, r)
			continue
		}
		id, ok := m.detectorID(key)
		if !ok {
			return fmt.Errorf("mask: strategies: %q is neither an enabled detector nor a column (columns have a dot: table.column)", key)
		}
		m.strategy[id] = s
	}
	if usesHash {
		if len(cfg.Key) < 16 {
			return ErrNoKey
		}
		m.key = append([]byte(nil), cfg.Key...)
	}
	m.maxLine = cfg.MaxLine
	if m.maxLine <= 0 {
		m.maxLine = 1 << 20
	}
	return nil
}

func builtinID(name string) (Detector, bool) {
	for i, n := range builtinNames {
		if n == name {
			return Detector(i), true
		}
	}
	return 0, false
}

func isCustom(cs []CustomPattern, name string) bool {
	for _, c := range cs {
		if c.Name == name {
			return true
		}
	}
	return false
}

// detectorID returns the id of an enabled detector by name.
func (m *Masker) detectorID(name string) (Detector, bool) {
	for _, d := range m.dets {
		if m.names[d.id] == name {
			return d.id, true
		}
	}
	return 0, false
}
