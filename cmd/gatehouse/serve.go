package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
)

func newServeCmd(g *globals) *cobra.Command {
	var path, pprofAddr string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the gateway",
		Long: "Run the gateway with the configuration in FILE. SIGTERM or SIGINT stops accepting connections, lets running\n" +
			"statements finish within limits.shutdown_grace, flushes the audit trail and exits.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if pprofAddr != "" {
				if err := servePprof(pprofAddr, log); err != nil {
					return err
				}
			}
			a, err := start(ctx, cfg, log)
			if err != nil {
				return err
			}
			return a.wait(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "gatehouse.yaml", "configuration file")
	cmd.Flags().StringVar(&pprofAddr, "pprof", "", "serve Go profiling endpoints (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060")
	return cmd
}

// servePprof serves net/http/pprof on its own loopback listener, never on
// the admin address.
func servePprof(addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof %q: must be a loopback address such as 127.0.0.1:6060", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("profiling endpoints are served", "addr", ln.Addr().String())
	go http.Serve(ln, mux)
	return nil
}

// wait serves until ctx ends (a signal) or a listener fails, then stops
// gracefully within limits.shutdown_grace.
func (a *app) wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
		a.log.Info("shutting down: no new connections; waiting for running statements", "grace", a.cfg.Limits.ShutdownGrace.D())
	case err = <-a.errc:
		a.log.Error("listener failed; shutting down", "err", err)
	}
	gctx, cancel := context.WithTimeout(context.Background(), a.cfg.Limits.ShutdownGrace.D())
	defer cancel()
	// A second signal cuts the grace period short.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			a.log.Warn("second signal: closing running sessions now")
			cancel()
		case <-gctx.Done():
		}
	}()
	a.stop(gctx)
	a.log.Info("stopped")
	return err
}

// redactURL hides the password of a store URL for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable>"
	}
	return u.Redacted()
}
