package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/mask"
)

func newMaskCmd(g *globals) *cobra.Command {
	var cfg mask.Config
	var strategies []string
	var keyFile string
	cmd := &cobra.Command{
		Use:   "mask [--detectors email,phone,...] [--strategy redact]",
		Short: "Mask sensitive values in text read from stdin, with the gateway's detectors",
		Long: "Read text on stdin and write it to stdout with the same value detectors the gateway runs over query results:\n" +
			"email, phone, credit_card, ssn, iban, ip, secret (default: all). For logs, and for checking what the detectors catch.\n" +
			"The hash strategy needs a key (--key-file, or GATEHOUSE_MASK_KEY); without one a random key is used for this run.\n" +
			"A summary of what was masked goes to stderr.",
		Example: "  gatehouse mask --detectors email,credit_card --strategy partial < app.log > app.masked.log",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(cfg.Detectors) == 0 {
				cfg.Detectors = []string{"all"}
			}
			cfg.Strategies = map[string]string{}
			for _, s := range strategies {
				k, v, ok := strings.Cut(s, "=")
				if !ok {
					return fmt.Errorf("--strategies %q: want DETECTOR=STRATEGY", s)
				}
				cfg.Strategies[k] = v
			}
			switch {
			case keyFile != "":
				k, err := os.ReadFile(keyFile)
				if err != nil {
					return err
				}
				cfg.Key = []byte(strings.TrimSpace(string(k)))
			case os.Getenv("GATEHOUSE_MASK_KEY") != "":
				cfg.Key = []byte(os.Getenv("GATEHOUSE_MASK_KEY"))
			default:
				cfg.Key = make([]byte, 32)
				_, _ = rand.Read(cfg.Key)
			}
			m, err := mask.New(cfg)
			if err != nil {
				return err
			}
			counts, err := m.MaskStream(cmd.InOrStdin(), g.stdout)
			if err != nil {
				return err
			}
			tally := map[string]int64{}
			m.Tally(tally, &counts)
			if len(tally) > 0 {
				var parts []string
				for k, v := range tally {
					parts = append(parts, fmt.Sprintf("%s=%d", strings.TrimPrefix(k, "detector:"), v))
				}
				sort.Strings(parts)
				fmt.Fprintf(g.stderr, "masked: %s\n", strings.Join(parts, " "))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&cfg.Detectors, "detectors", nil, "detectors to run (default all)")
	cmd.Flags().StringVar(&cfg.Strategy, "strategy", "redact", "redact, partial, hash or null")
	cmd.Flags().StringSliceVar(&strategies, "strategies", nil, "per-detector strategies, e.g. credit_card=partial")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "HMAC key for the hash strategy")
	return cmd
}
