package pgwire

import (
	"encoding/binary"
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"
)

// onDataRow forwards one DataRow: rewritten through the result's row plan
// when it masks anything, decoded for the audit preview while that wants
// rows, else copied through untouched.
func (c *conn) onDataRow(cur *expect) error {
	if cur.kind == expExecute && cur.exec != nil && cur.plan == nil && cur.exec.plan != nil {
		cur.plan = cur.exec.plan
		cur.pv.columns(cur.exec.rd)
	}
	if cur.plan != nil && cur.plan.rewrite {
		body, err := c.ur.Body()
		if err != nil {
			return err
		}
		c.rowBuf, err = cur.plan.rewriteRow(c.rowBuf[:0], body, &c.valBuf, &cur.counts)
		if err != nil {
			return err
		}
		cur.pv.row(c.rowBuf[5:])
		n, err := c.cw.Write(c.rowBuf)
		cur.bytes += int64(n)
		return err
	}
	if cur.pv.wants() {
		body, err := c.ur.Body()
		if err != nil {
			return err
		}
		cur.pv.row(body)
		cur.bytes += int64(5 + len(body))
		return c.clientFrame('D', body)
	}
	cur.pv.more()
	n, err := c.ur.Forward(c.cw)
	cur.bytes += int64(n)
	return err
}

// decodeRowDesc decodes a RowDescription into values that outlive the read
// buffer.
func decodeRowDesc(body []byte) (*pgproto3.RowDescription, error) {
	rd := &pgproto3.RowDescription{}
	if err := rd.Decode(slices.Clone(body)); err != nil {
		return nil, protoErrorf("malformed RowDescription from upstream: %v", err)
	}
	return rd, nil
}

// onQueryRowDesc starts a result set of a simple Query: the row plan for the
// statement it belongs to and the preview's columns.
func (c *conn) onQueryRowDesc(cur *expect) error {
	body, err := c.ur.Body()
	if err != nil {
		return err
	}
	rd, err := decodeRowDesc(body)
	if err != nil {
		return err
	}
	if cur.mask != nil {
		cur.plan = newRowPlan(cur.mask.m, rd, cur.mask.verdict(cur.completed), cur.mask.byOID)
	}
	cur.pv.columns(rd)
	return c.clientFrame('T', body)
}

// onMaskRowDesc takes the answer to the Describe injected before a masked
// Execute: it builds the Execute's row plan and is not forwarded.
func (c *conn) onMaskRowDesc(cur *expect, typ byte) (*expect, error) {
	if typ == 'n' {
		if err := c.ur.Skip(); err != nil {
			return cur, err
		}
		return c.next(), nil
	}
	body, err := c.ur.Body()
	if err != nil {
		return cur, err
	}
	rd, err := decodeRowDesc(body)
	if err != nil {
		return cur, err
	}
	cur.exec.rd = rd
	cur.exec.plan = newRowPlan(cur.mask.m, rd, cur.mask.verdict(0), cur.mask.byOID)
	return c.next(), nil
}

// onStatementRowDesc keeps a prepared statement's row description (for the
// preview of its Executes) and forwards it.
func (c *conn) onStatementRowDesc(cur *expect) (*expect, error) {
	body, err := c.ur.Body()
	if err != nil {
		return cur, err
	}
	rd, err := decodeRowDesc(body)
	if err != nil {
		return cur, err
	}
	c.objs.mu.Lock()
	cur.stmt.rowDesc = rd
	c.objs.mu.Unlock()
	if err := c.clientFrame('T', body); err != nil {
		return cur, err
	}
	return c.next(), nil
}

// onCopyOut handles COPY ... TO STDOUT under masking: the CopyOutResponse
// starts a copy plan (from the statement's COPY options and lineage),
// CopyData rows are rewritten through it, CopyDone retires it.
func (c *conn) onCopyOut(cur *expect, typ byte) error {
	switch typ {
	case 'H':
		body, err := c.ur.Body()
		if err != nil {
			return err
		}
		var m pgproto3.CopyOutResponse
		if err := m.Decode(body); err != nil {
			return protoErrorf("malformed CopyOutResponse from upstream: %v", err)
		}
		f, ok := cur.mask.copy[cur.completed]
		if !ok || m.OverallFormat != 0 {
			return protoErrorf("COPY output that masking cannot rewrite (format %d)", m.OverallFormat)
		}
		cur.copy = newCopyPlan(cur.mask.m, f, len(m.ColumnFormatCodes), cur.mask.verdict(cur.completed))
		return c.clientFrame(typ, body)
	case 'd':
		if cur.copy == nil {
			return protoErrorf("CopyData from upstream outside COPY")
		}
		body, err := c.ur.Body()
		if err != nil {
			return err
		}
		c.rowBuf, err = cur.copy.rewriteRow(append(c.rowBuf[:0], 'd', 0, 0, 0, 0), body, &cur.counts)
		if err != nil {
			return err
		}
		binary.BigEndian.PutUint32(c.rowBuf[1:], uint32(len(c.rowBuf)-1))
		n, err := c.cw.Write(c.rowBuf)
		cur.bytes += int64(n)
		return err
	default: // 'c'
		if cur.copy != nil {
			for i := range cur.copy.cols {
				if n := cur.copy.cols[i].count; n > 0 {
					if cur.masked == nil {
						cur.masked = map[string]int64{}
					}
					cur.masked["column:"+cur.copy.cols[i].name] += n
				}
			}
			cur.copy = nil
		}
		n, err := c.ur.Forward(c.cw)
		cur.bytes += int64(n)
		return err
	}
}

// onMaskedNotice forwards a NoticeResponse raised while a masked command
// runs, scrubbed like its errors.
func (c *conn) onMaskedNotice(cur *expect) error {
	body, err := c.ur.Body()
	if err != nil {
		return err
	}
	var e pgproto3.ErrorResponse // same fields as a notice
	if err := e.Decode(body); err != nil {
		return protoErrorf("malformed NoticeResponse from upstream: %v", err)
	}
	if !scrubNotice(cur.mask, &e, &cur.counts) {
		return c.clientFrame('N', body)
	}
	n := pgproto3.NoticeResponse(e)
	return writeMsg(c.cw, &c.wscratch, &n)
}
