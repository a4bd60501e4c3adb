// Command gatehouse is the identity-aware gateway for non-human identities.
// This package is the composition root: it reads configuration, builds every
// component explicitly and wires them; no other package does.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code (1 for "the check failed").
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	root := newRoot(os.Stdout, os.Stderr)
	if err := root.Execute(); err != nil {
		code := 2
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(code)
	}
}

// globals are the flags every command shares.
type globals struct {
	logFormat string
	logLevel  string
	stdout    io.Writer
	stderr    io.Writer
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Identity-aware gateway for AI agents, bots and CI jobs",
		Long:          "gatehouse lets non-human identities reach databases with short-lived OIDC tokens instead of shared secrets,\ndeciding, recording and (where configured) blocking every statement.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(
		newServeCmd(g), newDemoCmd(g), newCheckCmd(g), newExplainCmd(g), newTokenCmd(g),
		newSessionsCmd(g), newAuditCmd(g), newMaskCmd(g),
		newApprovalsCmd(g), newGrantsCmd(g),
	)
	return root
}

// logger builds the process logger from the global flags.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", g.logFormat)
}
