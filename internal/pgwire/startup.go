package pgwire

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
)

const (
	maxStartupPacket  = 10000 // PostgreSQL's MAX_STARTUP_PACKET_LENGTH
	maxPasswordLen    = 64 << 10
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
	cancelRequestCode = 80877102
)

// errCancelDone ends a connection that only carried a CancelRequest.
var errCancelDone = errors.New("cancel request handled")

// startupParams is what the client asked for in its StartupMessage.
type startupParams struct {
	user     string
	database string
	runtime  map[string]string // vetted parameters passed upstream
}

// startup runs the start-up phase: SSL/GSS negotiation, the StartupMessage,
// routing, the token exchange, opening the session and the upstream
// connection. On success the client has received AuthenticationOk,
// ParameterStatus, BackendKeyData and ReadyForQuery.
func (c *conn) startup(ctx context.Context) error {
	sp, err := c.negotiate(ctx)
	if err != nil {
		return err
	}
	// TLS first: a plaintext client off loopback learns nothing, not even
	// which connection names exist.
	if !c.tls && !isLoopback(c.nc.RemoteAddr()) {
		return fatalf(codeInvalidAuthorization, "gatehouse: TLS is required for clients that are not on loopback, because the password is a bearer token",
			"connect with sslmode=require")
	}
	up := c.srv.cfg.Upstreams[sp.database]
	if up == nil {
		return fatalf(codeInvalidCatalogName, fmt.Sprintf("gatehouse: no connection named %q", sp.database),
			"the database name in the connection string selects a gatehouse connection; ask the operator for its name")
	}
	token, err := c.readPassword()
	if err != nil {
		return err
	}
	sess, err := c.srv.cfg.Gate.Open(ctx, gate.OpenRequest{
		Token: token, Target: gate.Target{Name: up.Name, Kind: "postgres"},
		ClientAddr: c.nc.RemoteAddr().String(), User: sp.user, Protocol: "postgres",
	})
	if err != nil {
		if !errors.Is(err, gate.ErrUnauthenticated) && !errors.Is(err, gate.ErrAuditUnavailable) {
			err = fmt.Errorf("opening session: %w", err)
		}
		return asFatal(err)
	}
	c.sess = sess
	uc, err := up.dial(ctx, sp.runtime)
	if err != nil {
		c.closeReason = "upstream unavailable"
		return fatalf(codeCannotConnect, fmt.Sprintf("gatehouse: cannot connect to the database of connection %q: %v", up.Name, err), "")
	}
	c.up, c.uc = up, uc
	c.pid = c.srv.cancel.add(&cancelTarget{upstream: up, pid: uc.pid, key: uc.secretKey})
	return c.greet()
}

// negotiate reads start-up packets until a StartupMessage, answering
// SSLRequest (TLS when configured), GSSENCRequest (always N) and serving a
// CancelRequest.
func (c *conn) negotiate(ctx context.Context) (startupParams, error) {
	for {
		code, body, err := readStartupPacket(c.cr)
		if err != nil {
			return startupParams{}, err
		}
		switch code {
		case sslRequestCode:
			if c.tls {
				return startupParams{}, protoErrorf("SSLRequest received on an encrypted connection")
			}
			if c.srv.cfg.TLS == nil {
				if err := c.writeRaw([]byte{'N'}); err != nil {
					return startupParams{}, err
				}
				continue
			}
			if c.cr.Buffered() {
				// Bytes sent before the handshake would be trusted as if
				// encrypted (CVE-2021-23214): refuse.
				return startupParams{}, protoErrorf("data received after SSLRequest before the TLS handshake")
			}
			if err := c.writeRaw([]byte{'S'}); err != nil {
				return startupParams{}, err
			}
			tc := tls.Server(c.nc, c.srv.cfg.TLS)
			if err := tc.HandshakeContext(ctx); err != nil {
				return startupParams{}, fmt.Errorf("TLS handshake: %w", err)
			}
			c.setClient(tc)
			c.tls = true
		case gssEncRequestCode:
			if err := c.writeRaw([]byte{'N'}); err != nil {
				return startupParams{}, err
			}
		case cancelRequestCode:
			c.serveCancel(ctx, body)
			return startupParams{}, errCancelDone
		default:
			if code>>16 != 3 {
				return startupParams{}, protoErrorf("unsupported frontend protocol %d.%d: gatehouse speaks 3.0", code>>16, code&0xffff)
			}
			return c.startupMessage(code, body)
		}
	}
}

// startupMessage parses and vets the parameters of a StartupMessage.
func (c *conn) startupMessage(version uint32, body []byte) (startupParams, error) {
	params, err := parseStartupParams(body)
	if err != nil {
		return startupParams{}, err
	}
	var unrecognized []string
	sp := startupParams{runtime: map[string]string{}}
	for _, kv := range params {
		k, v := kv[0], kv[1]
		switch {
		case k == "user":
			sp.user = v
		case k == "database":
			sp.database = v
		case strings.HasPrefix(k, "_pq_."):
			unrecognized = append(unrecognized, k)
		case k == "replication":
			return sp, fatalf(codeFeatureNotSupported, "gatehouse: replication connections are not allowed", "")
		case k == "options":
			return sp, fatalf(codeInsufficientPrivilege, "gatehouse: the \"options\" startup parameter is not allowed (it sets server options before any policy applies)",
				"set session settings with SET after connecting")
		default:
			if kind := c.srv.cfg.Classifier.ParamKind(k, v); kind != gate.KindSession && kind != gate.KindRead {
				return sp, fatalf(codeInsufficientPrivilege, fmt.Sprintf("gatehouse: startup parameter %q is not allowed: setting it is classified %s, and only session settings may be sent at start-up", k, kind), "")
			}
			sp.runtime[k] = v
		}
	}
	if sp.user == "" {
		return sp, fatalf(codeInvalidAuthorization, "gatehouse: no user name specified in the startup packet", "")
	}
	if sp.database == "" {
		sp.database = sp.user
	}
	if version&0xffff != 0 || len(unrecognized) > 0 {
		if err := c.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unrecognized}); err != nil {
			return sp, err
		}
	}
	return sp, nil
}

