package main

// Two gatehouse processes (the real binary, `gatehouse serve`) on one
// PostgreSQL store: a statement held on one replica is decided through the
// other's API and resumes at once, woken by LISTEN/NOTIFY (the sweep runs
// once a minute, so nothing else could wake it that fast); a grant
// approved on one replica lets the bot write on the other.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// maxResume bounds how long after a decision on one replica the statement
// waiting on the other may take to return (the target is 1 s; the margin
// is for a loaded machine).
const maxResume = 2 * time.Second

// buildGatehouse builds this package's binary into a temporary directory.
func buildGatehouse(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// replica is a `gatehouse serve` process.
type replica struct {
	name    string
	cmd     *exec.Cmd
	out     *syncBuffer
	pgAddr  string
	httpURL string
	exited  chan struct{}
}

// syncBuffer is a log both the process and the test touch.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startReplica runs bin with ag's configuration as node name and waits
// until it is healthy. It stops at cleanup (SIGTERM, then SIGKILL) and
// shows its log if the test failed.
func startReplica(t *testing.T, bin string, ag *apGateway, name string) *replica {
	t.Helper()
	r := &replica{name: name, out: &syncBuffer{}, pgAddr: freeAddr(t), exited: make(chan struct{})}
	httpAddr := freeAddr(t)
	r.httpURL = "http://" + httpAddr
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(ag.render(name, r.pgAddr, httpAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, "serve", "--config", path)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("log of replica %s:\n%s", name, r.out.String())
		}
	})
	poll(t, "replica "+name+" to be healthy", func() (bool, string) {
		select {
		case <-r.exited:
			t.Fatalf("replica %s exited:\n%s", name, r.out.String())
		default:
		}
		resp, err := http.Get(r.httpURL + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return r
}

func (r *replica) stop() {
	if r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// on returns a view of ag that talks to replica r: its agents connect to
// r's PostgreSQL listener and its API calls go to r.
func (ag *apGateway) on(r *replica) *apGateway {
	g := ag.gateway
	view := &gateway{opts: g.opts, pg: g.pg, shop: g.shop, storeDB: g.storeDB, storeURL: g.storeURL, issuer: g.issuer,
		node: r.name, logs: g.logs, app: &app{pgAddr: r.pgAddr, webURL: r.httpURL}}
	return &apGateway{gateway: view, o: ag.o}
}

func TestE2EApprovalReplicas(t *testing.T) {
	t.Parallel()
	bin := buildGatehouse(t)
	ag := prepareApprovalGateway(t, apOpts{variant: postgresOIDC})
	var a, b *replica
	var wg sync.WaitGroup
	wg.Go(func() { a = startReplica(t, bin, ag, "replica-a") })
	b = startReplica(t, bin, ag, "replica-b") // both at once: the store's schema is made once
	wg.Wait()
	onA, onB := ag.on(a), ag.on(b)

	// Each round: an agent waits on one replica, a DBA approves on the
	// other; the statement must return within maxResume of the approval.
	rounds := []struct{ wait, decide *apGateway }{{onA, onB}, {onB, onA}, {onA, onB}}
	var worst time.Duration
	for i, rd := range rounds {
		agent := rd.wait.agent(t, fmt.Sprintf("agent-%d", i), groupAgents)
		res := agent.start(payWrite, "shipped")
		id, link := agent.held(t, res)
		if !strings.HasPrefix(link, rd.wait.app.webURL+"/approvals/") {
			t.Errorf("round %d: notice links %s", i, link)
		}
		// The other replica lists it.
		var list struct{ Approvals []gate.Approval }
		if code, body := call(t, rd.decide.app.webURL, rd.decide.token(t, "dba-1", groupDBA), "GET", "/api/approvals?status=pending", nil, &list); code != 200 ||
			len(list.Approvals) != 1 || list.Approvals[0].ID != id {
			t.Fatalf("round %d: pending on the other replica: %d %s", i, code, body)
		}
		stillWaiting(t, res, "before the approval")
		sent := time.Now()
		rd.decide.approve(t, id, "dba-1", "")
		decided := time.Now()
		r := outcome(t, res)
		if r.err != nil || r.tag.String() != "UPDATE 60" {
			t.Fatalf("round %d: %q %v", i, r.tag, r.err)
		}
		resume := r.at.Sub(decided)
		t.Logf("round %d: resumed %v after the approval answered (%v after it was sent)", i,
			resume.Round(time.Millisecond), r.at.Sub(sent).Round(time.Millisecond))
		if resume > maxResume {
			t.Errorf("round %d: the statement resumed %v after the approval on the other replica, want < %v", i, resume, maxResume)
		}
		worst = max(worst, resume)
	}
	t.Logf("worst cross-replica resume: %v", worst.Round(time.Millisecond))

	// A grant approved on B lets the bot write on A, through A's grant
	// cache, kept current by the change feed.
	bot := onA.agent(t, "bot-1", groupBots)
	wantWriteDenied(t, bot, "before the grant")
	g := onA.requestGrant(t, "bot-1", "10m")
	onB.approve(t, g.ID, "dba-2", "")
	approved := time.Now()
	poll(t, "the grant approved on B to take effect on A", func() (bool, string) {
		_, err := bot.exec(t, botWrite)
		return err == nil, fmt.Sprint(err)
	})
	t.Logf("grant effective on the other replica after %v", time.Since(approved).Round(time.Millisecond))
	if d := time.Since(approved); d > maxResume {
		t.Errorf("the grant took %v to reach the other replica", d)
	}

	// Behind a load balancer, psql's Ctrl-C (a CancelRequest on a new
	// connection) may reach the other replica. It must still end the wait,
	// or the statement the user cancelled runs once approved.
	t.Run("cancel through the other replica", func(t *testing.T) {
		agent := onA.agent(t, "agent-cancel", groupAgents)
		res := agent.start(payWrite, "shipped")
		id, _ := agent.held(t, res)
		sendCancelRequest(t, b.pgAddr, agent.PgConn().PID(), agent.PgConn().SecretKey())
		select {
		case r := <-res:
			wantPgError(t, r.err, "cancelled through the other replica", "57014")
		case <-time.After(10 * time.Second):
			if code, body := onB.decide(t, id, "dba-1", false, "cleaning up"); code != http.StatusOK {
				t.Logf("deny: %d %s", code, body)
			}
			t.Fatalf("a cancel request sent to replica B did not end the wait of request %s on A", id)
		}
	})
}

// sendCancelRequest sends a PostgreSQL CancelRequest for (pid, key) to
// addr, as libpq does on a connection of its own.
func sendCancelRequest(t *testing.T, addr string, pid uint32, key []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, e2eTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := binary.BigEndian.AppendUint32(nil, uint32(12+len(key)))
	msg = binary.BigEndian.AppendUint32(msg, 80877102)
	msg = binary.BigEndian.AppendUint32(msg, pid)
	if _, err := c.Write(append(msg, key...)); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Read(make([]byte, 1)) // the server closes it when done
}
