package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// microSuite is one package's microbenchmarks the harness runs.
type microSuite struct {
	pkg, pattern, what string
}

var microSuites = []microSuite{
	{"./internal/sqlpg", "^BenchmarkClassify$", "classification of typical agent SQL, cached and uncached"},
	{"./internal/policy", "^BenchmarkDecide", "policy decision, 50 rules, the last one deciding"},
	{"./internal/mask", ".", "value detectors and column masks over mixed text (MB/s)"},
	{"./internal/pgwire", "^BenchmarkRewriteRow$", "rewriting one DataRow under a mask plan"},
}

// microResult is one benchmark line of go test -bench.
type microResult struct {
	pkg, name          string
	nsPerOp, mbPerSec  float64 // mbPerSec is 0 unless the benchmark sets bytes
	bytesOp, allocsOp  float64
	haveMB, haveAllocs bool
}

var (
	benchLineRe = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op(.*)$`)
	benchMBRe   = regexp.MustCompile(`([0-9.]+) MB/s`)
	benchMemRe  = regexp.MustCompile(`([0-9.]+) B/op\s+([0-9.]+) allocs/op`)
)

// runMicro runs every suite with go test -run XXX -bench, one package at a
// time (-p 1), so that no two benchmarks share the two cores.
func runMicro(benchtime string) ([]microResult, error) {
	var out []microResult
	for _, s := range microSuites {
		cmd := exec.Command("go", "test", "-p", "1", "-run", "XXX", "-bench", s.pattern, "-benchtime", benchtime, s.pkg)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go test -bench %s %s: %v\n%s", s.pattern, s.pkg, err, buf.String())
		}
		rs := parseBench(s.pkg, buf.Bytes())
		if len(rs) == 0 {
			return nil, fmt.Errorf("go test -bench %s %s: no benchmark results\n%s", s.pattern, s.pkg, buf.String())
		}
		for _, r := range rs {
			fmt.Printf("  %-40s %12.0f ns/op", strings.TrimPrefix(r.pkg, "./internal/")+"."+strings.TrimPrefix(r.name, "Benchmark"), r.nsPerOp)
			if r.haveMB {
				fmt.Printf(" %9.1f MB/s", r.mbPerSec)
			}
			fmt.Println()
		}
		out = append(out, rs...)
	}
	return out, nil
}

func parseBench(pkg string, text []byte) []microResult {
	var rs []microResult
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		m := benchLineRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := microResult{pkg: pkg, name: m[1]}
		r.nsPerOp, _ = strconv.ParseFloat(m[2], 64)
		if mb := benchMBRe.FindStringSubmatch(m[3]); mb != nil {
			r.mbPerSec, _ = strconv.ParseFloat(mb[1], 64)
			r.haveMB = true
		}
		if mem := benchMemRe.FindStringSubmatch(m[3]); mem != nil {
			r.bytesOp, _ = strconv.ParseFloat(mem[1], 64)
			r.allocsOp, _ = strconv.ParseFloat(mem[2], 64)
			r.haveAllocs = true
		}
		rs = append(rs, r)
	}
	return rs
}
