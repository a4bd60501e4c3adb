package main

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func newSessionsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List recorded sessions and replay one (GATEHOUSE_URL, GATEHOUSE_TOKEN)",
	}
	var f struct {
		conn, sub, trace, since string
		limit                   int
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List sessions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(true)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"connection": f.conn, "sub": f.sub, "trace_id": f.trace, "since": f.since} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if f.limit > 0 {
				q.Set("limit", strconv.Itoa(f.limit))
			}
			var out struct {
				Sessions []gate.SessionSummary `json:"sessions"`
			}
			if err := c.do("GET", "/api/sessions?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			printSessions(g.stdout, out.Sessions)
			return nil
		},
	}
	list.Flags().StringVar(&f.conn, "connection", "", "only this connection")
	list.Flags().StringVar(&f.sub, "sub", "", "only this subject")
	list.Flags().StringVar(&f.trace, "trace-id", "", "only sessions with steps of this agent run")
	list.Flags().StringVar(&f.since, "since", "", "only sessions opened since (RFC 3339 or a duration such as 2h)")
	list.Flags().IntVar(&f.limit, "limit", 0, "at most this many (default 100)")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Replay one session, step by step",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(true)
			if err != nil {
				return err
			}
			var rec gate.SessionRecord
			if err := c.do("GET", "/api/sessions/"+url.PathEscape(args[0]), nil, &rec); err != nil {
				return err
			}
			printReplay(g.stdout, &rec)
			return nil
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

func printSessions(w io.Writer, list []gate.SessionSummary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tOPENED\tSUBJECT\tCONNECTION\tSTEPS\tDENIED\tENDED")
	for _, s := range list {
		sub := ""
		if s.Identity != nil {
			sub = s.Identity.Subject
		}
		ended := "open"
		if s.Closed != nil {
			ended = s.EndReason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.ID, s.Opened.Local().Format(time.DateTime), sub, s.Target.Name, s.Steps, s.Denied, ended)
	}
	tw.Flush()
}

// printReplay prints a session and its steps in order, as recorded.
func printReplay(w io.Writer, r *gate.SessionRecord) {
	fmt.Fprintf(w, "session %s\n", r.ID)
	if r.Identity != nil {
		fmt.Fprintf(w, "  identity   %s (issuer %s, groups %s)\n", r.Identity, r.Identity.Issuer, strings.Join(r.Identity.Groups, ","))
	}
	fmt.Fprintf(w, "  connection %s (%s) from %s as user %q\n", r.Target.Name, r.Protocol, r.ClientAddr, r.User)
	fmt.Fprintf(w, "  opened     %s\n", r.Opened.Local().Format(time.DateTime+".000"))
	for _, st := range r.Steps {
		fmt.Fprintf(w, "\n  step %d  %s  %s\n", st.N, st.Time.Local().Format(time.TimeOnly+".000"), verdict(st.Decision))
		for _, line := range strings.Split(strings.TrimSpace(st.Command.Text), "\n") {
			fmt.Fprintf(w, "    | %s\n", line)
		}
		if len(st.Command.Params) > 0 {
			fmt.Fprintf(w, "    params  %s\n", formatParams(st.Command))
		}
		fmt.Fprintf(w, "    kind    %s  %s\n", st.Command.Class.Kind, strings.Join(st.Command.Class.Statements, ", "))
		if rq := st.Command.Request; rq.Reason != "" || rq.TraceID != "" {
			var parts []string
			if rq.Reason != "" {
				parts = append(parts, fmt.Sprintf("reason=%q", rq.Reason))
			}
			if rq.TraceID != "" {
				parts = append(parts, "trace="+rq.TraceID)
			}
			fmt.Fprintf(w, "    intent  %s\n", strings.Join(parts, " "))
		}
		if o := st.Outcome; o != nil {
			switch {
			case o.NotRun:
				fmt.Fprintf(w, "    result  not run: %s\n", o.Error)
			case o.Error != "":
				fmt.Fprintf(w, "    result  error %s: %s (%s)\n", o.ErrorCode, o.Error, o.Duration.Round(time.Microsecond))
			default:
				fmt.Fprintf(w, "    result  %s, %d rows, %d bytes (%s)\n", o.Tag, o.Rows, o.Bytes, o.Duration.Round(time.Microsecond))
			}
			printMasked(w, o.Masked)
			printPreview(w, o.Preview)
		}
	}
	if r.Closed != nil {
		fmt.Fprintf(w, "\n  closed     %s: %s\n", r.Closed.Local().Format(time.DateTime+".000"), r.EndReason)
	}
}

func printMasked(w io.Writer, m map[string]int64) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	fmt.Fprintf(w, "    masked  %s\n", strings.Join(parts, " "))
}

// printPreview prints the first rows of a result as the client saw them.
func printPreview(w io.Writer, p *gate.Preview) {
	if p == nil || len(p.Rows) == 0 {
		return
	}
	fmt.Fprintf(w, "    rows    %s\n", strings.Join(p.Columns, " | "))
	for _, r := range p.Rows {
		cells := make([]string, len(r))
		for i, c := range r {
			if len(c) > 60 {
				c = c[:57] + "..."
			}
			cells[i] = c
		}
		fmt.Fprintf(w, "            %s\n", strings.Join(cells, " | "))
	}
	if p.Truncated {
		fmt.Fprintln(w, "            ...")
	}
}

func verdict(d gate.Decision) string {
	s := strings.ToUpper(d.Action.String())
	if d.Policy != "" {
		s += " by " + d.Policy
		if d.Rule != "" {
			s += "/" + d.Rule
		}
	}
	switch {
	case d.Action == gate.Review && d.ApprovalID != "":
		s += " (approval request " + d.ApprovalID + ")"
	case d.ApprovalID != "":
		s += " (approval " + d.ApprovalID + ": " + strings.Join(d.ApprovedBy, ", ") + ")"
	}
	if d.Action != gate.Allow && d.Message != "" {
		s += ": " + d.Message
	}
	return s
}

func formatParams(c gate.Command) string {
	parts := make([]string, len(c.Params))
	for i, p := range c.Params {
		if i < len(c.ParamNulls) && c.ParamNulls[i] {
			parts[i] = fmt.Sprintf("$%d=NULL", i+1)
		} else {
			parts[i] = fmt.Sprintf("$%d=%q", i+1, p)
		}
	}
	return strings.Join(parts, " ")
}
