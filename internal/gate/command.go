package gate

import "fmt"

// Kind is what a command can do, from least to most privileged. The order
// is significant: a multi-statement command takes the highest Kind among its
// statements (see Max).
type Kind uint8

const (
	// KindRead cannot change data, schema, roles, settings or server state.
	KindRead Kind = iota + 1
	// KindTransaction is transaction control: BEGIN, COMMIT, ROLLBACK, SAVEPOINT...
	KindTransaction
	// KindSession changes a setting a client may safely change
	// (application_name, timezone, datestyle, extra_float_digits...).
	KindSession
	// KindWrite changes data (DML), or locks rows or advances sequences.
	KindWrite
	// KindDDL changes the schema.
	KindDDL
	// KindAdmin changes roles, grants, security-relevant settings or server
	// state, runs side-effecting functions, programs or file access, or has
	// an effect the classifier cannot bound.
	KindAdmin
)

var kindNames = [...]string{"", "read", "transaction", "session", "write", "ddl", "admin"}

// String returns the lower-case name used in policies and the audit trail.
// The zero Kind is "unknown".
func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind is the inverse of Kind.String; "unknown" is the zero Kind, the
// kind of a command that could not be classified (it does not parse).
func ParseKind(s string) (Kind, error) {
	if s == "unknown" {
		return 0, nil
	}
	for i, n := range kindNames {
		if i > 0 && n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown command kind %q (want read, transaction, session, write, ddl or admin)", s)
}

// MarshalText encodes the kind by name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a kind name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Max returns the more privileged of a and b.
func Max(a, b Kind) Kind {
	if a > b {
		return a
	}
	return b
}

// Class is a dialect classifier's verdict on one command (which may hold
// several statements). Classes are shared between callers through caches:
// treat them as immutable.
type Class struct {
	// Kind is the most privileged kind among Statements.
	Kind Kind `json:"kind"`
	// Statements lists a tag per statement, in order ("SELECT", "DELETE",
	// "CREATE TABLE", "SET").
	Statements []string `json:"statements"`
	// Tables lists the schema-qualified relations the command touches,
	// sorted and without duplicates.
	Tables []string `json:"tables,omitempty"`
	// HasWhere is true when every UPDATE and DELETE in the command has a
	// WHERE clause that refers to its target (vacuously true otherwise).
	HasWhere bool `json:"has_where"`
	// Functions lists the functions called, schema-qualified where written so.
	Functions []string `json:"functions,omitempty"`
	// Notes explains, for humans, why the kind is what it is when that is
	// not obvious from Statements ("calls pg_terminate_backend").
	Notes []string `json:"notes,omitempty"`
	// MaskedPredicates lists the protected columns the command uses in
	// predicates (WHERE, JOIN, ORDER BY, GROUP BY, HAVING), which can
	// reveal masked values bit by bit. Set when masking applies.
	MaskedPredicates []string `json:"masked_predicates,omitempty"`
	// MaskedWrites lists the protected columns whose values the command
	// copies where later reads are not masked (into unprotected columns,
	// new tables, settings, notifications...). Set when masking applies.
	MaskedWrites []string `json:"masked_writes,omitempty"`
}

// Request is what the caller said about why it sends a command: the agent's
// stated reason and W3C trace context. Adapters extract it (a sqlcommenter
// comment, HTTP headers); it is recorded and visible to policy, never trusted
// for access by itself.
type Request struct {
	Reason  string `json:"reason,omitempty"`
	TraceID string `json:"trace_id,omitempty"`
	SpanID  string `json:"span_id,omitempty"`
}

// Command is one step an agent asks for, as the adapter understood it.
type Command struct {
	// Text is the statement or request exactly as the agent sent it.
	Text string `json:"text"`
	// Params holds bound parameter values rendered as text (nil when the
	// protocol has none). A NULL parameter is recorded as nil in ParamNulls.
	Params []string `json:"params,omitempty"`
	// ParamNulls marks, per Params index, a NULL value; nil means none.
	ParamNulls []bool  `json:"param_nulls,omitempty"`
	Class      Class   `json:"class"`
	Request    Request `json:"request"`
	// EstimatedRows is the upstream planner's estimate of the rows a write
	// changes, when the adapter asked for one; nil means unknown.
	EstimatedRows *int64 `json:"estimated_rows,omitempty"`
}
