package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// pgbouncerConfig is session pooling with SCRAM for clients and the
// server, sized for 64 pgbench clients and the idle-session scenario's
// 2,000 (max_client_conn), TLS off on loopback like every other path.
const pgbouncerConfig = `[databases]
bench = host=127.0.0.1 port=%[1]d dbname=bench

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %[2]d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %[3]s/userlist.txt
pool_mode = session
max_client_conn = 2500
default_pool_size = 80
server_tls_sslmode = disable
ignore_startup_parameters = extra_float_digits
logfile = %[3]s/pgbouncer.log
log_connections = 0
log_disconnections = 0
`

// startPgbouncer runs Debian's pgbouncer in the foreground in front of
// 127.0.0.1:pgPort. pgbouncer refuses to run as root, so as root it runs as
// the postgres OS user (the one internal/tempdb runs PostgreSQL as).
func startPgbouncer(j *janitor, dir string, pgPort int, pw string) (target, error) {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		return target{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return target{}, err
	}
	port := freePort()
	files := map[string]string{
		"pgbouncer.ini": fmt.Sprintf(pgbouncerConfig, pgPort, port, dir),
		"userlist.txt":  fmt.Sprintf("%q %q\n", "svc_bench", pw),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return target{}, err
		}
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return target{}, fmt.Errorf("pgbouncer refuses root and there is no \"postgres\" OS user to run it as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, p := range []string{dir, filepath.Join(dir, "pgbouncer.ini"), filepath.Join(dir, "userlist.txt")} {
			if err := os.Chown(p, uid, gid); err != nil {
				return target{}, err
			}
		}
	}
	c, err := startChild(j, "pgbouncer", cred, bin, filepath.Join(dir, "pgbouncer.ini"))
	if err != nil {
		return target{}, err
	}
	if err := c.waitListening(fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
		return target{}, fmt.Errorf("%w\n%s", err, log)
	}
	return target{name: "pgbouncer", env: []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(port), "PGUSER=svc_bench",
		"PGPASSWORD=" + pw, "PGDATABASE=bench", "PGSSLMODE=disable"}}, nil
}
