package pgwire

import (
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/mask"
)

// Error and notice messages can carry values: "invalid input syntax for
// type integer: "123-45-6789"", "Key (email)=(bob@example.org) already
// exists", a RAISE in a function. When masking applies to a command, the
// upstream's errors and notices for it are scrubbed before they reach the
// client: the value detectors run over every text field, and when the
// command touches protected columns, quoted values in the message are
// replaced and the fields that quote data (detail, where, internal query)
// are dropped. The audit records the scrubbed message too.

// scrubNotice masks the text fields of an ErrorResponse or NoticeResponse
// in place for ms's masking. It reports whether anything changed.
func scrubNotice(ms *maskState, e *pgproto3.ErrorResponse, counts *mask.Counts) bool {
	changed := false
	if ms.sensitive {
		switch e.Code {
		case "00000", "01000", "P0001":
			// RAISE NOTICE / WARNING / EXCEPTION: the whole message is
			// written by code that can read anything.
			e.Message = "<REDACTED: message raised by code that runs in a command touching protected data>"
			changed = true
		}
		if e.Detail != "" || e.Where != "" || e.InternalQuery != "" {
			e.Detail, e.Where, e.InternalQuery, e.InternalPosition = "", "", "", 0
			changed = true
		}
		if q := redactQuoted(e.Message); q != e.Message {
			e.Message, changed = q, true
		}
	}
	for _, f := range []*string{&e.Message, &e.Detail, &e.Hint, &e.Where, &e.InternalQuery, &e.ColumnName} {
		if *f == "" {
			continue
		}
		out, res := ms.m.Masker.MaskText(nil, []byte(*f), counts)
		if res == mask.Masked {
			*f, changed = string(out), true
		} else if res == mask.Nulled {
			*f, changed = "<REDACTED>", true
		}
	}
	return changed
}

// redactQuoted replaces the content of "double-quoted" and (parenthesised)=
// value spans in a server message, where PostgreSQL puts data.
func redactQuoted(s string) string {
	if !strings.ContainsAny(s, `"(`) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], '"')
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(`"<REDACTED>"`)
		s = s[i+1+j+1:]
	}
	b.WriteString(s)
	out := b.String()
	// "Key (col)=(value)" and "Failing row contains (...)".
	if k := strings.Index(out, ")=("); k >= 0 {
		if e := strings.IndexByte(out[k+3:], ')'); e >= 0 {
			out = out[:k+3] + "<REDACTED>" + out[k+3+e:]
		}
	}
	if k := strings.Index(out, "row contains ("); k >= 0 {
		out = out[:k+len("row contains (")] + "<REDACTED>)"
	}
	return out
}
