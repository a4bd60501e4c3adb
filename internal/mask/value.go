package mask

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Column-level masking: the lineage engine decides that a result column
// comes from a protected table column and masks each of its values whole
// with the column's strategy.

// PostgreSQL type OIDs (pg_type.oid) whose text format can hold a mask.
const (
	oidName    = 19
	oidText    = 25
	oidJSON    = 114
	oidUnknown = 705
	oidBPChar  = 1042
	oidVarchar = 1043
	oidJSONB   = 3802
)

// HoldsText reports whether a value of the PostgreSQL type oid, in text
// format, can hold a text mask (a label, a token or a partial form): text,
// varchar, bpchar, name, unknown, json and jsonb (a JSON string). Every
// other type, including numbers, dates, uuid, bytea, arrays, xml and
// extension types such as citext whose OIDs are not fixed, cannot: their
// protected values become NULL. Domains are reported by PostgreSQL under
// their base type. In binary format, text, varchar, bpchar, name and json
// are the same bytes; jsonb is a version byte (1) and the text; the caller
// adapts.
//
// Length modifiers are not enforced: a mask may be longer than a
// varchar(n) or char(n) allows, or than name's 63 bytes. Drivers do not
// check a result value against the column's typmod, and cutting a label or
// token would make it ambiguous.
func HoldsText(oid uint32) bool {
	switch oid {
	case oidName, oidText, oidJSON, oidUnknown, oidBPChar, oidVarchar, oidJSONB:
		return true
	}
	return false
}

// noDetector marks a whole value of no known kind.
const noDetector Detector = 255

// redactedLabel replaces a protected column's value under redact.
const redactedLabel = "<REDACTED>"

// columnRule is one Strategies key with a dot.
type columnRule struct {
	segs     []string // "*" matches any one segment
	literal  int      // segments that are not "*"
	strategy Strategy
}

func parseColumnRule(key string, s Strategy) (columnRule, error) {
	r := columnRule{segs: strings.Split(key, "."), strategy: s}
	for _, seg := range r.segs {
		if seg == "" || (strings.Contains(seg, "*") && seg != "*") {
			return r, fmt.Errorf("mask: strategies: column %q: each dotted part must be a name or *", key)
		}
		if seg != "*" {
			r.literal++
		}
	}
	return r, nil
}

// matches aligns the rule's segments with the last segments of name.
func (r columnRule) matches(name []string) bool {
	if len(r.segs) > len(name) {
		return false
	}
	off := len(name) - len(r.segs)
	for i, seg := range r.segs {
		if seg != "*" && seg != name[off+i] {
			return false
		}
	}
	return true
}

// Column is the masking of one protected column, resolved once per result
// (RowDescription) by Masker.Column. The zero Column is not usable.
type Column struct {
	m        *Masker
	strategy Strategy
}

// Column resolves the strategy of the protected column name, as the
// lineage engine writes it ("schema.table.column" or "table.column").
// Strategies keys with a dot are matched against the name's last dotted
// parts, case-sensitively ("customers.email" matches "public.customers.email";
// "*.card_number" matches any table's card_number; a key with more parts
// than the name does not match). Among matching keys the one with the most
// literal parts wins, then the longer; without a match the default strategy
// applies. Call it at plan time: it allocates.
func (m *Masker) Column(name string) Column {
	parts := strings.Split(name, ".")
	c := Column{m: m, strategy: m.def}
	bestLit, bestLen := -1, -1
	for _, r := range m.columns {
		if !r.matches(parts) {
			continue
		}
		if r.literal > bestLit || (r.literal == bestLit && len(r.segs) > bestLen) {
			bestLit, bestLen, c.strategy = r.literal, len(r.segs), r.strategy
		}
	}
	return c
}

// Strategy returns the column's strategy.
func (c Column) Strategy() Strategy { return c.strategy }

