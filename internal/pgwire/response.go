package pgwire

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// upstreamLoop reads upstream messages until the connection ends, matches
// each response to the queue entry it answers, completes steps, and writes
// everything to the client: untouched frames, except the ErrorResponse of an
// injected refusal, which is replaced by the refusal.
//
// The client write lock is held across a run of messages that are already
// buffered and released (after a flush) before the loop can block on the
// upstream, so out-of-band writes interleave only between batches.
func (c *conn) upstreamLoop() error {
	locked := false
	defer func() {
		if locked {
			c.wmu.Unlock()
		}
	}()
	var cur *expect
	for {
		if !c.ur.Buffered() && locked {
			err := c.cw.Flush()
			c.wmu.Unlock()
			locked = false
			if err != nil {
				return err
			}
			if c.draining.Load() && c.q.drain() {
				return gate.ErrShuttingDown
			}
		}
		typ, err := c.ur.Next()
		if err != nil {
			if isNetErr(err) && !c.closing() {
				return errUpstreamClosed
			}
			return err
		}
		if !locked {
			c.wmu.Lock()
			locked = true
		}
		if cur == nil {
			cur = c.q.front()
		}
		cur, err = c.onUpstream(typ, cur)
		if err != nil {
			return err
		}
	}
}

// closing reports whether the connection is already shutting down, so a
// read error is a consequence rather than a cause.
func (c *conn) closing() bool { return c.closed.Load() }

// onUpstream handles one upstream message with cur as the queue's front
// entry (nil when empty) and returns the new front.
func (c *conn) onUpstream(typ byte, cur *expect) (*expect, error) {
	switch typ {
	case 'D': // DataRow
		if cur == nil || (cur.kind != expExecute && cur.kind != expQuery) {
			return cur, desync(typ, cur)
		}
		cur.rows++
		return cur, c.onDataRow(cur)

	case 'C': // CommandComplete
		if cur == nil || (cur.kind != expExecute && cur.kind != expQuery) {
			return cur, desync(typ, cur)
		}
		body, err := c.ur.Body()
		if err != nil {
			return cur, err
		}
		tag, _ := cstring(body)
		cur.tag = tag
		cur.completed++
		if cur.plan != nil {
			cur.masked = cur.plan.tally(cur.masked)
			cur.plan = nil
		}
		if err := c.clientFrame(typ, body); err != nil {
			return cur, err
		}
		if cur.kind == expExecute {
			if cur.prep != nil {
				c.objs.applyPrepared(cur.prep, 1)
			}
			if cur.mask != nil {
				c.objs.applyLineage(cur.mask.lineage, 1)
			}
			return c.complete(cur, tag), nil
		}
		return cur, nil

	case 'I', 's': // EmptyQueryResponse, PortalSuspended
		if cur == nil || (cur.kind != expExecute && cur.kind != expQuery) {
			return cur, desync(typ, cur)
		}
		if _, err := c.ur.Forward(c.cw); err != nil {
			return cur, err
		}
		if cur.kind == expExecute {
			tag := ""
			if typ == 's' {
				tag = "suspended"
			}
			return c.complete(cur, tag), nil
		}
		return cur, nil

	case '1', '2', '3': // ParseComplete, BindComplete, CloseComplete
		want := map[byte]expKind{'1': expParse, '2': expBind, '3': expClose}[typ]
		if cur == nil || cur.kind != want {
			return cur, desync(typ, cur)
		}
		switch typ {
		case '1':
			c.objs.setStmt(cur.stmt, objOK)
		case '2':
			c.objs.setPortal(cur.portal, objOK)
		}
		if _, err := c.ur.Forward(c.cw); err != nil {
			return cur, err
		}
		return c.next(), nil

	case 't': // ParameterDescription
		if cur == nil || cur.kind != expDescribe {
			return cur, desync(typ, cur)
		}
		body, err := c.ur.Body()
		if err != nil {
			return cur, err
		}
		if cur.stmt != nil {
			var m pgproto3.ParameterDescription
			if err := m.Decode(body); err != nil {
				return cur, protoErrorf("malformed ParameterDescription from upstream: %v", err)
			}
			c.objs.setParamOIDs(cur.stmt, m.ParameterOIDs)
		}
		return cur, c.clientFrame(typ, body)

	case 'T', 'n': // RowDescription, NoData
		if cur == nil {
			return cur, desync(typ, cur)
		}
		switch cur.kind {
		case expDescribe:
			if typ == 'T' && cur.stmt != nil {
				return c.onStatementRowDesc(cur)
			}
			if _, err := c.ur.Forward(c.cw); err != nil {
				return cur, err
			}
			return c.next(), nil
		case expDescribeMask:
			return c.onMaskRowDesc(cur, typ)
		case expQuery:
			if typ == 'T' && (cur.mask != nil || cur.pv.maxRows > 0 && cur.pv.p == nil) {
				return cur, c.onQueryRowDesc(cur)
			}
			_, err := c.ur.Forward(c.cw)
			return cur, err
		}
		return cur, desync(typ, cur)

	case 'G', 'H', 'W', 'd', 'c': // COPY responses and data
		if cur == nil || (cur.kind != expExecute && cur.kind != expQuery) {
			return cur, desync(typ, cur)
		}
		if cur.mask != nil && (typ == 'H' || typ == 'd' || typ == 'c') {
			return cur, c.onCopyOut(cur, typ)
		}
		n, err := c.ur.Forward(c.cw)
		cur.bytes += int64(n)
		return cur, err

	case 'E':
		return c.onError(cur)

	case 'Z':
		return c.onReady(cur)

	case 'N':
		if cur != nil && cur.mask != nil {
			return cur, c.onMaskedNotice(cur)
		}
		_, err := c.ur.Forward(c.cw)
		return cur, err
	case 'A', 'S': // NotificationResponse, ParameterStatus
		_, err := c.ur.Forward(c.cw)
		return cur, err
	}
	return cur, protoErrorf("unexpected message %q from upstream", typ)
}

