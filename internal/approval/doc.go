// Package approval holds commands for human review and grants time-bound
// access. Service implements gate.Approver, the port the data path uses
// (Redeem, Request, Wait, Grants), and gate.Approvals, the deciding side
// the admin API, web UI and CLI use (List, Get, Decide, CanDecide,
// Subscribe, RequestGrant, Revoke).
//
// # A held statement
//
//	gate.Session.Hold
//	  -> Redeem: an approved, unused approval of exactly this statement? use it, run once
//	  -> Request: persist a pending request (approvers, required, context, expiry); webhooks: created
//	  -> defer mode: the agent is told the URL and retries the identical statement later (Redeem)
//	  -> wait mode: Wait until decided (approved -> marked used, runs once), denied, expired, or
//	     the client goes away (cancelled)
//
// An approval authorizes one execution of exactly one statement by one
// identity on one connection under one policy version (see Redeem for the
// key). Approvers are the identities the request's approvers list names
// (the rule's, else Config.Approvers); nobody approves their own request;
// Required distinct approvers (by issuer and subject) approve it, one deny
// denies it.
//
// # What lives where
//
// Everything a request is lives in the store (store.ApprovalRow: indexed
// columns plus this package's JSON body with the request, votes, a
// revocation), so it survives restarts and is shared by replicas on one
// PostgreSQL store: a request made on one gateway can be decided on
// another, and a deferred statement retried after a restart is redeemed.
// Every state change is one store transaction holding the row
// (store.UpdateApproval), so concurrent votes, redemptions and expiries
// from any number of replicas serialise: no vote is lost or counted twice,
// and exactly one racer redeems an approval.
//
// The Service holds only what it can rebuild from the store: local waiters
// and their expiry timers, the grant cache, subscriber channels and the
// webhook queues (events queued at a crash are lost; see notify.go).
//
// # Waking up
//
// Waiters do not poll. The store announces every committed change
// (store.WatchApprovals): NOTIFY on a channel one dedicated LISTEN
// connection per process hears, for PostgreSQL, so a waiter on one replica
// resumes within milliseconds of a decision on another; an in-process
// broadcast for SQLite. See pubsub.go.
//
// # Time
//
// Creation, expiry and grant bounds come from Config.Clock (a gate.Clock,
// injectable in tests). A waiting request has a timer on that clock for
// its expiry; a sweep (at New, then every SweepInterval on the clock)
// expires the pending requests nobody waits for (defer mode, a gateway
// that died) and lapsed approvals and grants. Grants are filtered by the
// clock when read, so a grant ends on time whether or not it was swept.
// Webhook retries wait in real time.
//
// # Grants
//
// RequestGrant asks for "CONNECTION:ACCESS" for a duration up to the
// connection's max_grant; approved, it is active from the approval for the
// duration, and Grants (called for every statement) returns it from a
// memory cache kept current by the change feed.
package approval
