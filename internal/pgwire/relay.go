package pgwire

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// clientLoop reads client messages until the connection ends. Each message
// that can run something (Query, Parse, Execute, FunctionCall) is decided
// first; allowed ones are recorded write-ahead and then forwarded as their
// original bytes. Upstream writes are flushed when the client has nothing
// more buffered, so a pipeline goes upstream in one write.
func (c *conn) clientLoop() error {
	ctx := c.sess.Context()
	for {
		typ, err := c.cr.Next()
		if err != nil {
			return err
		}
		if c.skipping && typ != 'S' && typ != 'X' && typ != 'H' {
			err = c.cr.Skip()
		} else {
			err = c.dispatch(ctx, typ)
		}
		if err != nil {
			return err
		}
		if !c.cr.Buffered() {
			if err := c.uw.Flush(); err != nil {
				return err
			}
		}
	}
}

func (c *conn) dispatch(ctx context.Context, typ byte) error {
	switch typ {
	case 'S', 'H', 'c', 'X': // Sync, Flush, CopyDone, Terminate have no body
		if c.cr.Len() != 0 {
			return protoErrorf("message %q has a body of %d bytes; it has none", typ, c.cr.Len())
		}
	}
	switch typ {
	case 'Q':
		return c.onQuery(ctx)
	case 'P':
		return c.onParse(ctx)
	case 'B':
		return c.onBind()
	case 'E':
		return c.onExecute(ctx)
	case 'D':
		return c.onDescribe()
	case 'C':
		return c.onClose()
	case 'S':
		c.skipping = false
		c.batch++
		return c.forwardExpect(expect{kind: expSync})
	case 'H', 'c': // Flush, CopyDone
		_, err := c.cr.Forward(c.uw)
		return err
	case 'd', 'f': // CopyData, CopyFail of COPY FROM STDIN: forwarded as is, within the size limit
		if c.cr.Len() > c.srv.cfg.MaxMessageSize {
			return protoErrorf("message %q of %d bytes exceeds the limit of %d bytes", typ, c.cr.Len(), c.srv.cfg.MaxMessageSize)
		}
		_, err := c.cr.Forward(c.uw)
		return err
	case 'F':
		return c.onFunctionCall(ctx)
	case 'X':
		return errTerminated
	default:
		return protoErrorf("unexpected frontend message type %q", typ)
	}
}

// forwardExpect queues the response owed for the current message and
// forwards the message untouched.
func (c *conn) forwardExpect(e expect) error {
	if err := c.q.push(e); err != nil {
		return err
	}
	_, err := c.cr.Forward(c.uw)
	return err
}

// writeFrame writes a message whose body was read with Body.
func (c *conn) writeFrame(typ byte, body []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(body)+4))
	if _, err := c.uw.Write(hdr[:]); err != nil {
		return err
	}
	_, err := c.uw.Write(body)
	return err
}

// command builds the Command for statement text: classification and the
// agent's stated intent. A parse failure is returned as *parseError.
func (c *conn) command(text string) (gate.Command, error) {
	cmd := gate.Command{Text: text, Request: c.srv.cfg.Intent(text)}
	class, err := c.srv.cfg.Classifier.Classify(text, c.objs.resolve)
	if err != nil {
		return cmd, asParseError(err)
	}
	cmd.Class = *class
	return cmd, nil
}

// previewer returns a fresh preview budget for a step.
func (c *conn) previewer() previewer {
	return previewer{maxRows: c.srv.cfg.PreviewRows, maxBytes: c.srv.cfg.PreviewBytes}
}

