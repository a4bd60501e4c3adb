package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
)

// SQL shared by both engines. Placeholders differ (? for SQLite, $n for
// PostgreSQL), so builders take a placeholder function.

// recordCols are the audit_records columns in scanRecord's order.
const recordCols = "chain, seq, time_ns, kind, session_id, step, connection, subject, trace_id, action, body, prev_hash, hash"

// oRecordCols is recordCols qualified with the alias o.
var oRecordCols = "o." + strings.ReplaceAll(recordCols, ", ", ", o.")

// scanPage is how many records Scan reads per query.
const scanPage = 512

// MaxListLimit caps SessionQuery.Limit; DefaultListLimit replaces a
// non-positive one.
const (
	MaxListLimit     = 1000
	DefaultListLimit = 100
)

// insertArgs returns r as arguments in recordCols order.
func insertArgs(r *Record) []any {
	return []any{r.Chain, r.Seq, r.Time.UnixNano(), r.Kind, r.Session, r.Step,
		r.Connection, r.Subject, r.TraceID, r.Action, nonNil(r.Body), nonNil(r.PrevHash), nonNil(r.Hash)}
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// scanRecord reads one row selected with recordCols.
func scanRecord(scan func(dest ...any) error) (Record, error) {
	var r Record
	var ns int64
	err := scan(&r.Chain, &r.Seq, &ns, &r.Kind, &r.Session, &r.Step,
		&r.Connection, &r.Subject, &r.TraceID, &r.Action, &r.Body, &r.PrevHash, &r.Hash)
	r.Time = time.Unix(0, ns).UTC()
	return r, err
}

// sessionsSQL builds the ListSessions query for q with placeholder style
// ph (1-based). Only the filters in use appear, so that the planner can use
// the partial indexes on session_open records.
func sessionsSQL(q SessionQuery, ph func(n int) string) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", ph(len(args))))
	}
	where = append(where, "o.kind = '"+KindSessionOpen+"'")
	if q.Connection != "" {
		add("o.connection = ?", q.Connection)
	}
	if q.Subject != "" {
		add("o.subject = ?", q.Subject)
	}
	if q.TraceID != "" {
		add("o.session_id IN (SELECT t.session_id FROM audit_records t WHERE t.trace_id = ?)", q.TraceID)
	}
	if !q.Since.IsZero() {
		add("o.time_ns >= ?", clampTime(q.Since).UnixNano())
	}
	args = append(args, listLimit(q.Limit))
	return `SELECT ` + oRecordCols + `,
		(SELECT count(*) FROM audit_records s WHERE s.session_id = o.session_id AND s.kind = '` + KindStep + `'),
		(SELECT count(*) FROM audit_records s WHERE s.session_id = o.session_id AND s.kind = '` + KindStep + `' AND s.action = '` + ActionDeny + `')
	FROM audit_records o
	WHERE ` + strings.Join(where, " AND ") + `
	ORDER BY o.time_ns DESC, o.session_id DESC
	LIMIT ` + ph(len(args)), args
}

// stepsSQL builds the StepRecords query: the newest q.Limit step records
// of the trace (or session) and the step_result records of the same
// steps, oldest first.
func stepsSQL(q StepQuery, ph func(n int) string) (string, []any) {
	col, val := "trace_id", q.TraceID
	if val == "" {
		col, val = "session_id", q.Session
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultStepLimit
	}
	// Placeholders are numbered in the order they appear in the text, as
	// SQLite's positional ? requires.
	args := []any{val}
	bySubject := ""
	if q.Subject != "" {
		args = append(args, q.Subject)
		bySubject = ` AND session_id IN (SELECT session_id FROM audit_records
			WHERE kind = '` + KindSessionOpen + `' AND subject = ` + ph(2) + `)`
	}
	args = append(args, listLimit(limit))
	return `SELECT ` + recordCols + ` FROM audit_records
	WHERE kind IN ('` + KindStep + `', '` + KindStepResult + `') AND (session_id, step) IN (
		SELECT session_id, step FROM audit_records
		WHERE kind = '` + KindStep + `' AND ` + col + ` = ` + ph(1) + bySubject + `
		ORDER BY time_ns DESC, chain DESC, seq DESC
		LIMIT ` + ph(len(args)) + `)
	ORDER BY time_ns, chain, seq`, args
}

func listLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultListLimit
	case n > MaxListLimit:
		return MaxListLimit
	}
	return n
}

func clampTime(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t
}

// attachCloses sets each row's Close to the first of closes (ordered by
// time) with its session id.
func attachCloses(rows []SessionRow, closes []Record) {
	first := make(map[string]*Record, len(closes))
	for i := range closes {
		if _, ok := first[closes[i].Session]; !ok {
			first[closes[i].Session] = &closes[i]
		}
	}
	for i := range rows {
		rows[i].Close = first[rows[i].Open.Session]
	}
}

func dollar(n int) string { return "$" + strconv.Itoa(n) }
func question(int) string { return "?" }

// secretOps are the two engine-specific halves of Secret.
type secretOps struct {
	// read returns the value, or found false.
	read func(ctx context.Context, name string) (v []byte, found bool, err error)
	// insert stores v unless name exists (ON CONFLICT DO NOTHING).
	insert func(ctx context.Context, name string, v []byte) error
}

// secret implements Store.Secret on top of ops: read; if missing create,
// insert-if-absent, and read again, so that every racer returns the value
// that won the insert.
func (ops secretOps) secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	if name == "" {
		return nil, errors.New("store: secret name is empty")
	}
	v, found, err := ops.read(ctx, name)
	if err != nil || found {
		return v, err
	}
	nv, err := create()
	if err != nil {
		return nil, fmt.Errorf("store: create secret %q: %w", name, err)
	}
	if len(nv) == 0 {
		return nil, fmt.Errorf("store: create secret %q: empty value", name)
	}
	if err := ops.insert(ctx, name, nv); err != nil {
		return nil, err
	}
	v, found, err = ops.read(ctx, name)
	if err == nil && !found {
		err = fmt.Errorf("store: secret %q vanished after insert", name)
	}
	return v, err
}

// scanPages turns a page reader into Store.Scan's iterator.
func scanPages(after int64, page func(after int64) ([]Record, error)) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for {
			recs, err := page(after)
			if err != nil {
				yield(Record{}, err)
				return
			}
			for _, r := range recs {
				if !yield(r, nil) {
					return
				}
				after = r.Seq
			}
			if len(recs) < scanPage {
				return
			}
		}
	}
}
