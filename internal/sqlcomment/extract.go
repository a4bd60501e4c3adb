package sqlcomment

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// MaxReason is the longest reason Extract returns, in bytes; longer
// reasons are cut at a character boundary.
const MaxReason = 1000

// Extract reads the agent's reason and trace context from sql with
// PostgreSQL's lexical rules. See Dialect.Extract.
func Extract(sql string) gate.Request { return PostgreSQL.Extract(sql) }

// Extract returns the reason and W3C trace context of the last top-level
// block comment in sql that parses as sqlcommenter key='value' pairs. The
// zero Request means there was none. A reason or traceparent that is
// missing or invalid in that comment is left empty; earlier comments are
// not consulted. The result may share memory with sql.
func (d Dialect) Extract(sql string) gate.Request {
	var last pairs
	found := false
	l := lexer{d: d, s: sql}
	for {
		body, ok := l.next()
		if !ok {
			break
		}
		if p, ok := parse(body); ok {
			last, found = p, true
		}
	}
	if !found {
		return gate.Request{}
	}
	var req gate.Request
	req.Reason = reason(last.reason)
	if tp, ok := decode(last.traceparent); ok {
		req.TraceID, req.SpanID, _ = traceparent(tp)
	}
	return req
}

// pairs holds the raw (still escaped and URL-encoded) values of the keys
// Extract uses.
type pairs struct {
	reason, traceparent string
}

// parse reads a comment body as sqlcommenter pairs:
//
//	key='value',key='value'
//
// Keys are URL-encoded (unreserved characters and %XX); values are
// URL-encoded, with ' escaped as \', inside single quotes. Spaces are
// allowed around the pairs and around '=' and ','. A key that repeats, an
// empty body, a malformed %XX or anything else that does not fit makes the
// whole comment not a sqlcommenter comment. parse does not allocate unless
// a key is percent-encoded.
func parse(body string) (p pairs, ok bool) {
	var seenReason, seenTrace bool
	i := 0
	for {
		i = skipSpace(body, i)
		k := i
		for i < len(body) && isKeyByte(body[i]) {
			i++
		}
		key := body[k:i]
		if key == "" || !validPercent(key) {
			return pairs{}, false
		}
		i = skipSpace(body, i)
		if at(body, i) != '=' {
			return pairs{}, false
		}
		i = skipSpace(body, i+1)
		if at(body, i) != '\'' {
			return pairs{}, false
		}
		i++
		v := i
		for i < len(body) && body[i] != '\'' {
			if body[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(body) {
			return pairs{}, false
		}
		val := body[v:i]
		if !validPercent(val) {
			return pairs{}, false
		}
		i++
		if strings.IndexByte(key, '%') >= 0 {
			key, _ = url.PathUnescape(key)
		}
		switch key {
		case "reason":
			if seenReason {
				return pairs{}, false
			}
			seenReason, p.reason = true, val
		case "traceparent":
			if seenTrace {
				return pairs{}, false
			}
			seenTrace, p.traceparent = true, val
		}
		i = skipSpace(body, i)
		if i == len(body) {
			return p, true
		}
		if body[i] != ',' {
			return pairs{}, false
		}
		i++
	}
}

// decode undoes the value encoding: \' (and any \c) stands for c, then %XX
// decoding. '+' stays '+' (sqlcommenter encodes spaces as %20). It
// allocates only when there is something to decode.
func decode(raw string) (string, bool) {
	if strings.IndexByte(raw, '\\') >= 0 {
		var b strings.Builder
		b.Grow(len(raw))
		for i := 0; i < len(raw); i++ {
			if raw[i] == '\\' && i+1 < len(raw) {
				i++
			}
			b.WriteByte(raw[i])
		}
		raw = b.String()
	}
	s, err := url.PathUnescape(raw)
	return s, err == nil
}

// reason decodes, trims and bounds a raw reason value: valid UTF-8, no
// surrounding white space, at most MaxReason bytes.
func reason(raw string) string {
	s, ok := decode(raw)
	if !ok {
		return ""
	}
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > MaxReason {
		cut := MaxReason
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut])
	}
	return s
}

// traceparent validates a W3C traceparent header value
// (version-traceid-parentid-flags, lower-case hex) and returns the trace-id
// and parent-id. Version ff, an all-zero trace-id or parent-id, or any
// malformation is invalid. A version other than 00 may carry more fields
// after the flags, separated by '-'; version 00 may not.
func traceparent(v string) (traceID, spanID string, ok bool) {
	if len(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return "", "", false
	}
	version, trace, parent, flags := v[0:2], v[3:35], v[36:52], v[53:55]
	if !isHex(version) || version == "ff" || !isHex(trace) || !isHex(parent) || !isHex(flags) {
		return "", "", false
	}
	if version == "00" && len(v) != 55 || len(v) > 55 && v[55] != '-' {
		return "", "", false
	}
	if allZero(trace) || allZero(parent) {
		return "", "", false
	}
	return trace, parent, true
}

// isHex reports whether s is non-empty lower-case hex.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// isKeyByte: URL-unreserved characters and '%' (for %XX).
func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '%'
}

// validPercent reports whether every '%' in s starts a %XX escape.
func validPercent(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !isAnyHex(s[i+1]) || !isAnyHex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isAnyHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
