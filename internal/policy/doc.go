// Package policy decides commands with CEL rules compiled once.
//
// An Engine implements gate.Policy. It is built by New from a Config that
// lists policies in order; each policy has a CEL `match` over the caller, a
// list of connections it covers and an ordered list of rules whose CEL `when`
// decides allow, deny or review:
//
//	for each policy, in order:
//	    skip it unless the target connection is listed (or "*") and match is true
//	    for each rule, in order: the first whose when is true decides
//	    no rule true: deny ("no rule of policy P allows this K command")
//	no policy applies: deny ("no policy applies to SUBJECT on connection C")
//
// Expressions see four typed variables (declared in types.go):
//
//	identity   {issuer, sub, email, groups, scopes, claims, grants}
//	connection {name, kind}
//	command    {kind, statements, tables, has_where, text, functions,
//	            masked_predicates, estimated_rows}
//	request    {reason, trace_id}
//
// Every expression is parsed and type-checked in New: a misspelt field, a
// non-boolean result or a syntax error is a *ConfigError naming the policy,
// the rule and the expression. The CEL standard library is available, plus
// the strings and sets extensions and optional values
// (identity.claims[?"tenant"].orValue("")). Regular expression literals are
// compiled in New too; object literals (gatehouse.Command{...}) are
// rejected there.
//
// The four variables are declared CEL object types whose fields are read by
// plain Go closures over the gate types (types.go, activation.go): no
// protobuf and no reflection on the hot path. Field values are converted to
// CEL values lazily, at most once per Decide, so a rule set that only looks
// at command.kind costs no more than that one field.
//
// Fail-closed contract: Decide never allows on error. An evaluation error
// (a missing map key, a failed conversion) returns a deny Decision naming
// the policy and rule, and an *EvalError; gate turns it into a deny. A
// command whose kind is unknown (the zero Kind) is denied before any rule
// runs.
//
// Every Decision carries the PolicyVersion of the whole Config, a short hex
// SHA-256 of its canonical encoding, so an approval given under one version
// is not reused under another.
//
// An Engine is immutable after New and safe for concurrent use.
package policy
