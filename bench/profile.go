package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// captureProfiles fetches, from the gateway's profiling endpoint at addr, a
// CPU profile covering most of a run of length d and a heap (allocation)
// profile at its end, into dir as cpu.pprof and allocs.pprof.
func captureProfiles(addr, dir string, d time.Duration) chan error {
	done := make(chan error, 1)
	go func() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			done <- err
			return
		}
		secs := max(1, int(d.Seconds())-2)
		time.Sleep(time.Second) // let the clients connect first
		err := fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), filepath.Join(dir, "cpu.pprof"))
		if err == nil {
			err = fetch(fmt.Sprintf("http://%s/debug/pprof/allocs", addr), filepath.Join(dir, "allocs.pprof"))
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
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s: HTTP %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
