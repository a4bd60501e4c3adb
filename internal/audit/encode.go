package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// bodyVersion is written into every body as "v". Bump it when the meaning
// of a field changes; readers decode every version they know.
const bodyVersion = 1

// body is the JSON body of a record: the parts of a gate.Event that are not
// record columns. Which fields are set depends on the kind (see encodeBody);
// nothing else of the Event is ever written.
//
// Field order is declaration order and map keys are sorted by
// encoding/json, so equal events encode to equal bytes.
type body struct {
	V        int               `json:"v"`
	Session  *gate.SessionInfo `json:"session,omitempty"`
	Command  *gate.Command     `json:"command,omitempty"`
	Decision *gate.Decision    `json:"decision,omitempty"`
	Outcome  *gate.Outcome     `json:"outcome,omitempty"`
	Reason   string            `json:"reason,omitempty"`
}

// bodyOf selects, by kind, the fields of e that go into the body, as
// gate.Event documents them. An auth failure thus records the session info
// the caller passed and the reason, and never a Command or Decision that
// happened to be set.
func bodyOf(e *gate.Event) (body, error) {
	b := body{V: bodyVersion}
	switch e.Kind {
	case gate.EventSessionOpen:
		b.Session = e.Session
	case gate.EventAuthFailure:
		b.Session, b.Reason = e.Session, redactTokens(e.Reason)
		if b.Session != nil && containsToken(b.Session.User) {
			info := *b.Session // copy: the caller's value is not ours to change
			info.User = redactTokens(info.User)
			b.Session = &info
		}
	case gate.EventStep:
		b.Command, b.Decision = e.Command, e.Decision
		if b.Command == nil || b.Decision == nil {
			return b, fmt.Errorf("audit: step event %s/%d without Command or Decision", e.SessionID, e.Step)
		}
	case gate.EventStepResult:
		b.Outcome = e.Outcome
	case gate.EventSessionClose:
		b.Reason = e.Reason
	default:
		return b, fmt.Errorf("audit: unknown event kind %d", e.Kind)
	}
	return b, nil
}

// redactTokens replaces anything shaped like a JWT (three base64url
// segments, the first starting "eyJ", the encoding of `{"`) with
// "[redacted token]". Authenticators promise that their errors hold no
// token, but an auth-failure record is kept forever and a bearer token in
// it would be a live credential in the evidence, so the recorder makes sure
// for the two free-text fields of an auth failure (Reason and User).
// Other events are recorded as given: a statement is evidence as sent.
func redactTokens(s string) string {
	if !containsToken(s) {
		return s
	}
	var out strings.Builder
	for {
		i, n := findToken(s)
		if i < 0 {
			out.WriteString(s)
			return out.String()
		}
		out.WriteString(s[:i])
		out.WriteString("[redacted token]")
		s = s[i+n:]
	}
}

func containsToken(s string) bool {
	i, _ := findToken(s)
	return i >= 0
}

// findToken returns the offset and length of the first JWT-shaped run in s,
// or -1.
func findToken(s string) (int, int) {
	for from := 0; ; {
		i := strings.Index(s[from:], "eyJ")
		if i < 0 {
			return -1, 0
		}
		i += from
		n, dots := 0, 0
		for _, c := range []byte(s[i:]) {
			if c == '.' {
				dots++
			} else if !(c == '-' || c == '_' || c == '=' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				break
			}
			n++
		}
		if dots >= 2 {
			return i, n
		}
		from = i + 3
	}
}

