package pgwire

import (
	"context"
	"encoding/binary"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/mask"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// Masking is one policy's masking, compiled once: its value detectors and
// strategies (Masker) and how to treat output columns whose lineage is
// unknown.
type Masking struct {
	Masker *mask.Masker
	// Columns are the protected column patterns (table.column,
	// schema.table.column, *.column), resolved against each upstream's
	// catalog.
	Columns []string
	// DenyUnresolved refuses a statement with an output column whose
	// lineage cannot be resolved, instead of masking that column whole.
	DenyUnresolved bool
}

// colVerdict is the lineage analysis's verdict on one output column.
type colVerdict struct {
	protected  string // the protected source column ("schema.table.column"), "" if none
	unresolved bool
}

// stmtVerdict lists the verdicts of one statement's output columns, in
// order; nil when the statement returns no rows.
type stmtVerdict []colVerdict

// maskState is the masking of one Query's or prepared statement's results:
// the policy's masking, a verdict list per statement, and the direct check
// by table OID and attribute number.
type maskState struct {
	m        *Masking
	verdicts []stmtVerdict
	byOID    func(tableOID uint32, attnum uint16) (string, bool)
	// copy holds the format of each COPY ... TO STDOUT statement, by
	// statement index.
	copy map[int]sqlpg.CopyFormat
	// lineage is the analysis behind verdicts, for the cursors and
	// prepared statements a statement declares (applied once it completes).
	lineage []sqlpg.StatementLineage
	// predicates and writes are the protected columns the command uses in
	// predicates and copies where reads are not masked (for policies).
	predicates, writes []string
	// sensitive is set when the command touches protected data at all:
	// protected or unresolved output columns, or protected columns in
	// predicates or writes. Its errors are then scrubbed of quoted values.
	sensitive bool
}

// verdict returns statement i's verdicts; out of range means the lineage
// and the server disagree, which newRowPlan treats as unresolved.
func (ms *maskState) verdict(i int) stmtVerdict {
	if i < len(ms.verdicts) {
		return ms.verdicts[i]
	}
	return nil
}

// execMask carries the row plan of one masked Execute from the response to
// the Describe the gateway injected before it.
type execMask struct {
	plan *rowPlan
	rd   *pgproto3.RowDescription
}

// analyzer computes the masking of a statement for a policy's Masking on
// the session's upstream: lineage verdicts and the protected columns the
// statement uses in predicates. Implementations must be safe for
// concurrent use.
type analyzer interface {
	analyze(ctx context.Context, up *Upstream, sql string, m *Masking, resolve sqlpg.LineageResolver) (*maskState, error)
}

// colAction is what the row rewriter does to one column.
type colAction uint8

const (
	colPass  colAction = iota // forward the value untouched
	colWhole                  // mask the whole value as a protected column
	colScan                   // run the value detectors over it
)

// rowPlan masks the rows of one result set. It is built once per
// RowDescription and applied to every DataRow into reused buffers.
type rowPlan struct {
	m       *mask.Masker
	cols    []colPlan
	rewrite bool // false: no column needs work, rows pass untouched
}

type colPlan struct {
	action colAction
	column mask.Column
	name   string // protected column, for the audit counts
	oid    uint32
	binary bool
	count  int64 // values masked whole
}

// newRowPlan decides, for each field of rd, what masking it needs: whole
// masking when the lineage (or the field's own table and attribute, the
// cheap direct check) says it derives from a protected column, or when its
// lineage is unresolved; detector scanning for values whose type can carry
// free text; nothing otherwise. formats overrides rd's format codes (for an
// Execute, the Bind's result formats); nil keeps them.
func newRowPlan(m *Masking, rd *pgproto3.RowDescription, v stmtVerdict, byOID func(uint32, uint16) (string, bool)) *rowPlan {
	p := &rowPlan{m: m.Masker, cols: make([]colPlan, len(rd.Fields))}
	scan := len(m.Masker.Detectors()) > 0
	// The lineage must describe exactly these columns; if it does not
	// (the server answered differently than the analysis expected), no
	// verdict can be trusted and every column is masked whole.
	mismatch := len(v) != len(rd.Fields)
	for i, f := range rd.Fields {
		cp := &p.cols[i]
		cp.oid, cp.binary = f.DataTypeOID, f.Format == 1
		verdict := colVerdict{unresolved: true}
		if !mismatch {
			verdict = v[i]
		}
		// The server names the column's table and attribute only for a
		// plain column reference: only then is the value the protected
		// value itself, and a partial mask keeps a safe hint of it.
		direct := ""
		if f.TableOID != 0 && byOID != nil {
			direct, _ = byOID(f.TableOID, f.TableAttributeNumber)
		}
		name := verdict.protected
		if name == "" {
			name = direct
		}
		switch {
		case name != "":
			cp.action, cp.name, cp.column = colWhole, name, m.Masker.Column(name)
			if name != direct {
				cp.column = cp.column.Derived()
			}
		case verdict.unresolved:
			cp.action, cp.name, cp.column = colWhole, "unresolved:"+string(f.Name), m.Masker.Column("").Derived()
		case scan && scannable(f.DataTypeOID, cp.binary):
			cp.action = colScan
		}
		if cp.action != colPass {
			p.rewrite = true
		}
	}
	return p
}

// scannable reports whether values of a type, in a format, can carry free
// text worth running detectors over. Text format values of every type but
// those that cannot hold letters or long digit runs are scanned (an int8
// column can hold a card number); binary values only for text-like types.
func scannable(oid uint32, binary bool) bool {
	switch oid {
	case oidBool, oidFloat4, oidFloat8, oidDate, oidTimestamp, oidTimestamptz, oidUUID,
		1083 /* time */, 1266 /* timetz */, 1186 /* interval */, 17 /* bytea */, 26 /* oid */, 21 /* int2 */, 23 /* int4 */ :
		return false
	}
	if binary {
		return mask.HoldsText(oid)
	}
	return true
}

// rewriteRow appends to dst the DataRow frame (type byte and length
// included) for body with the plan applied, counting masked values.
// scratch is a reused buffer for one value. A malformed body is a protocol
// error: the upstream broke the row format.
func (p *rowPlan) rewriteRow(dst, body []byte, scratch *[]byte, counts *mask.Counts) ([]byte, error) {
	if len(body) < 2 {
		return dst, protoErrorf("malformed DataRow from upstream")
	}
	n := int(binary.BigEndian.Uint16(body))
	if n != len(p.cols) {
		return dst, protoErrorf("DataRow has %d columns, RowDescription had %d", n, len(p.cols))
	}
	start := len(dst)
	dst = append(dst, 'D', 0, 0, 0, 0, body[0], body[1])
	rest := body[2:]
	for i := 0; i < n; i++ {
		if len(rest) < 4 {
			return dst, protoErrorf("malformed DataRow from upstream")
		}
		l := int32(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		if l < 0 {
			dst = binary.BigEndian.AppendUint32(dst, uint32(0xffffffff))
			continue
		}
		if int(l) > len(rest) {
			return dst, protoErrorf("malformed DataRow from upstream")
		}
		val := rest[:l]
		rest = rest[l:]
		cp := &p.cols[i]
		var (
			out []byte
			res mask.Result
		)
		switch cp.action {
		case colWhole:
			out, res = cp.column.Mask((*scratch)[:0], cp.oid, val)
			if res != mask.Clean {
				cp.count++
			}
		case colScan:
			if cp.binary && cp.oid == oidJSONB && len(val) > 0 {
				// jsonb binary: a version byte, then text.
				out, res = p.m.MaskText(append((*scratch)[:0], val[0]), val[1:], counts)
			} else {
				out, res = p.m.MaskText((*scratch)[:0], val, counts)
			}
		}
		if out != nil {
			*scratch = out[:0]
		}
		switch res {
		case mask.Nulled:
			dst = binary.BigEndian.AppendUint32(dst, uint32(0xffffffff))
		case mask.Masked:
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(out)))
			dst = append(dst, out...)
		default:
			dst = binary.BigEndian.AppendUint32(dst, uint32(l))
			dst = append(dst, val...)
		}
	}
	if len(rest) != 0 {
		return dst, protoErrorf("malformed DataRow from upstream: %d trailing bytes", len(rest))
	}
	binary.BigEndian.PutUint32(dst[start+1:], uint32(len(dst)-start-1))
	return dst, nil
}

// tally adds the plan's per-column counts to dst ("column:NAME" keys).
func (p *rowPlan) tally(dst map[string]int64) map[string]int64 {
	for i := range p.cols {
		if c := p.cols[i].count; c > 0 {
			if dst == nil {
				dst = map[string]int64{}
			}
			dst["column:"+p.cols[i].name] += c
		}
	}
	return dst
}
