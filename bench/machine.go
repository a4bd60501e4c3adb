package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where a run happened, for RESULTS.md.
type machine struct {
	nproc int
	cpu   string
	memMB int
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			_, v, _ := strings.Cut(line, ":")
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// memTotalMB is the machine's memory from /proc/meminfo.
func memTotalMB() int {
	kb, _ := procField("/proc/meminfo", "MemTotal")
	return int(kb / 1024)
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// rssKB reads a process's VmRSS (resident now) or VmHWM (peak resident)
// from /proc/PID/status, in KiB.
func rssKB(pid int, field string) (int64, error) {
	return procField(fmt.Sprintf("/proc/%d/status", pid), field)
}

// procField reads "Field:   123 kB" from a /proc file.
func procField(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("%s: no %s", path, field)
}

// kbToMB converts /proc's kB (KiB) to decimal megabytes.
func kbToMB(kb int64) float64 { return float64(kb) * 1024 / 1e6 }

// overloaded reports whether a loadAvg's 1-minute average exceeds nproc.
func overloaded(load string) bool {
	f := strings.Fields(load)
	if len(f) == 0 {
		return false
	}
	x, err := strconv.ParseFloat(f[0], 64)
	return err == nil && x > float64(runtime.NumCPU())
}

// treeVersion is the commit the gateway was built from, "+changes" when the
// working tree differs from it (the harness builds the tree as it is).
func treeVersion() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty=+changes").Output()
	if err != nil {
		return "(not a git checkout)"
	}
	return strings.TrimSpace(string(out))
}

// toolVersion is the first line of `bin --version`.
func toolVersion(bin string) string {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return bin + " (unknown version)"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
