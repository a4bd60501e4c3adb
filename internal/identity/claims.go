package identity

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// maxNumericDate is 9999-12-31T23:59:59Z: later dates, and negative ones,
// are refused as malformed rather than converted with overflow.
const maxNumericDate = 253402300799

// decodeClaims decodes a JWT payload, which must be one JSON object.
// Numbers decode as float64, as gate.Identity.Claims documents.
func decodeClaims(payload []byte) (map[string]any, error) {
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, fail(reasonMalformed, "token payload is not a JSON object")
	}
	return claims, nil
}

// identity checks the claims of a token whose signature is is's, at now,
// and maps them to an identity. claims becomes the identity's Claims.
func (is *issuer) identity(claims map[string]any, now time.Time) (*gate.Identity, error) {
	if err := is.checkAudience(claims); err != nil {
		return nil, err
	}
	exp, err := checkTimes(claims, now)
	if err != nil {
		return nil, err
	}
	id, err := mapClaims(claims, is.url, is.groupsClaim)
	if err != nil {
		return nil, err
	}
	// The gateway accepts the token until exp plus the clock skew, so its
	// sessions last as long (gate ends a session at Identity.Expiry).
	id.Expiry = exp.Add(ClockSkew)
	return id, nil
}

// FromClaims maps claims to an identity exactly as Authenticate does for a
// verified token of issuer iss whose groups claim is groupsClaim, but
// verifies nothing: it is for tools that show what a policy would decide
// for given claims (gatehouse explain), never for authentication.
func FromClaims(claims map[string]any, iss, groupsClaim string) (*gate.Identity, error) {
	if groupsClaim == "" {
		groupsClaim = DefaultGroupsClaim
	}
	id, err := mapClaims(claims, iss, groupsClaim)
	if err != nil {
		return nil, err
	}
	if exp, ok, _ := numericDate(claims, "exp"); ok {
		id.Expiry = exp
	}
	return id, nil
}

// mapClaims builds the identity fields from claims (sub, email, groups,
// scopes); Expiry is left to the caller.
func mapClaims(claims map[string]any, iss, groupsClaim string) (*gate.Identity, error) {
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, fail(reasonMalformed, `token has no "sub" claim (a non-empty string naming the caller)`)
	}
	id := &gate.Identity{Issuer: iss, Subject: sub, Claims: claims}
	if email, ok := claims["email"].(string); ok && !isFalse(claims["email_verified"]) {
		id.Email = email
	}
	if v, ok := claims[groupsClaim]; ok {
		if id.Groups, ok = stringList(v); !ok {
			return nil, fail(reasonMalformed, "token claim %q (the groups claim) is not a string or an array of strings", groupsClaim)
		}
	}
	for _, name := range []string{"scope", "scp"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		if s, isStr := v.(string); isStr {
			id.Scopes = strings.Fields(s)
		} else if id.Scopes, ok = stringList(v); !ok {
			return nil, fail(reasonMalformed, "token claim %q is not a space-separated string or an array of strings", name)
		}
		break
	}
	return id, nil
}

// checkAudience requires is.audience among the token's aud.
func (is *issuer) checkAudience(claims map[string]any) error {
	v, ok := claims["aud"]
	if !ok {
		return fail(reasonAudience, `token has no "aud" claim; it must include %q`, is.audience)
	}
	aud, ok := stringList(v)
	if !ok {
		return fail(reasonMalformed, `token claim "aud" is not a string or an array of strings`)
	}
	if !slices.Contains(aud, is.audience) {
		return fail(reasonAudience, "token audience %s does not include %q", quoteList(aud), is.audience)
	}
	return nil
}

// checkTimes checks exp (required), nbf and iat against now with ClockSkew
// of tolerance either way, and returns exp.
func checkTimes(claims map[string]any, now time.Time) (time.Time, error) {
	exp, ok, err := numericDate(claims, "exp")
	switch {
	case err != nil:
		return time.Time{}, err
	case !ok:
		return time.Time{}, fail(reasonMalformed, `token has no "exp" claim; only tokens that expire are accepted`)
	case !now.Before(exp.Add(ClockSkew)):
		return time.Time{}, fail(reasonExpired, "token expired at %s (now %s)", stamp(exp), stamp(now))
	}
	nbf, ok, err := numericDate(claims, "nbf")
	switch {
	case err != nil:
		return time.Time{}, err
	case ok && nbf.After(now.Add(ClockSkew)):
		return time.Time{}, fail(reasonNotYetValid, "token is not valid before %s (now %s)", stamp(nbf), stamp(now))
	}
	iat, ok, err := numericDate(claims, "iat")
	switch {
	case err != nil:
		return time.Time{}, err
	case ok && iat.After(now.Add(ClockSkew)):
		return time.Time{}, fail(reasonIssuedInFuture, "token was issued at %s, which is in the future (now %s); check the issuer's clock", stamp(iat), stamp(now))
	}
	return exp, nil
}

// numericDate reads an RFC 7519 NumericDate claim: seconds since the epoch,
// possibly fractional. ok is false when the claim is absent.
func numericDate(claims map[string]any, name string) (t time.Time, ok bool, err error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || f < 0 || f > maxNumericDate {
		return time.Time{}, true, fail(reasonMalformed, "token claim %q is not a date (seconds since 1970 as a JSON number)", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

// stamp formats a time for a message, in UTC to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// stringList reads a claim that is one string or an array of strings.
func stringList(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// isFalse reports whether an email_verified value says "not verified": the
// JSON false, or the string "false" some issuers send.
func isFalse(v any) bool {
	switch v := v.(type) {
	case bool:
		return !v
	case string:
		return strings.EqualFold(strings.TrimSpace(v), "false")
	}
	return false
}
