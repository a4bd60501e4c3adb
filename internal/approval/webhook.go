package approval

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Webhook is the body posted to a "json" notify target (Content-Type
// application/json). Version 1; fields are only ever added.
//
//	{
//	  "version": 1,
//	  "event": "approval.created",      // .approved .denied .expired .cancelled
//	  "time": "2026-03-01T12:00:00Z",   // when it happened
//	  "id": "ap_6v3k2m9q4t7x1b5c",      // gr_... for a grant request
//	  "kind": "statement",              // or "grant"
//	  "status": "pending",              // the approval's status after the event
//	  "url": "https://gatehouse.example/approvals/ap_6v3k2m9q4t7x1b5c",
//	  "identity": {"issuer": "https://idp.example", "subject": "bot-1", "email": "bot@example.com"},
//	  "connection": "shop",
//	  "statement": "DELETE FROM orders WHERE ...",   // statements; at most 4000 bytes
//	  "statement_truncated": false,
//	  "classification": {"kind": "write", "statements": ["DELETE"], "tables": ["public.orders"]},
//	  "reason": "clean up test orders",  // the agent's stated reason
//	  "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
//	  "policy": "agents", "rule": "big-writes", "message": "...", "policy_version": "9f2c...",
//	  "approvers": ["group:dba"], "required": 2,
//	  "votes": [{"by": "alice (alice@example.com)", "subject": "alice", "approve": true, "comment": "ok", "at": "..."}],
//	  "impact": {"estimated_rows": 1200, "exact_rows": 1187},
//	  "grant": {"access": "write", "duration": "2h0m0s", "duration_seconds": 7200, "starts": "...", "ends": "..."},
//	  "revoked": {"by": "...", "subject": "...", "comment": "...", "at": "..."},
//	  "created": "...", "expires": "..."
//	}
//
// Parameter values are never sent (they may be personal data); approvers
// see them at url. Absent optional fields are omitted.
type Webhook struct {
	Version        int            `json:"version"`
	Event          string         `json:"event"`
	Time           time.Time      `json:"time"`
	ID             string         `json:"id"`
	Kind           string         `json:"kind"`
	Status         string         `json:"status"`
	URL            string         `json:"url"`
	Identity       WebhookID      `json:"identity"`
	Connection     string         `json:"connection"`
	Statement      string         `json:"statement,omitempty"`
	Truncated      bool           `json:"statement_truncated,omitempty"`
	Classification *WebhookClass  `json:"classification,omitempty"`
	Reason         string         `json:"reason,omitempty"`
	TraceID        string         `json:"trace_id,omitempty"`
	Policy         string         `json:"policy,omitempty"`
	Rule           string         `json:"rule,omitempty"`
	Message        string         `json:"message,omitempty"`
	PolicyVersion  string         `json:"policy_version,omitempty"`
	Approvers      []string       `json:"approvers"`
	Required       int            `json:"required"`
	Votes          []WebhookVote  `json:"votes"`
	Impact         *WebhookImpact `json:"impact,omitempty"`
	Grant          *WebhookGrant  `json:"grant,omitempty"`
	Revoked        *Revocation    `json:"revoked,omitempty"`
	Created        time.Time      `json:"created"`
	Expires        time.Time      `json:"expires"`
}

// WebhookID is the requester.
type WebhookID struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
	Email   string `json:"email,omitempty"`
}

// WebhookClass is the statement's classification.
type WebhookClass struct {
	Kind       string   `json:"kind"`
	Statements []string `json:"statements,omitempty"`
	Tables     []string `json:"tables,omitempty"`
}

