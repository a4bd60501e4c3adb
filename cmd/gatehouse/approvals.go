package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/sqlcomment"
)

// The approvals and grants commands are thin clients of the admin API
// (/api/approvals, /api/grants) at GATEHOUSE_URL with GATEHOUSE_TOKEN as
// the bearer: whoever the token names is who reads, votes or asks. The API
// decides what that identity may do; its refusals (403, 404, 409) are
// printed as it words them, and the exit status is then non-zero.

// approvalClient is newAPIClient with a token that names who acts.
func approvalClient() (*apiClient, error) {
	c, err := newAPIClient(false)
	if err != nil {
		return nil, err
	}
	if c.token == "" {
		return nil, errors.New("GATEHOUSE_TOKEN is not set: export your OIDC token (an approver's to decide, the requester's to ask for a grant)")
	}
	return c, nil
}

func newApprovalsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "List, inspect and decide statements and grants held for approval (GATEHOUSE_URL, GATEHOUSE_TOKEN)",
		Long: "Work with requests held for human approval on the gateway at GATEHOUSE_URL, as the identity whose token is\n" +
			"in GATEHOUSE_TOKEN. Approvers see and decide the requests they are approvers of; an approval lets exactly the\n" +
			"statement shown run once.",
	}
	var lf struct {
		status string
		limit  int
		json   bool
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List approval requests (pending ones unless --status says otherwise)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := approvalClient()
			if err != nil {
				return err
			}
			q := url.Values{}
			if lf.status != "all" {
				q.Set("status", lf.status)
			}
			if lf.limit > 0 {
				q.Set("limit", strconv.Itoa(lf.limit))
			}
			var out struct {
				Approvals []*gate.Approval `json:"approvals"`
			}
			if err := c.do("GET", "/api/approvals?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			if lf.json {
				return printJSON(g.stdout, out.Approvals)
			}
			if len(out.Approvals) == 0 {
				what := lf.status + " requests"
				if lf.status == "all" {
					what = "requests"
				}
				fmt.Fprintln(g.stdout, "no "+what)
				return nil
			}
			printApprovals(g.stdout, out.Approvals, lf.status != string(gate.ApprovalPending), time.Now())
			return nil
		},
	}
	list.Flags().StringVar(&lf.status, "status", "pending", "pending, approved, denied, expired, cancelled, used or all")
	list.Flags().IntVar(&lf.limit, "limit", 0, "at most this many, newest first (default 100)")
	list.Flags().BoolVar(&lf.json, "json", false, "print the API's JSON")

	var showJSON, showPlan bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show everything about one request: statement, parameters, impact, the agent's earlier steps, votes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := approvalClient()
			if err != nil {
				return err
			}
			var a gate.Approval
			if err := c.do("GET", "/api/approvals/"+url.PathEscape(args[0]), nil, &a); err != nil {
				return err
			}
			if showJSON {
				return printJSON(g.stdout, &a)
			}
			printApproval(g.stdout, &a, showPlan, time.Now())
			return nil
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print the API's JSON")
	show.Flags().BoolVar(&showPlan, "plan", false, "print the upstream's plan of a held statement (EXPLAIN)")

	cmd.AddCommand(list, show, newDecideCmd(g, true), newDecideCmd(g, false))
	return cmd
}

// newDecideCmd is `approvals approve` or `approvals deny`.
func newDecideCmd(g *globals, approve bool) *cobra.Command {
	verb, use, short := "deny", "deny ID --comment TEXT", "Deny a request (a comment saying why is required)"
	if approve {
		verb, use, short = "approve", "approve ID [--comment TEXT]", "Approve a request: the statement runs once (or the grant starts) when enough approvers agree"
	}
	var comment string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !approve && strings.TrimSpace(comment) == "" {
				return errors.New("deny needs --comment: say why, the agent is told")
			}
			c, err := approvalClient()
			if err != nil {
				return err
			}
			var a gate.Approval
			if err := c.do("POST", "/api/approvals/"+url.PathEscape(args[0])+"/"+verb, map[string]string{"comment": comment}, &a); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, decidedLine(&a))
			return nil
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "comment recorded with the vote and shown to the agent")
	return cmd
}

