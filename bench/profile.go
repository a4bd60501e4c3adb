package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// pprofAddr is where the gateway serves its profiling endpoints in bench runs.
const pprofAddr = "127.0.0.1:6061"

// captureProfiles fetches a CPU profile covering most of a run of length d
// and a heap (allocation) profile at its end, into dir.
func captureProfiles(dir string, d time.Duration) chan error {
	done := make(chan error, 1)
	go func() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			done <- err
			return
		}
		secs := max(1, int(d.Seconds())-2)
		time.Sleep(time.Second) // let the clients connect first
		err := fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs), filepath.Join(dir, "cpu.pprof"))
		if err == nil {
			err = fetch(fmt.Sprintf("http://%s/debug/pprof/allocs", pprofAddr), filepath.Join(dir, "allocs.pprof"))
		}
		done <- err
	}()
	return done
}

func fetch(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
