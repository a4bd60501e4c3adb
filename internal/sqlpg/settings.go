package sqlpg

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// sessionSettings are the run-time parameters a client may change without
// being able to change data, identity, name resolution, how the server
// parses statement text, or what it logs: what drivers send at startup and
// what a careful operator would let an agent tune for its own session.
var sessionSettings = nameSet(
	// Sent by drivers at startup or right after.
	`application_name timezone datestyle intervalstyle extra_float_digits
	bytea_output client_min_messages xmlbinary xmloption lc_monetary lc_numeric
	lc_time`,
	// Timeouts only ever stop the session's own work.
	`statement_timeout lock_timeout idle_in_transaction_session_timeout
	idle_session_timeout transaction_timeout`,
	// Transaction characteristics.
	`default_transaction_read_only default_transaction_isolation
	default_transaction_deferrable transaction_isolation transaction_read_only
	transaction_deferrable`,
	// Row security "off" makes queries fail instead of being filtered; it
	// cannot widen access for a role without BYPASSRLS.
	`row_security`,
	// Planner choices: they change plans, never results.
	`plan_cache_mode jit cursor_tuple_fraction from_collapse_limit
	join_collapse_limit random_page_cost seq_page_cost`,
)

// adminSettings names settings that are admin for a reason worth telling.
// Every setting not in sessionSettings is admin; these carry the reason.
var adminSettings = map[string]string{
	"role":                        "changes who the session is",
	"session_authorization":       "changes who the session is",
	"search_path":                 "changes how table and function names resolve",
	"standard_conforming_strings": "changes how the server parses string literals",
	"backslash_quote":             "changes how the server parses string literals",
	"escape_string_warning":       "changes how the server parses string literals",
	"client_encoding":             "switches to an encoding the classifier does not parse as",
}

// ParamKind returns the kind of setting the run-time parameter name to value
// with SET (or in a startup packet). Names are case-insensitive, as in the
// server. The proxy reuses it to vet startup parameters; the startup-only
// keys user, database, options and replication are not settings and are
// admin here, so the caller must handle them before asking.
//
// Session kind: the settings a client may safely change (application_name,
// TimeZone, DateStyle, IntervalStyle, extra_float_digits, timeouts,
// transaction defaults...), and client_encoding when value names UTF8.
// Everything else is admin, notably role, session_authorization,
// search_path, standard_conforming_strings, backslash_quote,
// escape_string_warning, client_encoding other than UTF8, log_* and any
// setting this package does not know (including custom "x.y" settings,
// which row-level security policies often read).
func ParamKind(name, value string) gate.Kind {
	k, _ := paramKind(name, value, false)
	return k
}

// ParamKind is the package-level ParamKind, as a method so that a
// *Classifier satisfies adapter interfaces that ask for both.
func (c *Classifier) ParamKind(name, value string) gate.Kind { return ParamKind(name, value) }

// paramKind is ParamKind with a reason for admin results. reset is true for
// RESET and SET ... TO DEFAULT, which return a setting to its session
// default: for client_encoding that is the startup value the proxy vetted.
func paramKind(name, value string, reset bool) (gate.Kind, string) {
	name = strings.ToLower(name)
	if name == "client_encoding" && (reset || isUTF8(value)) {
		return gate.KindSession, ""
	}
	if _, ok := sessionSettings[name]; ok {
		return gate.KindSession, ""
	}
	if strings.HasPrefix(name, "enable_") && !strings.Contains(name, ".") {
		return gate.KindSession, "" // planner method switches
	}
	if why, ok := adminSettings[name]; ok {
		return gate.KindAdmin, "sets " + name + ": " + why
	}
	if strings.HasPrefix(name, "log_") || strings.HasPrefix(name, "debug_") {
		return gate.KindAdmin, "sets " + name + ": changes what the server logs"
	}
	return gate.KindAdmin, "sets " + name + ", a setting not known to be safe"
}

// isUTF8 reports whether value names the UTF8 encoding the way the server
// reads encoding names: case-insensitively, ignoring non-alphanumerics.
func isUTF8(value string) bool {
	var b [8]byte
	n := 0
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			continue
		}
		if n == len(b) {
			return false
		}
		b[n] = c
		n++
	}
	s := string(b[:n])
	return s == "utf8" || s == "unicode"
}

// set classifies SET, SET LOCAL, RESET, SET TRANSACTION and friends.
func (w *walker) set(s *pg.VariableSetStmt) string {
	tag := "SET"
	var (
		k    gate.Kind
		note string
	)
	switch s.Kind {
	case pg.VariableSetKind_VAR_SET_VALUE:
		k, note = paramKind(s.Name, settingValue(s.Args), false)
	case pg.VariableSetKind_VAR_SET_DEFAULT, pg.VariableSetKind_VAR_SET_CURRENT:
		k, note = paramKind(s.Name, "", true)
	case pg.VariableSetKind_VAR_RESET:
		tag = "RESET"
		k, note = paramKind(s.Name, "", true)
	case pg.VariableSetKind_VAR_RESET_ALL:
		// RESET ALL skips role and session_authorization (GUC_NO_RESET_ALL)
		// and only returns settings to their session defaults.
		tag, k = "RESET", gate.KindSession
	case pg.VariableSetKind_VAR_SET_MULTI:
		switch s.Name {
		case "TRANSACTION", "TRANSACTION SNAPSHOT":
			k = gate.KindTransaction
		case "SESSION CHARACTERISTICS":
			k = gate.KindSession
		default:
			k, note = gate.KindAdmin, "unrecognised SET form "+s.Name
		}
	default:
		k, note = gate.KindAdmin, "unrecognised SET form"
	}
	if tag == "RESET" && strings.HasPrefix(note, "sets ") {
		note = "resets " + note[len("sets "):]
	}
	w.raise(k, note)
	return tag
}

// settingValue renders SET arguments as the server would read them, joined
// by commas. Arguments that are not constants render as "?", which no
// value-dependent rule accepts.
func settingValue(args []*pg.Node) string {
	var sb strings.Builder
	for i, a := range args {
		if i > 0 {
			sb.WriteString(", ")
		}
		if tc := a.GetTypeCast(); tc != nil {
			a = tc.Arg
		}
		c := a.GetAConst()
		switch {
		case c == nil:
			sb.WriteString("?")
		case c.GetSval() != nil:
			sb.WriteString(c.GetSval().Sval)
		case c.GetFval() != nil:
			sb.WriteString(c.GetFval().Fval)
		default:
			sb.WriteString("?")
		}
	}
	return sb.String()
}
