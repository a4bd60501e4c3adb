package main

import (
	"context"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
)

func newServeCmd(g *globals) *cobra.Command {
	var path string
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
			a, err := start(ctx, cfg, log)
			if err != nil {
				return err
			}
			return a.wait(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "gatehouse.yaml", "configuration file")
	return cmd
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