// decidedLine says where a request stands after a vote.
func decidedLine(a *gate.Approval) string {
	switch a.Status {
	case gate.ApprovalPending:
		return fmt.Sprintf("%s: %d of %d approvals; still pending", a.ID, countApprovals(a), a.Required)
	case gate.ApprovalApproved:
		if g := a.Request.Grant; g != nil {
			return fmt.Sprintf("%s: approved; %s on %s until %s", a.ID, g.Access, g.Connection, g.Ends.Local().Format(time.DateTime))
		}
		return fmt.Sprintf("%s: approved; the statement may run once (until %s)", a.ID, a.Expires.Local().Format(time.DateTime))
	}
	return fmt.Sprintf("%s: %s", a.ID, a.Status)
}

func countApprovals(a *gate.Approval) int {
	n := 0
	for _, v := range a.Votes {
		if v.Approve {
			n++
		}
	}
	return n
}

// printApprovals prints one line per request.
func printApprovals(w io.Writer, list []*gate.Approval, withStatus bool, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "ID\tAGE\tLEFT\tIDENTITY\tCONNECTION\tRULE\tSTATEMENT"
	if withStatus {
		head = "ID\tSTATUS\tAGE\tLEFT\tIDENTITY\tCONNECTION\tRULE\tSTATEMENT"
	}
	fmt.Fprintln(tw, head)
	for _, a := range list {
		r := &a.Request
		cols := []string{a.ID}
		if withStatus {
			cols = append(cols, string(a.Status))
		}
		cols = append(cols, shortDuration(now.Sub(a.Created)), timeLeft(a, now), subject(r.Identity), r.Target.Name,
			ruleOf(r.Decision), summary(a))
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
}

// timeLeft is how long a pending request waits, or an approval stays
// usable; "-" once it is over.
func timeLeft(a *gate.Approval, now time.Time) string {
	if a.Status != gate.ApprovalPending && a.Status != gate.ApprovalApproved || !now.Before(a.Expires) {
		return "-"
	}
	return shortDuration(a.Expires.Sub(now))
}

func subject(id *gate.Identity) string {
	if id == nil {
		return "?"
	}
	return id.Subject
}

func ruleOf(d gate.Decision) string {
	switch {
	case d.Policy != "" && d.Rule != "":
		return d.Policy + "/" + d.Rule
	case d.Policy != "":
		return d.Policy
	}
	return "-"
}

// summary is a request in a few words: the statement's first line, or
// what a grant asks for.
func summary(a *gate.Approval) string {
	if g := a.Request.Grant; g != nil {
		return fmt.Sprintf("grant %s for %s: %s", g.Access, g.Duration, oneLine(g.Reason, 60))
	}
	// Without comments (the agent's sqlcommenter tags) and with layout
	// collapsed: what the approval binds.
	return oneLine(sqlcomment.Normalize(a.Request.Command.Text), 72)
}

// oneLine returns the first non-blank line of s, cut to n characters.
func oneLine(s string, n int) string {
	line := ""
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			line = l
			break
		}
	}
	if more := strings.TrimSpace(s) != line; utf8.RuneCountInString(line) > n || more {
		r := []rune(line)
		if len(r) > n {
			r = r[:n]
		}
		line = string(r) + " …"
	}
	return line
}

