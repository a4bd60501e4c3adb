package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// startRelay builds bench/relay, the floor of any proxy, and runs it in
// front of upstream.
func startRelay(j *janitor, dir, upstream string, base target) (target, error) {
	bin := filepath.Join(dir, "relay")
	build := exec.Command("go", "build", "-o", bin, "./bench/relay")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return target{}, fmt.Errorf("building bench/relay: %w", err)
	}
	port := freePort()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := startChild(j, "relay", nil, bin, "-listen", addr, "-upstream", upstream)
	if err != nil {
		return target{}, err
	}
	if err := c.waitListening(addr, 15*time.Second); err != nil {
		return target{}, err
	}
	t := target{name: "relay", env: append(base.env[:len(base.env):len(base.env)], "PGPORT="+strconv.Itoa(port))}
	return t, nil
}
