package pgwire

import (
	"bytes"

	"github.com/gatehouse/gatehouse/internal/mask"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// copyPlan masks the rows of a COPY ... TO STDOUT in text or CSV format.
// The server sends one row per CopyData message, each ending in a newline;
// anything else is a protocol error (fail closed). Values are decoded
// (escapes, quotes), masked like DataRow values and encoded again; values
// nothing touched are copied as they came. COPY carries no column types,
// so whole-column masks are rendered as text.
type copyPlan struct {
	m      *mask.Masker
	f      sqlpg.CopyFormat
	cols   []colPlan
	header bool // the next row is the header line
	val    []byte
	out    []byte
}

func newCopyPlan(m *Masking, f sqlpg.CopyFormat, ncols int, v stmtVerdict) *copyPlan {
	p := &copyPlan{m: m.Masker, f: f, cols: make([]colPlan, ncols), header: f.Header}
	mismatch := len(v) != ncols
	scan := len(m.Masker.Detectors()) > 0
	for i := range p.cols {
		cp := &p.cols[i]
		cp.oid = oidText
		verdict := colVerdict{unresolved: true}
		if !mismatch {
			verdict = v[i]
		}
		switch {
		// COPY names no source columns: every masked value is treated as
		// derived (partial becomes redact).
		case verdict.protected != "":
			cp.action, cp.name, cp.column = colWhole, verdict.protected, m.Masker.Column(verdict.protected).Derived()
		case verdict.unresolved:
			cp.action, cp.name, cp.column = colWhole, "unresolved", m.Masker.Column("").Derived()
		case scan:
			cp.action = colScan
		}
	}
	return p
}

// rewriteRow appends the masked form of one COPY row (a CopyData payload)
// to dst.
func (p *copyPlan) rewriteRow(dst, row []byte, counts *mask.Counts) ([]byte, error) {
	if len(row) == 0 || row[len(row)-1] != '\n' {
		return dst, protoErrorf("COPY row from upstream does not end in a newline")
	}
	if p.header {
		p.header = false
		return append(dst, row...), nil
	}
	body := row[:len(row)-1]
	if len(body) > 0 && body[len(body)-1] == '\r' {
		return dst, protoErrorf("COPY row from upstream ends in CR LF")
	}
	i := 0
	for col := 0; ; col++ {
		if col >= len(p.cols) {
			return dst, protoErrorf("COPY row has more columns than the result")
		}
		var raw []byte
		var next int
		var err error
		if p.f.Format == "csv" {
			raw, next, err = p.csvField(body, i)
		} else {
			raw, next = textField(body, i, p.f.Delimiter)
		}
		if err != nil {
			return dst, err
		}
		if col > 0 {
			dst = append(dst, p.f.Delimiter)
		}
		dst = p.maskField(dst, raw, col, counts)
		if next >= len(body) {
			if col != len(p.cols)-1 {
				return dst, protoErrorf("COPY row has fewer columns than the result")
			}
			break
		}
		i = next + 1 // past the delimiter
	}
	return append(dst, '\n'), nil
}

// maskField masks one raw (still encoded) field and appends its encoding.
func (p *copyPlan) maskField(dst, raw []byte, col int, counts *mask.Counts) []byte {
	cp := &p.cols[col]
	if cp.action == colPass || p.isNull(raw) {
		return append(dst, raw...)
	}
	p.val = p.decode(p.val[:0], raw)
	var res mask.Result
	if cp.action == colWhole {
		p.out, res = cp.column.Mask(p.out[:0], cp.oid, p.val)
		if res != mask.Clean {
			cp.count++
		}
	} else {
		p.out, res = p.m.MaskText(p.out[:0], p.val, counts)
	}
	switch res {
	case mask.Nulled:
		return append(dst, p.f.Null...)
	case mask.Masked:
		return p.encode(dst, p.out)
	}
	return append(dst, raw...)
}

func (p *copyPlan) isNull(raw []byte) bool {
	if p.f.Format == "csv" {
		return string(raw) == p.f.Null && (len(raw) == 0 || raw[0] != p.f.Quote)
	}
	return string(raw) == p.f.Null
}

// textField returns the raw field starting at i and the index of the
// delimiter (or len) that ends it. A backslash escapes the next byte.
func textField(b []byte, i int, delim byte) ([]byte, int) {
	j := i
	for j < len(b) && b[j] != delim {
		if b[j] == '\\' && j+1 < len(b) {
			j++
		}
		j++
	}
	return b[i:j], j
}

// csvField returns the raw field starting at i (quotes included) and the
// index of the delimiter (or len) that ends it.
func (p *copyPlan) csvField(b []byte, i int) ([]byte, int, error) {
	if i < len(b) && b[i] == p.f.Quote {
		for j := i + 1; j < len(b); j++ {
			c := b[j]
			if c == p.f.Escape && j+1 < len(b) && (b[j+1] == p.f.Quote || p.f.Escape != p.f.Quote && b[j+1] == p.f.Escape) {
				j++ // an escaped quote (or escape) inside the field
				continue
			}
			if c == p.f.Quote {
				j++
				if j < len(b) && b[j] != p.f.Delimiter {
					return nil, 0, protoErrorf("malformed quoted COPY CSV field from upstream")
				}
				return b[i:j], j, nil
			}
		}
		return nil, 0, protoErrorf("unterminated quoted COPY CSV field from upstream")
	}
	j := bytes.IndexByte(b[i:], p.f.Delimiter)
	if j < 0 {
		return b[i:], len(b), nil
	}
	return b[i : i+j], i + j, nil
}

// decode turns a raw field into its value.
func (p *copyPlan) decode(dst, raw []byte) []byte {
	if p.f.Format == "csv" {
		if len(raw) < 2 || raw[0] != p.f.Quote {
			return append(dst, raw...)
		}
		in := raw[1 : len(raw)-1]
		for k := 0; k < len(in); k++ {
			if in[k] == p.f.Escape && k+1 < len(in) && (in[k+1] == p.f.Quote || in[k+1] == p.f.Escape) {
				k++
			}
			dst = append(dst, in[k])
		}
		return dst
	}
	for k := 0; k < len(raw); k++ {
		c := raw[k]
		if c != '\\' || k+1 >= len(raw) {
			dst = append(dst, c)
			continue
		}
		k++
		switch e := raw[k]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && k+1 < len(raw) && isHex(raw[k+1]) {
				k++
				v = v*16 + hexVal(raw[k])
				n++
			}
			dst = append(dst, byte(v))
		default:
			if e >= '0' && e <= '7' {
				v, n := int(e-'0'), 1
				for n < 3 && k+1 < len(raw) && raw[k+1] >= '0' && raw[k+1] <= '7' {
					k++
					v = v*8 + int(raw[k]-'0')
					n++
				}
				dst = append(dst, byte(v))
			} else {
				dst = append(dst, e)
			}
		}
	}
	return dst
}

// encode appends the encoding of a masked value.
func (p *copyPlan) encode(dst, v []byte) []byte {
	if p.f.Format == "csv" {
		needs := bytes.IndexByte(v, p.f.Delimiter) >= 0 || bytes.IndexByte(v, p.f.Quote) >= 0 ||
			bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0 || string(v) == p.f.Null
		if !needs {
			return append(dst, v...)
		}
		dst = append(dst, p.f.Quote)
		for _, c := range v {
			if c == p.f.Quote || c == p.f.Escape {
				dst = append(dst, p.f.Escape)
			}
			dst = append(dst, c)
		}
		return append(dst, p.f.Quote)
	}
	for _, c := range v {
		switch c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case p.f.Delimiter:
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}