// onError handles an upstream ErrorResponse.
func (c *conn) onError(cur *expect) (*expect, error) {
	body, err := c.ur.Body()
	if err != nil {
		return cur, err
	}
	var m pgproto3.ErrorResponse
	if err := m.Decode(body); err != nil {
		return cur, protoErrorf("malformed ErrorResponse from upstream: %v", err)
	}
	if cur != nil && cur.mask != nil && scrubNotice(cur.mask, &m, &cur.counts) {
		// Re-encode the scrubbed error; body is no longer what is sent.
		if body, err = m.Encode(nil); err != nil {
			return cur, err
		}
		body = body[5:]
	}
	if cur == nil || cur.kind == expSync || m.Severity == "FATAL" || m.Severity == "PANIC" {
		// Not tied to a message: a failure at commit, or the backend
		// going away. Pass it on.
		return cur, c.clientFrame('E', body)
	}
	switch cur.kind {
	case expDenied:
		if err := writeMsg(c.cw, &c.wscratch, cur.denial); err != nil {
			return cur, err
		}
		return c.next(), nil
	case expQuery:
		cur.errMsg, cur.errCode = m.Message, m.Code
		return cur, c.clientFrame('E', body)
	}
	// An extended-protocol message failed: it is done, and the upstream
	// skips everything up to Sync (those entries are popped at Z).
	cur.errMsg, cur.errCode = m.Message, m.Code
	switch cur.kind {
	case expParse:
		c.objs.setStmt(cur.stmt, objFailed)
	case expBind:
		c.objs.setPortal(cur.portal, objFailed)
	}
	if err := c.clientFrame('E', body); err != nil {
		return cur, err
	}
	if cur.kind == expExecute {
		return c.complete(cur, ""), nil
	}
	return c.next(), nil
}