// Derived returns the column's masking for a value that is not the
// protected value itself but derived from it (an expression, several
// protected columns, a whole row) or of unknown lineage: partial, which
// keeps a value's shape, length and ends, becomes redact; the other
// strategies stay as they are.
func (c Column) Derived() Column {
	if c.strategy == Partial {
		c.strategy = Redact
	}
	return c
}

// Mask appends the masked form of src, a whole non-NULL value of the
// column in PostgreSQL text format, whose type is oid. It returns Nulled
// (appending nothing) when the strategy is null or the type cannot hold a
// text mask (HoldsText), Masked otherwise: redact writes "<REDACTED>", hash
// a token, partial the partial form of the kind of value src is (the
// built-in detector that matches all of it) or the generic one. For json
// and jsonb the mask is a JSON string; a JSON string value is masked by its
// content, so it hashes like the same text in a text column. bpchar's
// trailing padding is ignored for hashing and kept after a partial form.
// It allocates only to grow dst (and to escape JSON, rarely).
func (c Column) Mask(dst []byte, oid uint32, src []byte) ([]byte, Result) {
	if c.strategy == Null || !HoldsText(oid) {
		return dst, Nulled
	}
	if oid == oidJSON || oid == oidJSONB {
		v := src
		if n := len(v); n >= 2 && v[0] == '"' && v[n-1] == '"' {
			if !containsByte(v[1:n-1], '\\') {
				v = v[1 : n-1]
			} else if str, ok := unquoteJSON(v); ok {
				v = str // rare: escapes in a JSON string
			}
		}
		dst = append(dst, '"')
		start := len(dst)
		dst = c.whole(dst, v, nil)
		if needsJSONEscape(dst[start:]) {
			tmp := append([]byte(nil), dst[start:]...)
			dst = appendJSONEscaped(dst[:start], tmp)
		}
		return append(dst, '"'), Masked
	}
	var pad []byte
	if oid == oidBPChar {
		n := len(src)
		for n > 0 && src[n-1] == ' ' {
			n--
		}
		src, pad = src[:n], src[n:]
	}
	return c.whole(dst, src, pad), Masked
}

// whole appends the strategy's form of the whole value v.
func (c Column) whole(dst, v, pad []byte) []byte {
	switch c.strategy {
	case Hash:
		return c.m.token(dst, kindOf(v), v)
	case Partial:
		return append(c.m.partial(dst, kindOf(v), v), pad...)
	}
	return append(dst, redactedLabel...)
}

// MaskValue is m.Column(column).Mask(dst, oid, src), for callers that mask
// a single value; it resolves the column on every call.
func (m *Masker) MaskValue(dst []byte, column string, oid uint32, src []byte) ([]byte, Result) {
	return m.Column(column).Mask(dst, oid, src)
}

// kindOf returns the built-in detector that matches all of v, whether or
// not the policy enables it, or noDetector.
func kindOf(v []byte) Detector {
	for id, sc := range builtinScanners {
		if st, end := sc.next(v, 0); st == 0 && end == len(v) {
			return Detector(id)
		}
	}
	return noDetector
}

// unquoteJSON decodes a JSON string literal; it allocates.
func unquoteJSON(v []byte) ([]byte, bool) {
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

func containsByte(v []byte, b byte) bool {
	for _, c := range v {
		if c == b {
			return true
		}
	}
	return false
}

func needsJSONEscape(v []byte) bool {
	for _, c := range v {
		if c < 0x20 || c == '"' || c == '\\' {
			return true
		}
	}
	return !utf8.Valid(v)
}

// appendJSONEscaped appends v as the content of a JSON string. Invalid
// UTF-8 becomes U+FFFD.
func appendJSONEscaped(dst, v []byte) []byte {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(v); {
		r, w := utf8.DecodeRune(v[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			dst = append(dst, "\ufffd"...)
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
		default:
			dst = append(dst, v[i:i+w]...)
		}
		i += w
	}
	return dst
}
