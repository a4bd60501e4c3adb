package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// janitor undoes what a run set up (servers, temporary directories), last
// first, exactly once: on return, on error and on SIGINT or SIGTERM. It is
// safe for concurrent use; a second caller of run waits for the first.
type janitor struct {
	mu   sync.Mutex
	fns  []func()
	once sync.Once
}

// add registers f to run at clean-up, before everything added earlier.
func (j *janitor) add(f func()) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.fns = append(j.fns, f)
}

func (j *janitor) run() {
	j.once.Do(func() {
		j.mu.Lock()
		fns := j.fns
		j.fns = nil
		j.mu.Unlock()
		for i := len(fns) - 1; i >= 0; i-- {
			fns[i]()
		}
	})
}

// onSignal cleans up and exits when the process is interrupted.
func (j *janitor) onSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "\nbench: %v, stopping servers and removing temporary files\n", s)
		j.run()
		os.Exit(130)
	}()
}

// child is a long-lived server process the harness started (gatehouse,
// pgbouncer, the relay). It runs in its own process group, so a terminal's
// SIGINT reaches only the harness, which stops children in order; it gets
// SIGKILL if the harness dies without cleaning up.
type child struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer // its stdout and stderr, for error messages
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

// startChild starts name with args; cred, when set, is the OS user it runs as.
func startChild(j *janitor, name string, cred *syscall.Credential, bin string, args ...string) (*child, error) {
	cmd := exec.Command(bin, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	j.add(c.stop)
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// output is the tail of what the process wrote, for error messages.
func (c *child) output() string {
	s := strings.TrimSpace(c.log.String())
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

// stop asks the process to end (SIGTERM: gatehouse then lets running
// statements finish and flushes its audit trail, pgbouncer shuts down at
// once), and kills it after 10 seconds.
func (c *child) stop() {
	if c.exited() {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// waitListening waits until addr accepts TCP connections, failing early if
// the process exits.
func (c *child) waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if c.exited() {
			return fmt.Errorf("%s exited: %s", c.name, c.output())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not listening on %s after %s: %v\n%s", c.name, addr, timeout, err, c.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
