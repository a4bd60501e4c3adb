package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/sqlcomment"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

func newExplainCmd(g *globals) *cobra.Command {
	var path, claims, conn string
	cmd := &cobra.Command{
		Use:     "explain --config FILE --claims JSON --connection NAME SQL",
		Short:   "Show how a statement is classified and decided, without connecting anywhere",
		Example: `  gatehouse explain --config gatehouse.yaml --claims '{"sub":"a","groups":["agents"]}' --connection shop "DELETE FROM orders"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			eng, err := compilePolicy(cfg)
			if err != nil {
				return err
			}
			target, ok := cfg.Upstreams()[conn]
			if !ok {
				return fmt.Errorf("--connection: no connection named %q in %s", conn, path)
			}
			id, err := explainIdentity(cfg, claims)
			if err != nil {
				return err
			}
			sql := args[0]
			cmdv := gate.Command{Text: sql, Request: sqlcomment.Extract(sql)}
			w := g.stdout
			class, err := sqlpg.New(sqlpg.Config{}).Classify(sql, nil)
			if err != nil {
				fmt.Fprintf(w, "classification: cannot parse: %v\ndecision:       deny (statements that do not parse are never forwarded)\n", err)
				return &exitError{code: 1, err: fmt.Errorf("denied")}
			}
			cmdv.Class = *class
			printClass(w, class, cmdv.Request)
			d, trace, err := eng.Explain(context.Background(), gate.Input{Identity: id, Target: gate.Target{Name: target.Name, Kind: "postgres"}, Command: &cmdv})
			fmt.Fprintln(w, "evaluation:")
			for _, t := range trace {
				fmt.Fprintf(w, "  %s\n", t.String())
			}
			if err != nil {
				fmt.Fprintf(w, "decision:       deny (evaluation failed: %v)\n", err)
				return &exitError{code: 1, err: fmt.Errorf("denied")}
			}
			fmt.Fprintf(w, "decision:       %s", d.Action)
			if d.Policy != "" {
				fmt.Fprintf(w, " by %s", d.Policy)
				if d.Rule != "" {
					fmt.Fprintf(w, "/%s", d.Rule)
				}
			}
			if d.Message != "" {
				fmt.Fprintf(w, ": %s", d.Message)
			}
			fmt.Fprintln(w)
			if d.Action != gate.Allow {
				return &exitError{code: 1, err: fmt.Errorf("%s", d.Action)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "gatehouse.yaml", "configuration file")
	cmd.Flags().StringVar(&claims, "claims", `{"sub":"explain"}`, "token claims of the caller, as JSON")
	cmd.Flags().StringVar(&conn, "connection", "", "connection name (required)")
	_ = cmd.MarkFlagRequired("connection")
	return cmd
}

// explainIdentity maps --claims as the first configured issuer would.
func explainIdentity(cfg *config.File, claimsJSON string) (*gate.Identity, error) {
	var claims map[string]any
	if err := json.Unmarshal([]byte(claimsJSON), &claims); err != nil || claims == nil {
		return nil, fmt.Errorf("--claims: not a JSON object: %v", err)
	}
	iss, groups := devIssuerName, "groups"
	if len(cfg.Identity.Issuers) > 0 {
		iss, groups = cfg.Identity.Issuers[0].URL, cfg.Identity.Issuers[0].GroupsClaim
	}
	if v, ok := claims["iss"].(string); ok {
		iss = v
		for _, is := range cfg.Identity.Issuers {
			if is.URL == v {
				groups = is.GroupsClaim
			}
		}
	}
	return identity.FromClaims(claims, iss, groups)
}

func printClass(w interface{ Write([]byte) (int, error) }, c *gate.Class, r gate.Request) {
	fmt.Fprintf(w, "kind:           %s\n", c.Kind)
	fmt.Fprintf(w, "statements:     %s\n", strings.Join(c.Statements, ", "))
	if len(c.Tables) > 0 {
		fmt.Fprintf(w, "tables:         %s\n", strings.Join(c.Tables, ", "))
	}
	if len(c.Functions) > 0 {
		fmt.Fprintf(w, "functions:      %s\n", strings.Join(c.Functions, ", "))
	}
	fmt.Fprintf(w, "has_where:      %v\n", c.HasWhere)
	for _, n := range c.Notes {
		fmt.Fprintf(w, "note:           %s\n", n)
	}
	if r.Reason != "" {
		fmt.Fprintf(w, "reason:         %s\n", r.Reason)
	}
	if r.TraceID != "" {
		fmt.Fprintf(w, "trace_id:       %s\n", r.TraceID)
	}
}
