package pgwire

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// previewer keeps the first rows of a step's result as the client saw them
// (after masking), for the audit replay, within a row and a byte budget.
// It is owned by the upstream loop.
type previewer struct {
	maxRows, maxBytes int
	p                 *gate.Preview
	size              int
	oids              []uint32
	binary            []bool
}

// columns starts a result set; only the first result set of a step is kept.
func (pv *previewer) columns(rd *pgproto3.RowDescription) {
	if pv.maxRows <= 0 || pv.p != nil {
		return
	}
	pv.p = &gate.Preview{Columns: make([]string, len(rd.Fields))}
	pv.oids = make([]uint32, len(rd.Fields))
	pv.binary = make([]bool, len(rd.Fields))
	for i, f := range rd.Fields {
		pv.p.Columns[i] = string(f.Name)
		pv.oids[i], pv.binary[i] = f.DataTypeOID, f.Format == 1
	}
}

// columnsFormats is columns for an Execute: rd comes from describing the
// statement (formats unset) and formats are the Bind's result formats.
func (pv *previewer) columnsFormats(rd *pgproto3.RowDescription, formats []int16) {
	if pv.maxRows <= 0 || pv.p != nil {
		return
	}
	pv.columns(rd)
	for i := range pv.binary {
		switch {
		case len(formats) == 1:
			pv.binary[i] = formats[0] == 1
		case i < len(formats):
			pv.binary[i] = formats[i] == 1
		default:
			pv.binary[i] = false
		}
	}
}

// wants reports whether the next row should be offered to row.
func (pv *previewer) wants() bool {
	return pv.maxRows > 0 && pv.p != nil && !pv.p.Truncated && len(pv.p.Rows) < pv.maxRows
}

// row adds a DataRow body (as sent to the client). Values that do not fit
// the byte budget end the preview, marked truncated.
func (pv *previewer) row(body []byte) {
	if !pv.wants() || len(body) < 2 {
		return
	}
	n := int(binary.BigEndian.Uint16(body))
	rest := body[2:]
	row := make([]string, 0, n)
	for i := 0; i < n && len(rest) >= 4; i++ {
		l := int32(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		if l < 0 {
			row = append(row, "NULL")
			continue
		}
		if int(l) > len(rest) {
			return
		}
		v := rest[:l]
		rest = rest[l:]
		var s string
		switch {
		case i < len(pv.binary) && pv.binary[i]:
			s = renderBinary(pv.oids[i], v)
		case utf8.Valid(v):
			s = clip(v)
		default:
			s = renderBinary(0, v)
		}
		row = append(row, s)
		pv.size += len(s)
	}
	if pv.size > pv.maxBytes {
		pv.p.Truncated = true
		return
	}
	pv.p.Rows = append(pv.p.Rows, row)
}

// more marks the preview truncated when rows were left out.
func (pv *previewer) more() {
	if pv.p != nil && len(pv.p.Rows) >= pv.maxRows {
		pv.p.Truncated = true
	}
}
