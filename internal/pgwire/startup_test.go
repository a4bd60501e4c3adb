package pgwire

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func connectErr(t *testing.T, dsn string) *pgconn.PgError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err == nil {
		c.Close(ctx)
		t.Fatal("connection accepted")
	}
	return pgErr(t, err)
}

func TestStartupRefusals(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, dsn, code, msg string
	}{
		{"wrong token", h.dsn("nope"), "28000", "authentication failed: unknown test token"},
		{"expired token", h.dsn(tokenExpired), "28000", "token expired at"},
		{"no token", strings.Replace(h.dsn(""), "password= ", "", 1), "28000", "no token"},
		{"unknown database", strings.Replace(h.dsn(tokenAgent), "dbname=shop", "dbname=payroll", 1), "3D000", `no connection named "payroll"`},
		{"options parameter", h.dsn(tokenAgent, "options='-c role=postgres'"), "42501", `"options" startup parameter is not allowed`},
		{"admin setting in startup", h.dsn(tokenAgent, "search_path=evil"), "42501", `startup parameter "search_path" is not allowed`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pe := connectErr(t, tc.dsn)
			if pe.Code != tc.code || !strings.Contains(pe.Message, tc.msg) || pe.Severity != "FATAL" {
				t.Fatalf("got %s %s %q", pe.Severity, pe.Code, pe.Message)
			}
		})
	}
	// Failed authentications are evidence too.
	n := 0
	for _, e := range h.rec.Events() {
		if e.Kind == gate.EventAuthFailure {
			n++
		}
	}
	if n < 3 {
		t.Fatalf("auth failures recorded: %d", n)
	}
}

func TestReplicationRefused(t *testing.T) {
	h := newHarness(t)
	pe := connectErr(t, h.dsn(tokenAgent, "replication=database"))
	if pe.Code != "0A000" || !strings.Contains(pe.Message, "replication") {
		t.Fatalf("%s %s", pe.Code, pe.Message)
	}
}

func TestTLS(t *testing.T) {
	certs, err := testenv.WriteCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certs.CertFile, certs.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config, _ *gate.Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	dsn := strings.Replace(h.dsn(tokenAgent), "sslmode=disable", "sslmode=verify-full sslrootcert="+certs.CAFile, 1)
	c := connect(t, dsn)
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d %v", n, err)
	}
	if !c.PgConn().Conn().(*tls.Conn).ConnectionState().HandshakeComplete {
		t.Fatal("not TLS")
	}
}

// A client that is not on loopback must use TLS: its password is a token.
func TestPlaintextRefusedOffLoopback(t *testing.T) {
	ip := nonLoopbackIP(t)
	h := newHarness(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	go h.srv.Serve(ln)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	dsn := strings.Replace(h.dsn(tokenAgent), "host=127.0.0.1", "host="+ip, 1)
	dsn = strings.Replace(dsn, "port="+portOf(h.addr), "port="+port, 1)
	pe := connectErr(t, dsn)
	if pe.Code != "28000" || !strings.Contains(pe.Message, "TLS is required") {
		t.Fatalf("%s %s", pe.Code, pe.Message)
	}
}

func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return ""
}

func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// rawConn opens a TCP connection to the gateway speaking the protocol by
// hand with pgproto3, authenticated with token.
func rawConn(t *testing.T, h *harness, token string) (*pgproto3.Frontend, net.Conn) {
	t.Helper()
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "raw", "database": "shop"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, fe); !isType[*pgproto3.AuthenticationCleartextPassword](m) {
		t.Fatalf("want cleartext password request, got %T", m)
	}
	fe.Send(&pgproto3.PasswordMessage{Password: token})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		m := receive(t, fe)
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("start-up failed: %s", e.Message)
		}
		if isType[*pgproto3.ReadyForQuery](m) {
			return fe, nc
		}
	}
}

func receive(t *testing.T, fe *pgproto3.Frontend) pgproto3.BackendMessage {
	t.Helper()
	m, err := fe.Receive()
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

func isType[T any](m any) bool { _, ok := m.(T); return ok }

// expectError reads until an ErrorResponse and returns it.
func expectError(t *testing.T, fe *pgproto3.Frontend) *pgproto3.ErrorResponse {
	t.Helper()
	for {
		m := receive(t, fe)
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			c := *e
			return &c
		}
		if isType[*pgproto3.ReadyForQuery](m) {
			t.Fatal("ReadyForQuery before the expected error")
		}
	}
}

func expectReady(t *testing.T, fe *pgproto3.Frontend) {
	t.Helper()
	for !isType[*pgproto3.ReadyForQuery](receive(t, fe)) {
	}
}

func TestBindOfUnknownStatementRefused(t *testing.T) {
	h := newHarness(t)
	fe, _ := rawConn(t, h, tokenAgent)
	fe.Send(&pgproto3.Bind{PreparedStatement: "made_elsewhere"})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	fe.Flush()
	e := expectError(t, fe)
	if e.Code != "26000" || !strings.Contains(e.Message, `"made_elsewhere" is unknown to the gateway`) {
		t.Fatalf("%s %s", e.Code, e.Message)
	}
	expectReady(t, fe)
}

// A statement prepared with SQL PREPARE cannot be run with Bind, because the
// gateway decides Binds by the Parse it saw.
func TestSQLPreparedStatementNotBindable(t *testing.T) {
	h := newHarness(t)
	fe, _ := rawConn(t, h, tokenAgent)
	fe.Send(&pgproto3.Query{String: "SELECT 1"})
	fe.Flush()
	expectReady(t, fe)
	fe.Send(&pgproto3.Bind{PreparedStatement: "s1"})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	fe.Flush()
	if e := expectError(t, fe); e.Code != "26000" {
		t.Fatalf("%s %s", e.Code, e.Message)
	}
	expectReady(t, fe)
}

