package pgwire

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// maxPlan bounds the plan text kept with an approval request.
const maxPlan = 16 << 10

// estimator measures the impact of writes on a connection's upstream, on
// side connections of its own (never the client's: its transaction state
// must not change). Only UPDATE, DELETE, INSERT and MERGE statements are
// estimated, one statement at a time.
//
// EXPLAIN (FORMAT JSON) gives the planner's estimate (never ANALYZE). With
// the connection's dry_run, the statement also runs inside a transaction
// that is always rolled back, under a statement_timeout, for the exact
// count. The side connection does not see the client's uncommitted changes:
// the figures are estimates of the committed state.
type estimator struct {
	up      *Upstream
	timeout time.Duration

	mu   sync.Mutex
	idle []*pgconn.PgConn
}

const maxIdleEstimators = 2

func newEstimator(up *Upstream) *estimator {
	return &estimator{up: up, timeout: 5 * time.Second}
}

// estimable reports whether cmd is one statement whose impact can be
// estimated.
func estimable(cmd *gate.Command) bool {
	if len(cmd.Class.Statements) != 1 {
		return false
	}
	switch cmd.Class.Statements[0] {
	case "UPDATE", "DELETE", "INSERT", "MERGE":
		return true
	}
	return false
}

// bindArgs are a statement's parameters as sent by the client.
type bindArgs struct {
	values  [][]byte
	formats []int16
	oids    []uint32
}

// Estimate returns the impact of cmd, or an Impact whose Error says why
// there is none. It never returns nil. dryRun also runs the statement in a
// rolled-back transaction when the connection allows it: only for a
// statement a policy holds for review, never before a decision.
func (e *estimator) Estimate(ctx context.Context, cmd *gate.Command, args bindArgs, dryRun bool) *gate.Impact {
	imp := &gate.Impact{EstimatedRows: -1}
	if !estimable(cmd) {
		imp.Error = "no estimate: only single UPDATE, DELETE, INSERT and MERGE statements are estimated"
		return imp
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout+e.up.ConnectTimeout)
	defer cancel()
	pc, err := e.get(ctx)
	if err != nil {
		imp.Error = "no estimate: cannot connect to the upstream: " + err.Error()
		return imp
	}
	ok := false
	defer func() { e.put(pc, ok) }()
	setTimeout := fmt.Sprintf("SET statement_timeout = %d", e.timeout.Milliseconds())
	if err := pc.Exec(ctx, setTimeout).Close(); err != nil {
		imp.Error = "no estimate: " + err.Error()
		return imp
	}
	formats := expandFormats(args.formats, len(args.values))
	res := pc.ExecParams(ctx, "EXPLAIN (FORMAT JSON) "+cmd.Text, args.values, args.oids, formats, nil).Read()
	if res.Err != nil {
		imp.Error = "no estimate: EXPLAIN failed: " + res.Err.Error()
		ok = pc.TxStatus() == 'I'
		return imp
	}
	if len(res.Rows) == 1 && len(res.Rows[0]) == 1 {
		plan := res.Rows[0][0]
		imp.EstimatedRows = planRows(plan)
		if len(plan) > maxPlan {
			plan = plan[:maxPlan]
		}
		imp.Plan = string(plan)
	}
	if dryRun && e.up.DryRun {
		imp.ExactRows, err = e.dryRun(ctx, pc, cmd.Text, args, formats)
		if err != nil {
			imp.Error = "dry run failed: " + err.Error()
		}
	}
	ok = pc.TxStatus() == 'I'
	return imp
}

// dryRun runs the statement in a transaction that is always rolled back.
func (e *estimator) dryRun(ctx context.Context, pc *pgconn.PgConn, sql string, args bindArgs, formats []int16) (*int64, error) {
	if err := pc.Exec(ctx, "BEGIN").Close(); err != nil {
		return nil, err
	}
	// The ROLLBACK must run after the statement, whatever happens: not as
	// a deferred call, whose receiver would be evaluated (and sent) now.
	defer func() { _ = pc.Exec(context.Background(), "ROLLBACK").Close() }()
	tag, err := pc.ExecParams(ctx, sql, args.values, args.oids, formats, nil).Close()
	if err != nil {
		return nil, err
	}
	n := tag.RowsAffected()
	return &n, nil
}

func expandFormats(f []int16, n int) []int16 {
	if len(f) == 1 && n > 1 {
		out := make([]int16, n)
		for i := range out {
			out[i] = f[0]
		}
		return out
	}
	return f
}

// planRows reads the estimated rows a write touches from EXPLAIN JSON: for
// a ModifyTable node, the rows its input produces.
func planRows(b []byte) int64 {
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if json.Unmarshal(b, &plans) != nil || len(plans) == 0 {
		return -1
	}
	p := plans[0].Plan
	if p.NodeType == "ModifyTable" && len(p.Plans) > 0 {
		return int64(p.Plans[0].Rows)
	}
	return int64(p.Rows)
}

type planNode struct {
	NodeType string     `json:"Node Type"`
	Rows     float64    `json:"Plan Rows"`
	Plans    []planNode `json:"Plans"`
}

func (e *estimator) get(ctx context.Context) (*pgconn.PgConn, error) {
	e.mu.Lock()
	if n := len(e.idle); n > 0 {
		pc := e.idle[n-1]
		e.idle = e.idle[:n-1]
		e.mu.Unlock()
		return pc, nil
	}
	e.mu.Unlock()
	cfg := e.up.base.Copy()
	cfg.RuntimeParams["application_name"] = "gatehouse-estimator"
	return pgconn.ConnectConfig(ctx, cfg)
}

// put returns a connection to the idle list if it is reusable, else
// closes it.
func (e *estimator) put(pc *pgconn.PgConn, reusable bool) {
	e.mu.Lock()
	if reusable && !pc.IsClosed() && len(e.idle) < maxIdleEstimators {
		e.idle = append(e.idle, pc)
		e.mu.Unlock()
		return
	}
	e.mu.Unlock()
	pc.Close(context.Background())
}

// close releases the idle connections.
func (e *estimator) close() {
	e.mu.Lock()
	idle := e.idle
	e.idle = nil
	e.mu.Unlock()
	for _, pc := range idle {
		pc.Close(context.Background())
	}
}
