// Package identity verifies the OIDC tokens bots and agents present (as a
// database password or an HTTP bearer) and maps them to a gate.Identity.
// Its Verifier implements gate.Authenticator.
//
// For each configured issuer the Verifier reads the discovery document at
// URL + "/.well-known/openid-configuration" (whose "issuer" must equal URL
// exactly) and the key set at its jwks_uri, in the background: start-up
// never waits for an issuer, and one that is down is retried lazily while
// its tokens fail with reason "keys_unavailable". Key sets are cached; a
// token with an unknown kid refetches at most once a minute per issuer, and
// concurrent callers share one fetch.
//
// A token is checked in this order, each failure a *gate.AuthError with a
// stable Reason and a Detail an operator can act on:
//
//	size (MaxTokenSize)             too_large, missing
//	compact JWS, not JWE or nested  malformed
//	alg in the allow-list           algorithm (RS256 RS384 RS512 PS256 ES256 ES384 EdDSA)
//	iss is configured               issuer (chosen unverified, only to pick the keys)
//	signature by that issuer's key  signature, algorithm, keys_unavailable
//	aud includes the audience       audience
//	exp, nbf, iat +- ClockSkew      expired, not_yet_valid, issued_in_future
//	sub, groups, scope shapes       malformed
//
// A DevIssuer signs tokens with a local Ed25519 key for trying gatehouse
// out; a Verifier accepts them only when Config.Dev names it.
//
// Tokens never appear in errors or logs. Values taken from a token (an
// unconfigured iss, a kid, an alg) are quoted and truncated.
package identity