func TestFunctionCallRefused(t *testing.T) {
	h := newHarness(t)
	fe, _ := rawConn(t, h, tokenAgent)
	fe.Send(&pgproto3.FunctionCall{Function: 2171 /* pg_cancel_backend */, Arguments: [][]byte{{0, 0, 0, 1}}, ArgFormatCodes: []uint16{1}})
	fe.Flush()
	e := expectError(t, fe)
	if e.Code != "42501" || !strings.Contains(e.Message, "FunctionCall protocol message is not allowed") {
		t.Fatalf("%s %s", e.Code, e.Message)
	}
	expectReady(t, fe)
	fe.Send(&pgproto3.Query{String: "SELECT 1"})
	fe.Flush()
	expectReady(t, fe)
}

// Malformed input closes the connection with a protocol error; it never
// hangs or crashes the gateway.
func TestMalformedMessagesCloseConnection(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *gate.Config) { c.MaxMessageSize = 1 << 16 })
	cases := map[string][]byte{
		"bad type":          {'Z', 0, 0, 0, 4},
		"negative length":   {'Q', 0, 0, 0, 2},
		"oversized query":   append([]byte{'Q', 0, 2, 0, 0}, make([]byte, 100)...),
		"query without NUL": {'Q', 0, 0, 0, 7, 'a', 'b', 'c'},
		"parse truncated":   {'P', 0, 0, 0, 6, 'x', 0},
		"type zero":         {0, 0, 0, 0, 4},
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			_, nc := rawConn(t, h, tokenAgent)
			if _, err := nc.Write(frame); err != nil {
				t.Fatal(err)
			}
			fe := pgproto3.NewFrontend(nc, nc)
			e := expectError(t, fe)
			if e.Code != "08P01" || e.Severity != "FATAL" {
				t.Fatalf("%s %s %s", e.Severity, e.Code, e.Message)
			}
			if _, err := fe.Receive(); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isClosed(err) {
				t.Fatalf("connection not closed: %v", err)
			}
		})
	}
	// Garbage before start-up.
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:], 1<<30)
	nc.Write(hdr[:])
	fe := pgproto3.NewFrontend(nc, nc)
	if e := expectError(t, fe); e.Code != "08P01" {
		t.Fatalf("%s %s", e.Code, e.Message)
	}
}

func isClosed(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

func TestTokenExpiryEndsSession(t *testing.T) {
	h := newHarness(t)
	c := connect(t, h.dsn(tokenAgent))
	mustExec(t, c, "SELECT 1")
	h.clock.Advance(time.Hour + time.Second)
	_, err := c.Exec(context.Background(), "SELECT 1")
	if err == nil {
		t.Fatal("session outlived its token")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Severity != "FATAL" || !strings.Contains(pe.Message, "token expired")) {
		t.Fatalf("got %s %s", pe.Severity, pe.Message)
	}
	ev, ok := h.rec.WaitFor(5*time.Second, func(ev []gate.Event) bool {
		return len(ev) > 0 && ev[len(ev)-1].Kind == gate.EventSessionClose
	})
	if !ok || ev[len(ev)-1].Reason != "token expired" {
		t.Fatalf("close reason: %+v", ev[len(ev)-1])
	}
}

func TestShutdownClosesIdleSessions(t *testing.T) {
	h := newHarness(t)
	fe, _ := rawConn(t, h, tokenAgent)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	e := expectError(t, fe)
	if e.Code != "57P01" || !strings.Contains(e.Message, "shutting down") {
		t.Fatalf("%s %s", e.Code, e.Message)
	}
}

// Shutdown lets a running statement finish before closing its session.
func TestShutdownWaitsForRunningStatement(t *testing.T) {
	h := newHarness(t)
	fe, _ := rawConn(t, h, tokenAgent)
	fe.Send(&pgproto3.Query{String: "SELECT pg_sleep(0.5), 42"})
	fe.Flush()
	admin := connect(t, h.pg.SuperDSN())
	for {
		var n int
		admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(0.5)%' AND state = 'active'").Scan(&n)
		if n == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go h.srv.Shutdown(ctx)
	var got []string
	for {
		m := receive(t, fe)
		switch m := m.(type) {
		case *pgproto3.DataRow:
			got = append(got, string(m.Values[1]))
		case *pgproto3.ErrorResponse:
			if m.Code != "57P01" {
				t.Fatalf("%s %s", m.Code, m.Message)
			}
			if len(got) != 1 || got[0] != "42" {
				t.Fatalf("the running statement did not complete: %v", got)
			}
			return
		}
	}
}

func TestPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed")
	}
	h := newHarness(t)
	host, port, _ := net.SplitHostPort(h.addr)
	run := func(sql string) (string, error) {
		cmd := exec.Command(psql, "-X", "-At", "-v", "ON_ERROR_STOP=1", "host="+host+" port="+port+" dbname=shop user=agent sslmode=disable", "-c", sql)
		cmd.Env = append(cmd.Environ(), "PGPASSWORD="+tokenAgent)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("select count(*) from items")
	if err != nil || strings.TrimSpace(out) != "3" {
		t.Fatalf("psql: %q %v", out, err)
	}
	out, err = run("drop table items")
	if err == nil || !strings.Contains(out, "gatehouse: denied by rule test/kinds") {
		t.Fatalf("psql drop: %q %v", out, err)
	}
}
