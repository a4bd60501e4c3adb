package pgwire

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Upstream is a PostgreSQL server behind a named connection, reached with
// the gateway's own credentials. Clients never see Password.
type Upstream struct {
	Name     string
	Address  string // host:port
	Database string
	User     string
	Password string
	// TLS is disable, prefer, require or verify-full (with CAFile).
	TLS            string
	CAFile         string
	ConnectTimeout time.Duration // default 10 s
	// DryRun makes impact estimates run the statement in a transaction
	// that is always rolled back, for an exact row count.
	DryRun bool

	base *pgconn.Config
}

func (u *Upstream) init() error {
	host, port, err := net.SplitHostPort(u.Address)
	if err != nil {
		return fmt.Errorf("address %q: want host:port", u.Address)
	}
	mode := u.TLS
	if mode == "" {
		mode = "prefer"
	}
	switch mode {
	case "disable", "prefer", "require", "verify-full":
	default:
		return fmt.Errorf("tls %q: want disable, prefer, require or verify-full", u.TLS)
	}
	if mode == "verify-full" && u.CAFile == "" {
		return fmt.Errorf("tls verify-full needs ca_file")
	}
	if u.ConnectTimeout == 0 {
		u.ConnectTimeout = 10 * time.Second
	}
	dsn := []string{
		"host=" + quoteDSN(host), "port=" + quoteDSN(port), "dbname=" + quoteDSN(u.Database),
		"user=" + quoteDSN(u.User), "sslmode=" + mode,
		// A keyword/value string with every field set, so that PG*
		// environment variables of the gateway process cannot change it.
		"sslcert=''", "sslkey=''", "target_session_attrs=any",
	}
	if u.CAFile != "" {
		dsn = append(dsn, "sslrootcert="+quoteDSN(u.CAFile))
	}
	cfg, err := pgconn.ParseConfig(strings.Join(dsn, " "))
	if err != nil {
		return err
	}
	cfg.Password = u.Password // fallbacks (sslmode=prefer) share it
	cfg.RuntimeParams = map[string]string{}
	cfg.ConnectTimeout = u.ConnectTimeout
	u.base = cfg
	return nil
}

func quoteDSN(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// upstreamConn is an authenticated upstream connection taken over from
// pgconn after start-up.
type upstreamConn struct {
	nc        net.Conn
	pid       uint32
	secretKey []byte
	params    map[string]string
	txStatus  byte
}

// dial connects and authenticates to the upstream with the gateway's
// credentials, passing the client's vetted run-time parameters.
func (u *Upstream) dial(ctx context.Context, params map[string]string) (*upstreamConn, error) {
	cfg := u.base.Copy()
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if v := pc.ParameterStatus("standard_conforming_strings"); v != "on" {
		pc.Close(ctx)
		return nil, fmt.Errorf("upstream reports standard_conforming_strings=%q; gatehouse classifies statements as the server parses them only with standard_conforming_strings=on", v)
	}
	if enc := pc.ParameterStatus("client_encoding"); enc != "UTF8" {
		pc.Close(ctx)
		return nil, fmt.Errorf("upstream client_encoding is %q; gatehouse requires UTF8", enc)
	}
	// pgx may still have a read in flight after connecting: SyncConn waits
	// for it, or it would consume the first bytes the server sends after
	// the hijack (the answer to the client's first statement).
	if err := pc.SyncConn(ctx); err != nil {
		pc.Close(ctx)
		return nil, err
	}
	hc, err := pc.Hijack()
	if err != nil {
		pc.Close(ctx)
		return nil, err
	}
	return &upstreamConn{nc: hc.Conn, pid: hc.PID, secretKey: hc.SecretKey, params: hc.ParameterStatuses, txStatus: hc.TxStatus}, nil
}

// sendCancel asks the upstream to cancel the query running on the backend
// identified by pid and key, on a new plain connection as the protocol
// requires.
func (u *Upstream) sendCancel(ctx context.Context, pid uint32, key []byte) error {
	d := net.Dialer{Timeout: u.ConnectTimeout}
	nc, err := d.DialContext(ctx, "tcp", u.Address)
	if err != nil {
		return err
	}
	defer nc.Close()
	msg := binary.BigEndian.AppendUint32(nil, uint32(12+len(key)))
	msg = binary.BigEndian.AppendUint32(msg, cancelRequestCode)
	msg = binary.BigEndian.AppendUint32(msg, pid)
	msg = append(msg, key...)
	if _, err := nc.Write(msg); err != nil {
		return err
	}
	// The server closes the connection once it has read the request.
	_ = nc.SetReadDeadline(time.Now().Add(u.ConnectTimeout))
	var b [1]byte
	_, _ = nc.Read(b[:])
	return nil
}