// prepareMask computes how cmd's results are masked under the policy that
// applies to it, and sets cmd.Class.MaskedPredicates (command.masked_predicates
// in policies). nil: no masking applies. When the masking cannot be
// computed, the statement is refused (fail closed).
func (c *conn) prepareMask(ctx context.Context, cmd *gate.Command) (*maskState, error) {
	if len(c.srv.cfg.Masks) == 0 || c.srv.analyzer == nil {
		return nil, nil
	}
	policy, err := c.sess.Applicable(ctx, cmd)
	if err != nil {
		return nil, nil // Decide meets the same error and denies
	}
	m := c.srv.cfg.Masks[policy]
	if m == nil {
		return nil, nil
	}
	ms, err := c.srv.analyzer.analyze(ctx, c.up, cmd.Text, m, c.objs.resolveLineage)
	if err != nil {
		msg := "masking could not be prepared, so the statement was not run: " + err.Error()
		c.sess.Refuse(ctx, cmd, msg)
		return nil, &wireError{code: codeSystemError, msg: "gatehouse: " + msg}
	}
	cmd.Class.MaskedPredicates, cmd.Class.MaskedWrites = ms.predicates, ms.writes
	// Code whose effect the classifier cannot bound (DO, functions with
	// unknown side effects) can read protected data and say it in errors
	// and notices.
	ms.sensitive = ms.sensitive || cmd.Class.Kind == gate.KindAdmin
	if slices.Contains(cmd.Class.Statements, "COPY") {
		if ms.copy, err = sqlpg.CopyOptions(cmd.Text); err != nil {
			msg := "masking cannot rewrite this COPY: " + err.Error()
			c.sess.Refuse(ctx, cmd, msg)
			return nil, &wireError{code: codeFeatureNotSupported, msg: "gatehouse: " + msg}
		}
		for _, f := range ms.copy {
			if f.Format == "binary" {
				msg := "binary COPY output cannot be masked; use COPY ... TO STDOUT with FORMAT text or csv"
				c.sess.Refuse(ctx, cmd, msg)
				return nil, &wireError{code: codeFeatureNotSupported, msg: "gatehouse: " + msg}
			}
		}
	}
	if m.DenyUnresolved {
		for si, v := range ms.verdicts {
			for ci, col := range v {
				if col.unresolved {
					msg := fmt.Sprintf("output column %d of statement %d cannot be traced to its sources, and masking is set to deny such statements (mask.unresolved: deny); name the columns you need", ci+1, si+1)
					c.sess.Refuse(ctx, cmd, msg)
					return nil, &wireError{code: codeInsufficientPrivilege, msg: "gatehouse: " + msg}
				}
			}
		}
	}
	return ms, nil
}

// preparedChanges returns how cmd changes the session's prepared
// statements, or nil when it does not (the common case costs a tag scan).
func (c *conn) preparedChanges(cmd *gate.Command) []sqlpg.PreparedChange {
	for _, t := range cmd.Class.Statements {
		switch t {
		case "PREPARE", "DEALLOCATE", "DEALLOCATE ALL", "DISCARD ALL":
			ch, _ := c.srv.cfg.Classifier.PreparedChanges(cmd.Text)
			return ch
		}
	}
	return nil
}

func (c *conn) onQuery(ctx context.Context) error {
	body, err := c.cr.Body()
	if err != nil {
		return err
	}
	text, ok := cstring(body)
	if !ok || len(text)+1 != len(body) {
		return protoErrorf("malformed Query message")
	}
	// A simple Query destroys the unnamed statement.
	c.objs.dropStmt("")
	cmd, err := c.command(text)
	if err != nil {
		c.sess.Refuse(ctx, &cmd, err.Error())
		return c.refuse(err, true)
	}
	ms, err := c.prepareMask(ctx, &cmd)
	if err != nil {
		return c.refuse(err, true)
	}
	step, err := c.allow(ctx, &cmd, bindArgs{})
	if err != nil {
		return c.refuse(err, true)
	}
	if err := c.q.push(expect{kind: expQuery, step: step, prep: c.preparedChanges(&cmd), mask: ms, pv: c.previewer(),
		ddl: cmd.Class.Kind == gate.KindDDL}); err != nil {
		step.End(gate.Outcome{NotRun: true, Error: err.Error()})
		return err
	}
	return c.writeFrame('Q', body)
}

