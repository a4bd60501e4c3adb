// Package web is the admin HTTP adapter: /healthz, /metrics, the JSON API
// (sessions and their replay, approvals, grants), the web UI where people
// decide held statements and grants, and, when the gateway is its own dev
// issuer, /dev/token for minting trial tokens.
//
// It reaches the core only through gate's ports and the func fields of
// Config: gate.Authenticator (bearer tokens), gate.Trail (sessions),
// gate.Approvals (the deciding side of review) and UIConfig.Claims
// (identity.FromClaims, to map a signed-in user's ID token). It imports no
// port implementation (arch_test.go enforces it).
//
// # JSON API (bearer tokens)
//
// API callers send Authorization: Bearer <OIDC token>, verified by the same
// gate.Authenticator as agents; the API ignores cookies, so it needs no
// CSRF protection. 401 without a valid token.
//
//	GET  /api/sessions[?connection=&sub=&trace_id=&since=&limit=]  admins, auditors
//	GET  /api/sessions/{id}                                       admins, auditors
//	GET  /api/approvals[?status=pending&limit=]                   see "Reading approvals"
//	GET  /api/approvals/{id}                                      404 unknown, 403 not readable
//	GET  /api/approvals/events                                    server-sent events (see sse.go)
//	POST /api/approvals/{id}/approve  {"comment": "..."}          403 ErrForbidden, 409 ErrConflict
//	POST /api/approvals/{id}/deny     {"comment": "..."}          comment required (400)
//	POST /api/grants   {"connection","access","duration","reason"} any identity, for itself: 201
//	GET  /api/grants[?status=active|pending|...&connection=&sub=&limit=]
//	POST /api/grants/{id}/revoke      {"comment": "..."}          admins, approvers, requester
//
// Reading approvals: access.admins, access.auditors and the default
// approvers (Config.Approvers) read every approval; anyone else reads the
// ones they may decide (Approvals.CanDecide) and the ones they requested,
// so a bot can poll its own grant request. Deciding is up to
// Approvals.Decide; errors.go maps its errors to 403, 404 and 409.
//
// # Web UI (browser sessions)
//
// Served when UIConfig.Issuer is set (single sign-on) or UIConfig.Dev is
// true (a development form that signs in whoever it names, offered like
// /dev/token to loopback clients only, under a banner). Pages:
//
//	GET  /login, /login/oidc, /auth/callback, POST /login/dev, POST /logout
//	GET  /approvals              the inbox: pending requests, live
//	GET  /approvals/{id}         one request (the URL agents are given)
//	POST /approvals/{id}/decide  decision=approve|deny, comment, csrf
//	GET  /approvals/events       the inbox's event stream
//	GET  /sessions, /sessions/{id}   sessions and replay (admins, auditors)
//	GET  /static/...             embedded CSS and JS
//
// Sign-in with single sign-on is the authorization code flow with PKCE:
//
//	browser            gatehouse                         issuer
//	GET /approvals/X -> 303 /login?next=/approvals/X
//	GET /login/oidc  -> seal {state, nonce, verifier, next} in the
//	                    gatehouse_login cookie (10 min);
//	                    302 /authorize?state&nonce&code_challenge(S256) ->
//	                                                      signs the user in
//	GET /auth/callback?code&state  <----------------------302
//	                    state == cookie's? (else 400)
//	                    POST /token code + code_verifier ->
//	                    verify the ID token (keys, iss, aud, exp) and
//	                    its nonce; UIConfig.Claims -> gate.Identity;
//	                    seal the session cookie; 303 next
//
// The session is a cookie sealed with AES-256-GCM under a key derived from
// UIConfig.SessionKey: nothing is kept server-side, so every replica with
// the same key accepts it. It holds a random session id, the issuer,
// subject, email and groups (not the other claims) and an expiry
// (UIConfig.SessionTTL, 8h by default, independent of the ID token's).
// It is HttpOnly, SameSite=Lax, Path=/, and Secure with the __Host- prefix
// when the request came over TLS or UIConfig.SecureCookies is set. Signing
// out deletes it; a copy taken before stays valid until it expires.
//
// Every form carries a CSRF token, an HMAC of the session id (of the login
// state, for the dev form), checked with the Origin header on each POST.
// Pages send a strict Content-Security-Policy (no inline script; scripts,
// styles and connections to this origin only).
//
// Templates (templates/), CSS and JS (static/) are embedded; the pages
// work without script, and app.js makes the inbox live (EventSource),
// runs countdowns and posts decisions without reloading.
package web
