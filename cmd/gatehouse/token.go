package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/web"
)

func newTokenCmd(g *globals) *cobra.Command {
	var req web.DevTokenRequest
	cmd := &cobra.Command{
		Use:   "token --sub SUBJECT [--groups G1,G2] [--ttl 15m]",
		Short: "Print a token from a gateway running with identity.dev: true (trials only)",
		Long: "Ask the gateway at GATEHOUSE_URL (default http://127.0.0.1:8080) for a dev token. Only gateways with\n" +
			"identity.dev: true issue them, and only to clients on loopback.",
		Example: `  export PGPASSWORD=$(gatehouse token --sub agent-1 --groups agents --ttl 15m)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(false)
			if err != nil {
				return err
			}
			var out struct {
				Token string `json:"token"`
			}
			if err := c.do("POST", "/dev/token", req, &out); err != nil {
				return fmt.Errorf("%w (is the gateway running with identity.dev: true?)", err)
			}
			fmt.Fprintln(g.stdout, out.Token)
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Subject, "sub", "", "subject of the token (required)")
	cmd.Flags().StringSliceVar(&req.Groups, "groups", nil, "groups claim")
	cmd.Flags().StringVar(&req.Email, "email", "", "email claim")
	cmd.Flags().StringVar(&req.TTL, "ttl", "1h", "lifetime, up to 24h")
	_ = cmd.MarkFlagRequired("sub")
	return cmd
}
