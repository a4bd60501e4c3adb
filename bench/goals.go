package main

import (
	"fmt"
	"strings"
)

// goal is one of the targets, checked against a run.
type goal struct {
	name, target string
	measured     string
	pass         bool
	ran          bool // false: the scenario or configuration was not run
}

// goals renders the goals with pass or fail.
func (r *report) goals() string {
	var gs []goal
	for _, mode := range []string{"simple", "prepared"} {
		g := goal{name: fmt.Sprintf("pgbench -S -M %s, 8 clients: gatehouse TPS", mode), target: ">= 1.0x pgbouncer"}
		if m, ok := r.pgbench[pgbenchConfig{mode, 8}]; ok {
			gh, pb := m["gatehouse"].tps, m["pgbouncer"].tps
			g.ran, g.pass = true, gh >= pb
			g.measured = fmt.Sprintf("%.3fx (%.0f vs %.0f tps)", gh/pb, gh, pb)
		}
		gs = append(gs, g)
	}
	for _, mode := range []string{"simple", "prepared"} {
		g := goal{name: fmt.Sprintf("pgbench -S -M %s, 1 client: gatehouse mean latency", mode), target: "<= pgbouncer's"}
		if m, ok := r.pgbench[pgbenchConfig{mode, 1}]; ok {
			gh, pb := m["gatehouse"].latency, m["pgbouncer"].latency
			g.ran, g.pass = true, gh <= pb
			g.measured = fmt.Sprintf("%.3f vs %.3f ms (%.2fx)", gh, pb, gh/pb)
		}
		gs = append(gs, g)
	}
	thr := goal{name: "large result: gatehouse throughput", target: ">= 0.9x direct"}
	rss := goal{name: "large result: gatehouse peak RSS", target: "< 100 MB"}
	if l := r.large; l != nil {
		gh, d := l.paths["gatehouse"].mbPerSec(), l.paths["direct"].mbPerSec()
		thr.ran, thr.pass = true, gh >= 0.9*d
		thr.measured = fmt.Sprintf("%.3fx (%.0f vs %.0f MB/s)", gh/d, gh, d)
		rss.ran, rss.pass = true, kbToMB(l.peakKB) < 100
		rss.measured = fmt.Sprintf("%.1f MB", kbToMB(l.peakKB))
	}
	gs = append(gs, thr, rss)
	mg := goal{name: "masking: all PII columns protected or scanned", target: ">= 0.5x unmasked"}
	if m := r.masking; m != nil {
		x := m.masked.rowsPerSec() / m.unmasked.rowsPerSec()
		mg.ran, mg.pass = true, x >= 0.5
		mg.measured = fmt.Sprintf("%.3fx (%.0f vs %.0f rows/s)", x, m.masked.rowsPerSec(), m.unmasked.rowsPerSec())
	}
	gs = append(gs, mg)
	ig := goal{name: "idle authenticated sessions: gatehouse RSS per session", target: "<= 64 KiB"}
	if i := r.idle; i != nil {
		ig.ran, ig.pass = true, i.perSessionKiB() <= 64
		ig.measured = fmt.Sprintf("%.1f KiB (%d sessions)", i.perSessionKiB(), i.sessions)
	}
	gs = append(gs, ig)

	t := &table{head: []string{"goal", "target", "measured", "result"}}
	passed, ran := 0, 0
	for _, g := range gs {
		res := "not measured"
		if g.ran {
			ran++
			res = "FAIL"
			if g.pass {
				passed++
				res = "pass"
			}
		}
		t.add(g.name, g.target, g.measured, res)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Goals: %d of %d pass", passed, len(gs))
	if ran < len(gs) {
		fmt.Fprintf(&b, " (%d not measured in this run)", len(gs)-ran)
	}
	b.WriteString("\n\n")
	b.WriteString(t.markdown())
	b.WriteString("\n")
	return b.String()
}