func (c *conn) onParse(ctx context.Context) error {
	body, err := c.cr.Body()
	if err != nil {
		return err
	}
	var m pgproto3.Parse
	if err := m.Decode(body); err != nil {
		return protoErrorf("malformed Parse message: %v", err)
	}
	cmd, err := c.command(m.Query)
	if err != nil {
		c.sess.Refuse(ctx, &cmd, err.Error())
		return c.refuse(err, false)
	}
	ms, err := c.prepareMask(ctx, &cmd)
	if err != nil {
		return c.refuse(err, false)
	}
	// Refuse early what the policy denies anyway, except a write whose
	// rules read its row estimate: that is made at Execute, with the bound
	// parameters, and deciding here without it (estimated_rows -1) could
	// refuse what the policy allows or holds for review once estimated.
	if !c.estimatedAtExecute(&cmd) {
		if _, err := c.sess.Decide(ctx, &cmd); err != nil {
			return c.refuse(err, false)
		}
	}
	p := &prepared{cmd: cmd, paramOIDs: m.ParameterOIDs, batch: c.batch, mask: ms}
	c.objs.addStmt(m.Name, p)
	if err := c.q.push(expect{kind: expParse, stmt: p}); err != nil {
		return err
	}
	return c.writeFrame('P', body)
}

func (c *conn) onBind() error {
	body, err := c.cr.Body()
	if err != nil {
		return err
	}
	var m pgproto3.Bind
	if err := m.Decode(body); err != nil {
		return protoErrorf("malformed Bind message: %v", err)
	}
	stmt, err := c.objs.resolveStmt(m.PreparedStatement, c.batch, c.uw.Flush)
	if err != nil {
		return err
	}
	if stmt == nil {
		return c.refuse(&wireError{code: codeInvalidStatementName,
			msg:  fmt.Sprintf("gatehouse: prepared statement %q is unknown to the gateway, so it cannot be bound", m.PreparedStatement),
			hint: "prepare statements with the extended protocol's Parse on this connection; statements created with SQL PREPARE run with SQL EXECUTE"}, false)
	}
	p := &portal{stmt: stmt, batch: c.batch, formats: slices.Clone(m.ResultFormatCodes)}
	c.objs.mu.Lock()
	oids := stmt.paramOIDs
	c.objs.mu.Unlock()
	p.params, p.nulls = renderParams(m.Parameters, m.ParameterFormatCodes, oids)
	if stmt.cmd.Class.Kind == gate.KindWrite {
		// Kept for impact estimates, which re-send the parameters upstream.
		p.args = bindArgs{values: cloneValues(m.Parameters), formats: slices.Clone(m.ParameterFormatCodes), oids: slices.Clone(oids)}
	}
	c.objs.addPortal(m.DestinationPortal, p)
	if err := c.q.push(expect{kind: expBind, portal: p}); err != nil {
		return err
	}
	return c.writeFrame('B', body)
}

func (c *conn) onExecute(ctx context.Context) error {
	body, err := c.cr.Body()
	if err != nil {
		return err
	}
	name, ok := cstring(body)
	if !ok || len(body) != len(name)+5 {
		return protoErrorf("malformed Execute message")
	}
	p, err := c.objs.resolvePortal(name, c.batch, c.uw.Flush)
	if err != nil {
		return err
	}
	if p == nil {
		return c.refuse(&wireError{code: "34000", msg: fmt.Sprintf("gatehouse: portal %q is unknown to the gateway, so it cannot be executed", name)}, false)
	}
	cmd := p.stmt.cmd
	cmd.Params, cmd.ParamNulls = p.params, p.nulls
	step, err := c.allow(ctx, &cmd, p.args)
	if err != nil {
		return c.refuse(err, false)
	}
	e := expect{kind: expExecute, step: step, prep: c.preparedChanges(&cmd), mask: p.stmt.mask, pv: c.previewer(),
		ddl: cmd.Class.Kind == gate.KindDDL}
	if e.mask == nil && e.pv.maxRows > 0 {
		c.objs.mu.Lock()
		rd := p.stmt.rowDesc
		c.objs.mu.Unlock()
		if rd != nil {
			e.pv.columnsFormats(rd, p.formats)
		}
	}
	if e.mask != nil {
		// Ask for the portal's exact row description (types and formats)
		// right before the Execute; the answer builds the row plan and is
		// not forwarded.
		e.exec = &execMask{}
		if err := c.q.push(expect{kind: expDescribeMask, exec: e.exec, mask: e.mask}); err != nil {
			step.End(gate.Outcome{NotRun: true, Error: err.Error()})
			return err
		}
		if err := writeMsg(c.uw, &c.uscratch, &pgproto3.Describe{ObjectType: 'P', Name: name}); err != nil {
			return err
		}
	}
	if err := c.q.push(e); err != nil {
		step.End(gate.Outcome{NotRun: true, Error: err.Error()})
		return err
	}
	return c.writeFrame('E', body)
}

