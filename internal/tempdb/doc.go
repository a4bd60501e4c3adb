// Package tempdb starts throwaway database servers from the installed
// binaries: PostgreSQL (initdb + pg_ctl into a temporary directory, SCRAM
// password authentication, TLS, a random port). The demo uses it to give a
// gateway something to guard; tests use it through internal/testenv.
//
// When the process runs as root, server processes run as the "postgres" OS
// user, because initdb refuses root.
package tempdb