// encodeJSON is json.Marshal without HTML escaping (SQL text stays
// readable: "a < b", not "a \u003c b") and without the trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// encodeEvent turns e into a record without chain position (Chain, Seq,
// PrevHash, Hash are the writer's). e.Time must be set. The record holds
// no pointer into e.
func encodeEvent(e *gate.Event) (store.Record, error) {
	b, err := bodyOf(e)
	if err != nil {
		return store.Record{}, err
	}
	raw, err := encodeJSON(b)
	if err != nil {
		return store.Record{}, fmt.Errorf("audit: encode %s event: %w", e.Kind, err)
	}
	t := e.Time.UTC().Round(0)
	if t.Year() < 1678 || t.Year() > 2261 {
		return store.Record{}, fmt.Errorf("audit: event time %v out of range", e.Time)
	}
	r := store.Record{Time: t, Kind: e.Kind.String(), Session: column(e.SessionID), Step: e.Step, Body: raw}
	r.Connection, r.Subject, r.TraceID, r.Action = indexColumns(e.Kind, &b)
	return r, nil
}

// decodeBody decodes a record body.
func decodeBody(raw []byte) (body, error) {
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		return b, err
	}
	if b.V < 1 || b.V > bodyVersion {
		return b, fmt.Errorf("unknown body version %d", b.V)
	}
	return b, nil
}

// indexColumns derives the store's index columns from a body. Verify calls
// it again on the stored body and compares, because the columns are not
// covered by the hash.
func indexColumns(k gate.EventKind, b *body) (connection, subject, traceID, action string) {
	switch k {
	case gate.EventSessionOpen, gate.EventAuthFailure:
		if b.Session != nil {
			connection = b.Session.Target.Name
			if b.Session.Identity != nil {
				subject = b.Session.Identity.Subject
			}
		}
	case gate.EventStep:
		if b.Command != nil {
			traceID = b.Command.Request.TraceID
		}
		if b.Decision != nil {
			action = b.Decision.Action.String()
		}
	}
	return column(connection), column(subject), column(traceID), column(action)
}

// maxColumn bounds an index column. Trace ids and subjects come from
// agents and tokens; the body keeps them whole.
const maxColumn = 256

// column makes s storable in a text column of either engine: valid UTF-8,
// no NUL (PostgreSQL rejects both, and one bad record would fail the whole
// batch it shares with other sessions), at most maxColumn bytes.
func column(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) && len(s) <= maxColumn {
		return s
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) > maxColumn {
		s = s[:maxColumn]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// genesis is the PrevHash of a chain's first record.
var genesis = make([]byte, sha256.Size)

// hashRecord returns sha256 of r's hash preimage:
//
//	{"chain":C,"seq":N,"time":T,"kind":K,"session":S,"step":N,"body":B,"prev_hash":H}
//
// with C, T, K and S JSON strings (no HTML escaping), T the time in UTC as
// RFC 3339 with nanoseconds (time.RFC3339Nano), B the body bytes exactly as
// stored (itself JSON), and H the previous record's hash in lower-case hex
// (64 zeros for seq 1). Anyone can recompute it with a JSON library and
// sha256sum; the index columns are deliberately not part of it.
func hashRecord(r *store.Record) []byte {
	h := sha256.Sum256(preimage(r))
	return h[:]
}

func preimage(r *store.Record) []byte {
	buf := make([]byte, 0, len(r.Body)+256)
	buf = append(buf, `{"chain":`...)
	buf = appendString(buf, r.Chain)
	buf = append(buf, `,"seq":`...)
	buf = strconv.AppendInt(buf, r.Seq, 10)
	buf = append(buf, `,"time":`...)
	buf = appendString(buf, r.Time.UTC().Format(time.RFC3339Nano))
	buf = append(buf, `,"kind":`...)
	buf = appendString(buf, r.Kind)
	buf = append(buf, `,"session":`...)
	buf = appendString(buf, r.Session)
	buf = append(buf, `,"step":`...)
	buf = strconv.AppendInt(buf, int64(r.Step), 10)
	buf = append(buf, `,"body":`...)
	buf = append(buf, r.Body...)
	buf = append(buf, `,"prev_hash":"`...)
	buf = hex.AppendEncode(buf, r.PrevHash)
	buf = append(buf, `"}`...)
	return buf
}

// appendString appends s as a JSON string, without HTML escaping.
func appendString(buf []byte, s string) []byte {
	b, _ := encodeJSON(s) // a string always encodes
	return append(buf, b...)
}