// shortDuration renders d as 45s, 12m5s or 3h20m.
func shortDuration(d time.Duration) string {
	d = max(d.Round(time.Second), 0)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// printApproval prints one request in full, for deciding it.
func printApproval(w io.Writer, a *gate.Approval, plan bool, now time.Time) {
	r := &a.Request
	kind := "statement"
	if r.Grant != nil {
		kind = "grant"
	}
	fmt.Fprintf(w, "%s %s  %s, %d of %d approvals\n", kind, a.ID, a.Status, countApprovals(a), a.Required)
	field := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-14s %s\n", name, fmt.Sprintf(format, args...))
	}
	field("url", "%s", a.URL)
	if id := r.Identity; id != nil {
		field("identity", "%s (issuer %s, groups %s)", id, id.Issuer, strings.Join(id.Groups, ","))
	}
	field("connection", "%s", r.Target.Name)
	if r.SessionID != "" {
		field("session", "%s, step %d", r.SessionID, r.Step)
	}
	d := r.Decision
	if d.Policy != "" {
		msg := ruleOf(d)
		if d.Message != "" {
			msg += ": " + d.Message
		}
		if d.PolicyVersion != "" {
			msg += " (policy version " + d.PolicyVersion + ")"
		}
		field("rule", "%s", msg)
	}
	if rv := d.Review; rv != nil {
		field("approvers", "%s (%d required, mode %s)", strings.Join(rv.Approvers, ", "), rv.Required, rv.Mode)
	}
	field("created", "%s (%s ago)", a.Created.Local().Format(time.DateTime), shortDuration(now.Sub(a.Created)))
	switch left := timeLeft(a, now); {
	case a.Status == gate.ApprovalPending && left != "-":
		field("expires", "%s (in %s; undecided by then, it is refused)", a.Expires.Local().Format(time.DateTime), left)
	case a.Status == gate.ApprovalApproved && r.Grant == nil && left != "-":
		field("usable until", "%s (in %s)", a.Expires.Local().Format(time.DateTime), left)
	default:
		field("expires", "%s", a.Expires.Local().Format(time.DateTime))
	}
	if g := r.Grant; g != nil {
		field("grant", "%s on %s for %s", g.Access, g.Connection, g.Duration)
		if !g.Starts.IsZero() {
			field("active", "%s to %s", g.Starts.Local().Format(time.DateTime), g.Ends.Local().Format(time.DateTime))
		}
		if g.Reason != "" {
			field("reason", "%s", g.Reason)
		}
	} else {
		if rq := r.Command.Request; rq.Reason != "" {
			field("reason", "%s", rq.Reason)
		}
		if rq := r.Command.Request; rq.TraceID != "" {
			field("trace id", "%s", rq.TraceID)
		}
		fmt.Fprintf(w, "  statement\n")
		for l := range strings.SplitSeq(strings.TrimSpace(r.Command.Text), "\n") {
			fmt.Fprintf(w, "    | %s\n", l)
		}
		if len(r.Command.Params) > 0 {
			field("params", "%s", formatParams(r.Command))
		}
		cl := r.Command.Class
		class := cl.Kind.String() + " " + strings.Join(cl.Statements, ", ")
		if len(cl.Tables) > 0 {
			class += " on " + strings.Join(cl.Tables, ", ")
		}
		if !cl.HasWhere {
			class += " (no WHERE)"
		}
		field("classification", "%s", class)
		if len(cl.Notes) > 0 {
			field("notes", "%s", strings.Join(cl.Notes, "; "))
		}
		printImpact(w, r.Impact, plan, field)
	}
	if len(r.Context) > 0 {
		fmt.Fprintf(w, "  earlier steps of this run (%d)\n", len(r.Context))
		for _, st := range r.Context {
			fmt.Fprintf(w, "    step %d  %s  %s\n", st.N, st.Time.Local().Format(time.TimeOnly), verdict(st.Decision))
			for l := range strings.SplitSeq(strings.TrimSpace(st.Command.Text), "\n") {
				fmt.Fprintf(w, "      | %s\n", l)
			}
		}
	}
	if len(a.Votes) > 0 {
		fmt.Fprintf(w, "  votes\n")
		for _, v := range a.Votes {
			verb := "approved"
			if !v.Approve {
				verb = "denied"
			}
			line := fmt.Sprintf("    %s %s at %s", v.By, verb, v.At.Local().Format(time.DateTime))
			if v.Comment != "" {
				line += ": " + v.Comment
			}
			fmt.Fprintln(w, line)
		}
	}
	if rv := a.Revoked; rv != nil {
		line := fmt.Sprintf("%s at %s", rv.By, rv.At.Local().Format(time.DateTime))
		if rv.Comment != "" {
			line += ": " + rv.Comment
		}
		field("revoked by", "%s", line)
	}
}

