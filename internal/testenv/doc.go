// Package testenv gives tests throwaway servers: PostgreSQL (from
// internal/tempdb: initdb + pg_ctl into a temporary directory, SCRAM
// password auth, TLS, a random port) with a fresh database per test, and an
// in-process OIDC issuer.
//
// Servers are real and private to the test binary; tests never touch the
// machine's already-running services. A package that uses a shared server
// stops it in TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// When the tests run as root, server processes run as the "postgres" OS
// user, because initdb refuses root.
package testenv
