// Package gate is the protocol-neutral core of gatehouse.
//
// It owns the vocabulary every adapter speaks (Identity, Target, Command,
// Class, Decision, Event) and the per-step pipeline:
//
//	authenticate -> classify (adapter) -> decide -> record (write-ahead) -> forward (adapter) -> observe -> close
//
// Adapters (pgwire, and later mysqlwire, httpwire, mcp) translate wire traffic
// into a Command, ask a Session to Check it, forward it only when Check
// returned a Step, and report what came back with Step.End. Everything gate
// needs from the outside is a small port declared in ports.go; identity,
// policy, audit and approval implement them, cmd/gatehouse wires them.
//
// gate imports only the standard library (arch_test.go enforces it).
//
// Fail-closed contract: a command is forwarded only after its step record is
// durable. If the Recorder fails, Check returns ErrAuditUnavailable and the
// adapter must not forward the command. A policy evaluation error is a deny.
package gate