// WebhookVote is one approver's vote.
type WebhookVote struct {
	By      string    `json:"by"`
	Subject string    `json:"subject"`
	Approve bool      `json:"approve"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// WebhookImpact is the estimate of what a statement changes.
type WebhookImpact struct {
	EstimatedRows int64  `json:"estimated_rows"`
	ExactRows     *int64 `json:"exact_rows,omitempty"`
}

// WebhookGrant is a grant request.
type WebhookGrant struct {
	Access          string    `json:"access"`
	Duration        string    `json:"duration"`
	DurationSeconds int64     `json:"duration_seconds"`
	Starts          time.Time `json:"starts,omitzero"`
	Ends            time.Time `json:"ends,omitzero"`
}

// maxStatement bounds the statement text in webhooks.
const maxStatement = 4000

// webhook builds the JSON payload of ev.
func webhook(ev *notice) Webhook {
	a := ev.a
	r := &a.Request
	w := Webhook{
		Version: 1, Event: "approval." + ev.event, Time: ev.at.UTC(), ID: a.ID, Kind: "statement", Status: string(a.Status), URL: a.URL,
		Connection: r.Target.Name, Reason: r.Command.Request.Reason, TraceID: r.Command.Request.TraceID,
		Policy: r.Decision.Policy, Rule: r.Decision.Rule, Message: r.Decision.Message, PolicyVersion: r.Decision.PolicyVersion,
		Approvers: []string{}, Required: a.Required, Votes: []WebhookVote{}, Revoked: ev.revoked,
		Created: a.Created.UTC(), Expires: a.Expires.UTC(),
	}
	if id := r.Identity; id != nil {
		w.Identity = WebhookID{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email}
	}
	if rv := r.Decision.Review; rv != nil {
		w.Approvers = rv.Approvers
	}
	for _, v := range a.Votes {
		w.Votes = append(w.Votes, WebhookVote{By: v.By, Subject: v.Subject, Approve: v.Approve, Comment: v.Comment, At: v.At.UTC()})
	}
	if g := r.Grant; g != nil {
		w.Kind = "grant"
		w.Grant = &WebhookGrant{Access: g.Access, Duration: g.Duration.String(), DurationSeconds: int64(g.Duration / time.Second), Starts: g.Starts, Ends: g.Ends}
		return w
	}
	w.Statement, w.Truncated = truncate(r.Command.Text, maxStatement)
	w.Classification = &WebhookClass{Kind: r.Command.Class.Kind.String(), Statements: r.Command.Class.Statements, Tables: r.Command.Class.Tables}
	if im := r.Impact; im != nil {
		w.Impact = &WebhookImpact{EstimatedRows: im.EstimatedRows, ExactRows: im.ExactRows}
	}
	return w
}

// truncate cuts s to at most n bytes at a character boundary.
func truncate(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// payload encodes ev for a target of format.
func payload(format string, ev *notice) ([]byte, error) {
	w := webhook(ev)
	if format == "slack" {
		return json.Marshal(slackMessage(&w))
	}
	return json.Marshal(w)
}

// slack is an incoming-webhook message: text (the notification fallback)
// and blocks.
type slack struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

var slackHeadlines = map[string]string{
	"approval.created":   ":hourglass_flowing_sand: Approval requested",
	"approval.approved":  ":white_check_mark: Approved",
	"approval.denied":    ":no_entry: Denied",
	"approval.expired":   ":alarm_clock: Expired undecided",
	"approval.cancelled": ":heavy_multiplication_x: Cancelled",
}

// slackMessage renders w for Slack. Everything from outside (SQL, reasons,
// comments, names) is escaped, so it cannot form links or mentions.
func slackMessage(w *Webhook) slack {
	who := w.Identity.Subject
	if w.Identity.Email != "" {
		who += " (" + w.Identity.Email + ")"
	}
	head := slackHeadlines[w.Event]
	if head == "" {
		head = w.Event
	}
	what := "run a statement on"
	if w.Grant != nil {
		what = fmt.Sprintf("%s access for %s to", w.Grant.Access, w.Grant.Duration)
	}
	summary := fmt.Sprintf("%s: %s wants %s %s", head, slackEscape(who), what, slackEscape(w.Connection))
	text := summary + " — <" + w.URL + "|" + w.ID + ">"
	var body strings.Builder
	fmt.Fprintf(&body, "*%s*\n*%s* wants %s *%s*", head, slackEscape(who), what, slackEscape(w.Connection))
	if w.Statement != "" {
		stmt := strings.ReplaceAll(w.Statement, "```", "` ` `")
		if w.Truncated {
			stmt += "\n…"
		}
		fmt.Fprintf(&body, "\n```%s```", slackEscape(stmt))
	}
	if w.Reason != "" {
		fmt.Fprintf(&body, "\n*Reason:* %s", slackEscape(w.Reason))
	}
	for _, v := range w.Votes {
		verb := "approved"
		if !v.Approve {
			verb = "denied"
		}
		fmt.Fprintf(&body, "\n%s %s", slackEscape(v.By), verb)
		if v.Comment != "" {
			fmt.Fprintf(&body, ": %s", slackEscape(v.Comment))
		}
	}
	if w.Revoked != nil {
		fmt.Fprintf(&body, "\nRevoked by %s", slackEscape(w.Revoked.By))
		if w.Revoked.Comment != "" {
			fmt.Fprintf(&body, ": %s", slackEscape(w.Revoked.Comment))
		}
	}
	fmt.Fprintf(&body, "\n<%s|Open %s>", w.URL, w.ID)
	ctx := fmt.Sprintf("%s · status %s · %d of %d approvals · expires %s", w.ID, w.Status, approvalsOf(w.Votes), w.Required, w.Expires.Format(time.RFC3339))
	return slack{Text: text, Blocks: []slackBlock{
		{Type: "section", Text: &slackText{Type: "mrkdwn", Text: body.String()}},
		{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: slackEscape(ctx)}}},
	}}
}

func approvalsOf(votes []WebhookVote) int {
	n := 0
	for _, v := range votes {
		if v.Approve {
			n++
		}
	}
	return n
}

// slackEscaper escapes the three characters Slack's mrkdwn treats as
// control sequences.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackEscape(s string) string { return slackEscaper.Replace(s) }
