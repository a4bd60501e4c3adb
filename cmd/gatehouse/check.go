package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
)

func newCheckCmd(g *globals) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Validate a configuration file and compile its policies",
		Long:  "Validate FILE without connecting anywhere: unknown keys, bad values and policy expressions that do not\ncompile are reported with the key (and line) at fault, and the exit status is 1.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			eng, err := compilePolicy(cfg)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", path, err)}
			}
			if _, err := buildMasks(cfg, randomKey); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", path, err)}
			}
			rules := 0
			for _, p := range cfg.Policies {
				rules += len(p.Rules)
			}
			fmt.Fprintf(g.stdout, "%s: ok (%d connections, %d policies, %d rules, policy version %s)\n",
				path, len(cfg.Conns), len(cfg.Policies), rules, eng.Version())
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "gatehouse.yaml", "configuration file")
	return cmd
}