func (c *conn) onDescribe() error {
	body, err := c.cr.Body()
	if err != nil {
		return err
	}
	var m pgproto3.Describe
	if err := m.Decode(body); err != nil {
		return protoErrorf("malformed Describe message: %v", err)
	}
	e := expect{kind: expDescribe}
	if m.ObjectType == 'S' {
		c.objs.mu.Lock()
		e.stmt = c.objs.stmts[m.Name]
		c.objs.mu.Unlock()
	}
	if err := c.q.push(e); err != nil {
		return err
	}
	return c.writeFrame('D', body)
}

func (c *conn) onClose() error {
	body, err := c.cr.Body()
	if err != nil {
		return err
	}
	var m pgproto3.Close
	if err := m.Decode(body); err != nil {
		return protoErrorf("malformed Close message: %v", err)
	}
	if m.ObjectType == 'S' {
		c.objs.dropStmt(m.Name)
	} else {
		c.objs.dropPortal(m.Name)
	}
	if err := c.q.push(expect{kind: expClose}); err != nil {
		return err
	}
	return c.writeFrame('C', body)
}

// onFunctionCall refuses the fast-path FunctionCall message: it calls a
// function by OID, outside any statement the gateway could classify.
func (c *conn) onFunctionCall(ctx context.Context) error {
	if err := c.cr.Skip(); err != nil {
		return err
	}
	msg := "the FunctionCall protocol message is not allowed through gatehouse; call the function in a SELECT instead"
	cmd := gate.Command{Text: "<FunctionCall message>", Class: gate.Class{Kind: gate.KindAdmin, Statements: []string{"FUNCTION CALL"}}}
	c.sess.Refuse(ctx, &cmd, msg)
	return c.refuse(&wireError{code: codeInsufficientPrivilege, msg: "gatehouse: " + msg}, true)
}

// refuse answers the current message with an error without running it. So
// that the upstream's state matches what a real refusal would leave (the
// implicit transaction rolled back, an explicit one aborted, the rest of an
// extended-protocol batch skipped), it sends the upstream a Bind of a
// statement that cannot exist; the upstream's error for it is replaced by
// this one on the way back. For a simple query (simple=true) a Sync follows,
// whose ReadyForQuery ends the client's query; otherwise the client loop
// discards messages until the client's own Sync, as the server would.
func (c *conn) refuse(cause error, simple bool) error {
	if errors.Is(cause, gate.ErrTokenExpired) || errors.Is(cause, errClientGone) {
		return cause
	}
	resp := errorResponse(cause, false)
	if err := c.q.push(expect{kind: expDenied, denial: resp, simple: simple}); err != nil {
		return err
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	bind := &pgproto3.Bind{PreparedStatement: "gatehouse_refused_" + hex.EncodeToString(nonce[:])}
	if err := writeMsg(c.uw, &c.uscratch, bind); err != nil {
		return err
	}
	if simple {
		if err := c.q.push(expect{kind: expSync}); err != nil {
			return err
		}
		return writeMsg(c.uw, &c.uscratch, &pgproto3.Sync{})
	}
	c.skipping = true
	return nil
}

// cloneValues deep-copies bind values, which alias the read buffer.
func cloneValues(v [][]byte) [][]byte {
	out := make([][]byte, len(v))
	for i, b := range v {
		if b != nil {
			out[i] = slices.Clone(b)
		}
	}
	return out
}

// cstring returns the NUL-terminated string at the start of b.
func cstring(b []byte) (string, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", false
	}
	return string(b[:i]), true
}

func asParseError(err error) error {
	pe := &parseError{msg: err.Error()}
	var se *sqlpg.ParseError
	if errors.As(err, &se) {
		pe.msg, pe.pos = se.Message, int32(se.Cursor)
	}
	return pe
}
