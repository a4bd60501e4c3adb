package tempdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions tunes a server started by StartPostgres.
type PostgresOptions struct {
	// MaxConnections sets max_connections (default 300).
	MaxConnections int
	// Settings are extra postgresql.conf lines ("key = value").
	Settings []string
}

// Postgres is a running throwaway PostgreSQL server. Host is 127.0.0.1;
// password authentication is SCRAM-SHA-256 for TCP and socket connections;
// TLS is on with a certificate for 127.0.0.1/localhost signed by CAFile.
type Postgres struct {
	Host          string
	Port          int
	SocketDir     string
	SuperUser     string
	SuperPassword string
	// CAFile verifies the server certificate (sslmode=verify-full works
	// against host 127.0.0.1 or localhost).
	CAFile string
	// BinDir holds initdb, pg_ctl, psql...
	BinDir string

	dir     string
	cred    *syscall.Credential
	stopped bool
	mu      sync.Mutex
}

// PostgresBinDir finds the server binaries: the newest
// /usr/lib/postgresql/*/bin with initdb, else initdb on PATH. The error
// names the Debian package to install.
func PostgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	if len(dirs) > 0 {
		return filepath.Dir(dirs[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package \"postgresql\" (apt-get install postgresql)")
}

func versionOf(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// StartPostgres creates a cluster in a new temporary directory and starts
// it. Stop removes everything.
func StartPostgres(opts PostgresOptions) (*Postgres, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 300
	}
	p := &Postgres{Host: "127.0.0.1", SuperUser: "postgres", SuperPassword: RandomHex(12), BinDir: bin}
	if os.Geteuid() == 0 {
		if p.cred, err = postgresCredential(); err != nil {
			return nil, err
		}
	}
	if p.dir, err = os.MkdirTemp("", "gatehouse-pg-"); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			p.Stop()
		}
	}()
	data := filepath.Join(p.dir, "data")
	p.SocketDir = p.dir
	pwfile := filepath.Join(p.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.SuperPassword+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := p.chownAll(); err != nil {
		return nil, err
	}
	if out, err := p.run(filepath.Join(bin, "initdb"), "-D", data, "-U", p.SuperUser, "--pwfile", pwfile,
		"--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if p.CAFile, err = writeServerCert(p.dir); err != nil {
		return nil, err
	}
	if p.Port, err = freePort(); err != nil {
		return nil, err
	}
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(p.Port),
		"unix_socket_directories = '" + p.dir + "'",
		"max_connections = " + strconv.Itoa(opts.MaxConnections),
		"ssl = on",
		"ssl_cert_file = '" + filepath.Join(p.dir, "server.crt") + "'",
		"ssl_key_file = '" + filepath.Join(p.dir, "server.key") + "'",
		"fsync = off", "synchronous_commit = off", "full_page_writes = off",
		"shared_buffers = 64MB",
	}
	conf = append(conf, opts.Settings...)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString("\n# testenv\n" + strings.Join(conf, "\n") + "\n")
	f.Close()
	if err != nil {
		return nil, err
	}
	if err := p.chownAll(); err != nil {
		return nil, err
	}
	if out, err := p.run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	ok = true
	return p, nil
}

// Stop stops the server at once and deletes its directory. It is safe to
// call more than once.
func (p *Postgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || p.dir == "" {
		return
	}
	p.stopped = true
	if _, err := os.Stat(filepath.Join(p.dir, "data", "postmaster.pid")); err == nil {
		p.run(filepath.Join(p.BinDir, "pg_ctl"), "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop")
	}
	os.RemoveAll(p.dir)
}

// Addr is host:port of the TCP listener.
func (p *Postgres) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// DSN returns a keyword/value connection string for TCP with TLS disabled.
func (p *Postgres) DSN(database, user, password string) string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=disable", p.Host, p.Port, database, user, password)
}

// SuperDSN connects as the superuser to database "postgres".
func (p *Postgres) SuperDSN() string { return p.DSN("postgres", p.SuperUser, p.SuperPassword) }

// Exec runs statements as the superuser in database db ("" = postgres).
func (p *Postgres) Exec(ctx context.Context, db string, sql ...string) error {
	if db == "" {
		db = "postgres"
	}
	conn, err := pgx.Connect(ctx, p.DSN(db, p.SuperUser, p.SuperPassword))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", FirstLine(s), err)
		}
	}
	return nil
}

func (p *Postgres) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd.CombinedOutput()
}

func (p *Postgres) chownAll() error {
	if p.cred == nil {
		return nil
	}
	return filepath.Walk(p.dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(p.cred.Uid), int(p.cred.Gid))
	})
}

func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the \"postgres\" OS user to run the server (install the Debian package \"postgresql\"): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RandomHex returns n random bytes as hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FirstLine shortens SQL for error messages.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}
