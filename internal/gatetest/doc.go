// Package gatetest provides fakes for gate's ports, for tests only: a token
// table Authenticator, a function Policy, an in-memory Recorder that can be
// told to fail, and a manual Clock. Production packages never import it.
package gatetest
