// Package web is the admin HTTP adapter: /healthz, /metrics, the JSON API
// (sessions and their replay) and, when the gateway is its own dev issuer,
// /dev/token for minting trial tokens.
//
// API callers authenticate with a bearer token verified by the same
// gate.Authenticator as agents; access.admins and access.auditors decide
// who may read the audit trail (401 without a valid token, 403 for others).
package web
