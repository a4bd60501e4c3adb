// Package audit records gatehouse's evidence: every gate.Event becomes one
// hash-chained record in a store.Store, and the records can be verified and
// read back as sessions.
//
// # Records and the chain
//
// Each gateway node appends to its own chain (Config.Chain, the node name),
// so replicas sharing a PostgreSQL store never contend for a head. A record
// is (chain, seq, time, kind, session, step, body, prev_hash, hash):
//
//   - body is the event's payload as JSON (encode.go): deterministic, so
//     equal events give equal bytes, and limited to the fields the event's
//     kind defines. No token is ever part of an event; an auth failure's
//     free-text fields are additionally scrubbed of anything JWT-shaped.
//   - hash = sha256 of {chain, seq, time, kind, session, step, body,
//     prev_hash} in the fixed JSON layout documented on hashRecord, with
//     prev_hash the previous record's hash (zeros for seq 1).
//
// A restarted Recorder continues its chain from the head in the store.
//
// # Recording: group commit, fail closed
//
//	Record(write-ahead) --queue--> writer goroutine --one transaction per group--> store
//	         ^                         |
//	         +------ commit result ----+
//
// One writer per Recorder takes every event queued while the previous
// group was committing and appends them in one transaction, so many
// concurrent sessions share each fsync. Record for a write-ahead event
// (session open, step decided) returns only after its group committed, or
// with the error: the gate then refuses the command (gate.ErrAuditUnavailable).
// Other events are queued; if their commit fails they are logged and
// counted as lost. See Recorder.Record for the exact contract, including
// context cancellation.
//
// # Verification and the trail
//
// Verify walks chains and reports the first bad record of each (removed,
// reordered, changed) and the heads to anchor externally; truncating a
// chain's tail is detectable only against such an anchor. Trail implements
// gate.Trail (sessions list, replay) over the same store.
package audit