func printImpact(w io.Writer, im *gate.Impact, plan bool, field func(name, format string, args ...any)) {
	if im == nil {
		return
	}
	var parts []string
	if im.EstimatedRows >= 0 {
		parts = append(parts, fmt.Sprintf("about %d rows (planner estimate)", im.EstimatedRows))
	}
	if im.ExactRows != nil {
		parts = append(parts, fmt.Sprintf("%d rows exactly (dry run, rolled back)", *im.ExactRows))
	}
	if im.Error != "" {
		parts = append(parts, im.Error)
	}
	if len(parts) > 0 {
		field("impact", "%s", strings.Join(parts, "; "))
	}
	if im.Plan != "" && !plan {
		field("plan", "%s", "(--plan shows it)")
	}
	if im.Plan != "" && plan {
		fmt.Fprintf(w, "  plan\n")
		for l := range strings.SplitSeq(strings.TrimRight(im.Plan, "\n"), "\n") {
			fmt.Fprintf(w, "    | %s\n", l)
		}
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newGrantsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grants",
		Short: "Ask for, list and revoke time-bound access (GATEHOUSE_URL, GATEHOUSE_TOKEN)",
		Long: "A grant adds CONNECTION:ACCESS to identity.grants of its requester for a while once an approver approves it\n" +
			"(gatehouse approvals approve ID); what it permits is up to the policy's rules.",
	}
	var rf struct {
		conn, access, duration, reason string
	}
	request := &cobra.Command{
		Use:     "request --connection NAME --access ACCESS --duration D --reason TEXT",
		Short:   "Ask for time-bound access for the token's identity",
		Example: `  gatehouse grants request --connection shop --access write --duration 30m --reason "backfill order totals"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := approvalClient()
			if err != nil {
				return err
			}
			var a gate.Approval
			body := map[string]string{"connection": rf.conn, "access": rf.access, "duration": rf.duration, "reason": rf.reason}
			if err := c.do("POST", "/api/grants", body, &a); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: %s access to %s for %s requested; %s until an approver decides at %s\n",
				a.ID, rf.access, rf.conn, rf.duration, a.Status, a.URL)
			return nil
		},
	}
	request.Flags().StringVar(&rf.conn, "connection", "", "the connection (required)")
	request.Flags().StringVar(&rf.access, "access", "", "read, write, ddl or admin (required)")
	request.Flags().StringVar(&rf.duration, "duration", "", "how long, from the approval, e.g. 30m (required; at most the connection's max_grant)")
	request.Flags().StringVar(&rf.reason, "reason", "", "why, for the approvers (required)")
	for _, f := range []string{"connection", "access", "duration", "reason"} {
		_ = request.MarkFlagRequired(f)
	}

	var lf struct {
		status, conn, sub string
		limit             int
		json              bool
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List grants and grant requests, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := approvalClient()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"status": lf.status, "connection": lf.conn, "sub": lf.sub} {
				if v != "" && v != "all" {
					q.Set(k, v)
				}
			}
			if lf.limit > 0 {
				q.Set("limit", strconv.Itoa(lf.limit))
			}
			var out struct {
				Grants []*gate.Approval `json:"grants"`
			}
			if err := c.do("GET", "/api/grants?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			if lf.json {
				return printJSON(g.stdout, out.Grants)
			}
			if len(out.Grants) == 0 {
				fmt.Fprintln(g.stdout, "no grants")
				return nil
			}
			printGrants(g.stdout, out.Grants, time.Now())
			return nil
		},
	}
	list.Flags().StringVar(&lf.status, "status", "all", "active, pending, approved, denied, expired, cancelled or all")
	list.Flags().StringVar(&lf.conn, "connection", "", "only this connection")
	list.Flags().StringVar(&lf.sub, "sub", "", "only this requester (subject)")
	list.Flags().IntVar(&lf.limit, "limit", 0, "at most this many (default 100)")
	list.Flags().BoolVar(&lf.json, "json", false, "print the API's JSON")

	var comment string
	revoke := &cobra.Command{
		Use:   "revoke ID [--comment TEXT]",
		Short: "End a grant now, or withdraw a grant request",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := approvalClient()
			if err != nil {
				return err
			}
			var a gate.Approval
			if err := c.do("POST", "/api/grants/"+url.PathEscape(args[0])+"/revoke", map[string]string{"comment": comment}, &a); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: %s\n", a.ID, a.Status)
			return nil
		},
	}
	revoke.Flags().StringVar(&comment, "comment", "", "why, recorded with the revocation")
	cmd.AddCommand(request, list, revoke)
	return cmd
}

// printGrants prints one line per grant.
func printGrants(w io.Writer, list []*gate.Approval, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tIDENTITY\tGRANT\tDURATION\tLEFT\tREASON")
	for _, a := range list {
		g := a.Request.Grant
		if g == nil {
			continue
		}
		status, left := string(a.Status), "-"
		switch {
		case a.Status == gate.ApprovalApproved && now.Before(g.Ends):
			status, left = "active", shortDuration(g.Ends.Sub(now))
		case a.Status == gate.ApprovalApproved:
			status = "ended"
		case a.Status == gate.ApprovalPending:
			left = timeLeft(a, now) + " to decide"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, status, subject(a.Request.Identity), g.Key(), g.Duration, left, oneLine(g.Reason, 60))
	}
	tw.Flush()
}
