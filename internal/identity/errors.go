package identity

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// Reasons are the stable gate.AuthError codes this package returns. Metrics
// and tests key on them; Detail is for people and may change.
const (
	reasonMissing         = "missing"          // no token at all
	reasonTooLarge        = "too_large"        // longer than MaxTokenSize
	reasonMalformed       = "malformed"        // not a signed JWT, or a claim has the wrong shape
	reasonAlgorithm       = "algorithm"        // alg not allowed, or not the key's
	reasonSignature       = "signature"        // no key verifies the signature
	reasonIssuer          = "issuer"           // iss absent or not configured
	reasonAudience        = "audience"         // aud does not name us
	reasonExpired         = "expired"          // exp passed (beyond the skew)
	reasonNotYetValid     = "not_yet_valid"    // nbf ahead (beyond the skew)
	reasonIssuedInFuture  = "issued_in_future" // iat ahead (beyond the skew)
	reasonKeysUnavailable = "keys_unavailable" // the issuer's keys could not be fetched
)

// fail builds the *gate.AuthError every failure is. Callers never pass the
// token or any part of it in args; values taken from inside a token go
// through quote.
func fail(reason, format string, args ...any) *gate.AuthError {
	return &gate.AuthError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// maxQuoted bounds how much of a token-supplied value (an iss, a kid, an
// alg) is echoed into an error, so a caller cannot flood the audit trail.
const maxQuoted = 120

// quote renders a string taken from a token for an error message: Go-quoted
// (so control characters cannot forge log lines) and cut to maxQuoted bytes.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}

// quoteList renders a list of token-supplied strings as ["a", "b"], showing
// at most five entries.
func quoteList(ss []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 5 {
			fmt.Fprintf(&b, "... %d more", len(ss)-i)
			break
		}
		b.WriteString(quote(s))
	}
	b.WriteByte(']')
	return b.String()
}
