// Package mask finds and masks sensitive values in query results before
// they reach an agent (and the language model behind it).
//
// Two callers use it. The column-lineage engine knows that a result column
// comes from a protected table column and masks each of its values whole:
//
//	col := m.Column("customers.email")        // once per RowDescription
//	out, res := col.Mask(buf[:0], oid, value) // per row: Masked or Nulled
//
// Every other text value goes through the value detectors, which mask the
// spans they recognise and keep the rest of the text:
//
//	out, res := m.MaskText(buf[:0], value, &counts) // Clean, Masked or Nulled
//
// The detectors (one file each) are hand-written single-pass scanners over
// bytes, not regular expressions: email, phone, credit_card (Luhn), ssn,
// iban (mod-97), ip (v4 and v6), secret (cloud and SaaS tokens, JWTs, PEM
// private keys, URL passwords), plus custom regular expressions compiled
// once. Checksums, shapes and context keep false positives down: digests,
// UUIDs, timestamps, version strings and order numbers pass untouched (each
// scanner documents what it matches and what it leaves alone).
//
// Strategies (config.go, strategy.go, partial.go): redact writes a label
// (<EMAIL>, <CREDIT_CARD>, <REDACTED> for a whole column value); partial
// keeps a hint (**** **** **** 4444); hash writes a keyed HMAC-SHA256 token
// (tok_ and 16 hex digits), equal for equal values under one gateway key so
// that joins and GROUP BY still work; null turns the whole value into SQL
// NULL. A column whose PostgreSQL type cannot hold a text mask is nulled
// (HoldsText).
//
// The audit records how many values were masked, never a value: MaskText
// counts masked spans per detector into a caller-owned Counts array, which
// Tally turns into gate.Outcome.Masked keys ("detector:email").
//
// MaskStream masks text line by line (the "gatehouse mask" command).
//
// Contracts: a Masker is immutable and safe for concurrent use. MaskText
// and Column.Mask append to dst and never retain src or dst; with room in
// dst they allocate nothing when nothing matches. Masking is complete:
// masking an output of redact or hash again finds nothing; masking a
// partial output again never reveals more (the fuzz target checks both).
//
// Decisions the specification left open, and why:
//   - "1.2.3.4" alone is an IP address; after "v", "version", "release",
//     "build", "firmware"... or joined to a word by '/' or '-' it is a
//     version (ip.go).
//   - "user@localhost" is not an e-mail address: it has no domain (email.go).
//   - Full-width digits count as digits for cards, SSNs and phones; other
//     scripts' digits do not (digits.go).
//   - A card number may wrap across a line break when it is written in
//     groups of four; MaskStream masks line by line and does not see those.
//   - Unformatted nine-digit SSNs and ten-digit phone numbers need a keyword
//     before them ("SSN:", "tel"); formatted ones do not.
//   - Counts count spans, not values.
//   - bpchar and varchar lengths are not enforced (value.go).
package mask
