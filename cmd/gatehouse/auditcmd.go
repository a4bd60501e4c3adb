package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Work with the audit trail's hash chains"}
	var path, storeURL, chain string
	var anchors []string
	verify := &cobra.Command{
		Use:   "verify --config FILE",
		Short: "Verify the hash chains of the audit trail",
		Long: "Walk every chain of the configured store (or --chain) and check each record's hash and its link to the\n" +
			"previous one. A changed, removed or reordered record is reported with its chain and sequence number, and\n" +
			"the exit status is 1. Pass heads printed by an earlier run (--anchor) to also detect a truncated chain.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if storeURL == "" {
				cfg, err := config.Load(path)
				if err != nil {
					return err
				}
				storeURL = cfg.Store
			}
			ctx := context.Background()
			st, err := store.Open(ctx, storeURL)
			if err != nil {
				return err
			}
			defer st.Close()
			var heads []audit.Head
			for _, a := range anchors {
				h, err := audit.ParseHead(a)
				if err != nil {
					return fmt.Errorf("--anchor %q: %w", a, err)
				}
				heads = append(heads, h)
			}
			rep, err := audit.Verify(ctx, st, chain, heads...)
			if err != nil {
				return err
			}
			for _, c := range rep.Chains {
				status := "ok"
				if c.Problem != nil {
					status = "BROKEN"
				}
				fmt.Fprintf(g.stdout, "%-8s %d records, head %s\n", status, c.Records, c.Head)
			}
			if p := rep.First(); p != nil {
				return &exitError{code: 1, err: fmt.Errorf("first bad record: %s", p)}
			}
			if len(rep.Chains) == 0 {
				fmt.Fprintln(g.stdout, "no audit records yet")
			}
			return nil
		},
	}
	verify.Flags().StringVarP(&path, "config", "c", "gatehouse.yaml", "configuration file (its store is verified)")
	verify.Flags().StringVar(&storeURL, "store", "", "verify this store URL instead of the configuration's (an auditor needs no upstream secrets)")
	verify.Flags().StringVar(&chain, "chain", "", "verify only this chain (a node name)")
	verify.Flags().StringArrayVar(&anchors, "anchor", nil, "a head printed earlier (chain=... seq=... sha256=...); repeatable")
	cmd.AddCommand(verify)
	return cmd
}