// onReady handles ReadyForQuery: entries before the Sync (or Query) it
// answers were skipped by the upstream after an error.
func (c *conn) onReady(cur *expect) (*expect, error) {
	for cur != nil && cur.kind != expSync && cur.kind != expQuery {
		switch cur.kind {
		case expParse:
			c.objs.setStmt(cur.stmt, objFailed)
		case expBind:
			c.objs.setPortal(cur.portal, objFailed)
		case expExecute:
			cur.step.End(gate.Outcome{NotRun: true, Rows: -1, Error: "not run: an earlier message of the same pipeline failed"})
		case expDenied:
			if cur.simple {
				// The upstream skipped the failing Bind that stood for a
				// refused Query (it was ignoring messages after an
				// error): the client must still get the refusal, never a
				// bare ReadyForQuery that looks like success.
				if err := writeMsg(c.cw, &c.wscratch, cur.denial); err != nil {
					return cur, err
				}
			}
		}
		cur = c.next()
	}
	if cur == nil {
		return nil, desync('Z', nil)
	}
	if cur.kind == expQuery {
		if cur.prep != nil {
			c.objs.applyPrepared(cur.prep, cur.completed)
		}
		if cur.mask != nil {
			c.objs.applyLineage(cur.mask.lineage, cur.completed)
		}
		c.endStep(cur, cur.tag)
	}
	if _, err := c.ur.Forward(c.cw); err != nil {
		return cur, err
	}
	return c.next(), nil
}

// complete ends an Execute entry's step and pops it.
func (c *conn) complete(cur *expect, tag string) *expect {
	c.endStep(cur, tag)
	return c.next()
}

func (c *conn) endStep(cur *expect, tag string) {
	if cur.step == nil {
		return
	}
	o := gate.Outcome{Tag: tag, Rows: cur.rows, Bytes: cur.bytes, Error: cur.errMsg, ErrorCode: cur.errCode, Preview: cur.pv.p}
	if n, ok := tagRows(tag); ok && cur.rows == 0 {
		o.Rows = n
	}
	if cur.plan != nil {
		cur.masked = cur.plan.tally(cur.masked)
	}
	if cur.mask != nil {
		cur.mask.m.Masker.Tally(cur.masked, &cur.counts)
		if cur.masked == nil && cur.counts.Total() > 0 {
			cur.masked = map[string]int64{}
			cur.mask.m.Masker.Tally(cur.masked, &cur.counts)
		}
	}
	o.Masked = cur.masked
	if cur.ddl && o.Error == "" && c.srv.analyzer != nil {
		if cs, ok := c.srv.analyzer.(*catalogs); ok {
			cs.invalidate(c.up.Name)
		}
	}
	cur.step.End(o)
}

// next pops the front entry and returns the new front.
func (c *conn) next() *expect {
	c.q.pop()
	return c.q.front()
}

// clientFrame writes a message whose body was read with Body to the client.
func (c *conn) clientFrame(typ byte, body []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(body)+4))
	if _, err := c.cw.Write(hdr[:]); err != nil {
		return err
	}
	_, err := c.cw.Write(body)
	return err
}

// tagRows extracts the row count of a command tag ("UPDATE 5", "INSERT 0 5",
// "SELECT 3", "COPY 10").
func tagRows(tag string) (int64, bool) {
	i := strings.LastIndexByte(tag, ' ')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(tag[i+1:], 10, 64)
	return n, err == nil
}

// errDesync: the upstream sent something the queue does not expect. The
// gateway can no longer tell which response belongs to which step, so the
// connection is closed (fail closed).
var errDesync = errors.New("lost protocol sync with the upstream")

func desync(typ byte, cur *expect) error {
	state := "nothing pending"
	if cur != nil {
		state = "waiting for response kind " + strconv.Itoa(int(cur.kind))
	}
	return &ProtocolError{Msg: errDesync.Error() + ": unexpected message " + strconv.QuoteRune(rune(typ)) + " while " + state}
}