// readPassword asks for a cleartext password, which carries the token.
func (c *conn) readPassword() (string, error) {
	if err := c.send(&pgproto3.AuthenticationCleartextPassword{}); err != nil {
		return "", err
	}
	typ, err := c.cr.Next()
	if err != nil {
		return "", err
	}
	if typ != 'p' {
		return "", protoErrorf("expected a password message, got %q", typ)
	}
	if c.cr.Len() > maxPasswordLen {
		return "", &gate.AuthError{Reason: "too_large", Detail: fmt.Sprintf("the password (token) is longer than %d bytes", maxPasswordLen)}
	}
	body, err := c.cr.Body()
	if err != nil {
		return "", err
	}
	tok, ok := bytes.CutSuffix(body, []byte{0})
	if !ok || bytes.IndexByte(tok, 0) >= 0 {
		return "", protoErrorf("malformed password message")
	}
	return string(tok), nil
}

// greet completes start-up towards the client.
func (c *conn) greet() error {
	keys := make([]string, 0, len(c.uc.params))
	for k := range c.uc.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := writeMsg(c.cw, &c.wscratch, &pgproto3.AuthenticationOk{}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := writeMsg(c.cw, &c.wscratch, &pgproto3.ParameterStatus{Name: k, Value: c.uc.params[k]}); err != nil {
			return err
		}
	}
	t := c.srv.cancel.lookupByPID(c.pid)
	if err := writeMsg(c.cw, &c.wscratch, &pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: t.secret[:]}); err != nil {
		return err
	}
	if err := writeMsg(c.cw, &c.wscratch, &pgproto3.ReadyForQuery{TxStatus: c.uc.txStatus}); err != nil {
		return err
	}
	return c.cw.Flush()
}

// serveCancel forwards a CancelRequest to the upstream backend it names,
// or ends the wait of a statement held for approval (which is not running
// upstream). Unknown keys are ignored silently, as PostgreSQL does.
func (c *conn) serveCancel(ctx context.Context, body []byte) {
	var m pgproto3.CancelRequest
	full := binary.BigEndian.AppendUint32(nil, cancelRequestCode)
	if err := m.Decode(append(full, body...)); err != nil {
		return
	}
	if c.srv.applyCancel(ctx, m.ProcessID, m.SecretKey) || c.srv.cfg.CancelRelay == nil {
		return
	}
	// Not a key of this process: another replica may have issued it.
	key := binary.BigEndian.AppendUint32(nil, m.ProcessID)
	if err := c.srv.cfg.CancelRelay.PublishCancel(ctx, append(key, m.SecretKey...)); err != nil {
		c.srv.log.Warn("relaying a cancel request to the other replicas failed", "err", err)
	}
}

// readStartupPacket reads one untyped start-up packet: its request code and
// the rest of its body.
func readStartupPacket(f *frameReader) (uint32, []byte, error) {
	hdr, err := f.br.Peek(4)
	if err != nil {
		return 0, nil, unexpected(err)
	}
	n := int(binary.BigEndian.Uint32(hdr))
	if n < 8 || n > maxStartupPacket {
		return 0, nil, protoErrorf("invalid start-up packet length %d", n)
	}
	if _, err := f.br.Discard(4); err != nil {
		return 0, nil, err
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(f.br, body); err != nil {
		return 0, nil, unexpected(err)
	}
	return binary.BigEndian.Uint32(body), body[4:], nil
}

// parseStartupParams decodes the NUL-terminated name/value pairs of a
// StartupMessage body (after the version), in order.
func parseStartupParams(b []byte) ([][2]string, error) {
	var out [][2]string
	seen := map[string]bool{}
	for {
		if len(b) == 0 {
			return nil, protoErrorf("start-up packet is not terminated")
		}
		if b[0] == 0 {
			if len(b) != 1 {
				return nil, protoErrorf("unexpected data after start-up parameters")
			}
			return out, nil
		}
		k, rest, ok := bytes.Cut(b, []byte{0})
		if !ok {
			return nil, protoErrorf("start-up parameter name is not terminated")
		}
		v, rest, ok := bytes.Cut(rest, []byte{0})
		if !ok {
			return nil, protoErrorf("start-up parameter %q has no value", k)
		}
		if seen[string(k)] {
			return nil, protoErrorf("start-up parameter %q given twice", k)
		}
		seen[string(k)] = true
		out = append(out, [2]string{string(k), string(v)})
		b = rest
	}
}

func isLoopback(a net.Addr) bool {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	_, isUnix := a.(*net.UnixAddr)
	return isUnix
}

// asFatal marks an error as ending the connection.
func asFatal(err error) error {
	var w *wireError
	if errors.As(err, &w) {
		w.fatal = true
		return w
	}
	e := errorResponse(err, true)
	return &wireError{code: e.Code, msg: e.Message, hint: e.Hint, fatal: true}
}
