package pgwire

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

const (
	clientBufSize   = 32 << 10
	upstreamBufSize = 64 << 10
)

// errTerminated: the client sent Terminate.
var errTerminated = errors.New("client terminated the session")

// conn is one client connection and, once started, its upstream
// connection. Two goroutines serve it: the client loop (serve's goroutine)
// reads client messages, decides them and writes upstream; the upstream
// loop reads upstream messages and writes them to the client. They share
// the response queue q and the objects view; client writes are serialized
// by wmu because the upstream loop, start-up and out-of-band notices
// (session expiry, shutdown) all write to the client.
type conn struct {
	srv *Server

	nc  net.Conn
	cr  *frameReader
	tls bool

	wmu      sync.Mutex
	cw       *bufio.Writer
	wscratch []byte

	sess *gate.Session
	up   *Upstream
	uc   *upstreamConn
	ur   *frameReader
	uw   *bufio.Writer
	pid  uint32

	q        queue
	objs     *objects
	batch    uint64 // client loop: incremented at each Sync
	skipping bool   // client loop: discarding until Sync after a refusal
	uscratch []byte // client loop's encode buffer
	rowBuf   []byte // upstream loop: a rewritten DataRow
	valBuf   []byte // upstream loop: one masked value

	closeOnce   sync.Once
	closeErr    error
	closeReason string
	draining    atomic.Bool
	closed      atomic.Bool
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, objs: newObjects()}
	c.setClient(nc)
	return c
}

func (c *conn) setClient(nc net.Conn) {
	c.nc = nc
	c.cr = newFrameReader(nc, clientBufSize, c.srv.cfg.MaxMessageSize)
	c.cw = bufio.NewWriterSize(nc, clientBufSize)
}

// serve runs the connection to its end.
func (c *conn) serve() {
	defer c.nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.StartupTimeout)
	_ = c.nc.SetDeadline(time.Now().Add(c.srv.cfg.StartupTimeout))
	err := c.startup(ctx)
	cancel()
	if err != nil {
		c.endStartup(err)
		return
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.ur = newFrameReader(c.uc.nc, upstreamBufSize, c.srv.cfg.MaxMessageSize)
	c.uw = bufio.NewWriterSize(c.uc.nc, clientBufSize)

	stop := context.AfterFunc(c.sess.Context(), func() { c.abort(context.Cause(c.sess.Context())) })
	defer stop()
	if c.srv.isDraining() {
		c.drain()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.shutdown(c.upstreamLoop())
	}()
	c.shutdown(c.clientLoop())
	<-done
	c.finish()
}

// endStartup reports a start-up failure to the client and cleans up.
func (c *conn) endStartup(err error) {
	if errors.Is(err, errCancelDone) {
		return
	}
	reason := err.Error()
	if !isNetErr(err) {
		c.wmu.Lock()
		_ = writeMsg(c.cw, &c.wscratch, errorResponse(asFatal(err), true))
		_ = c.cw.Flush()
		c.wmu.Unlock()
	}
	if c.uc != nil {
		c.uc.nc.Close()
	}
	if c.sess != nil {
		if c.closeReason != "" {
			reason = c.closeReason + ": " + reason
		}
		c.sess.Close("start-up failed: " + reason)
	}
	c.srv.log.Info("postgres connection refused", "client", c.nc.RemoteAddr().String(), "err", reason)
}

// shutdown ends both directions once; the first error is the reason. It
// tells the client why with a FATAL when the reason is the gateway's.
func (c *conn) shutdown(err error) {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.closeErr = err
		if err != nil && !isNetErr(err) && !errors.Is(err, errTerminated) && !errors.Is(err, errClientGone) {
			c.wmu.Lock()
			_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			_ = writeMsg(c.cw, &c.wscratch, errorResponse(err, true))
			_ = c.cw.Flush()
			c.wmu.Unlock()
		}
		if errors.Is(err, errTerminated) && c.uw != nil {
			// Let the upstream end the backend cleanly.
			_, _ = c.uc.nc.Write([]byte{'X', 0, 0, 0, 4})
		}
		c.nc.Close()
		c.uc.nc.Close()
		c.objs.close()
	})
}

// abort ends the connection from outside the two loops (token expiry,
// forced shutdown). Writes to the client are bounded by a deadline so a
// client that does not read cannot hold the upstream loop's lock forever.
func (c *conn) abort(err error) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.shutdown(err)
}

// drain asks the connection to end after its running statements: at once
// if it is idle, else at the next ReadyForQuery with an empty queue.
func (c *conn) drain() {
	c.draining.Store(true)
	if c.uc == nil {
		return // still starting up; serve checks isDraining afterwards
	}
	if c.q.drain() {
		c.abort(gate.ErrShuttingDown)
	}
}

// finish records the end of the session and releases its resources.
func (c *conn) finish() {
	c.srv.cancel.remove(c.pid)
	// Steps still queued never completed.
	for e := c.q.front(); e != nil; e = c.q.front() {
		if e.step != nil {
			e.step.End(gate.Outcome{Rows: e.rows, NotRun: e.rows == 0 && e.tag == "", Error: "connection closed before the statement completed"})
		}
		c.q.pop()
	}
	reason := "client disconnected"
	switch err := c.closeErr; {
	case errors.Is(err, errTerminated):
		reason = "client terminated"
	case errors.Is(err, gate.ErrTokenExpired):
		reason = "token expired"
	case errors.Is(err, gate.ErrShuttingDown):
		reason = "gateway shutdown"
	case errors.Is(err, errClientGone):
		reason = err.Error()
	case errors.Is(err, errUpstreamClosed):
		reason = "upstream closed the connection"
	case err != nil && !isNetErr(err):
		reason = err.Error()
	}
	c.sess.Close(reason)
}

var errUpstreamClosed = errors.New("upstream closed the connection")

func isNetErr(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// send writes one message to the client and flushes.
func (c *conn) send(m encoder) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := writeMsg(c.cw, &c.wscratch, m); err != nil {
		return err
	}
	return c.cw.Flush()
}

// writeRaw writes bytes to the client and flushes (start-up answers).
func (c *conn) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.cw.Write(b); err != nil {
		return err
	}
	return c.cw.Flush()
}
