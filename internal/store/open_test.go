package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestOpenURLErrors(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"", "want sqlite"},
		{"/var/lib/gatehouse.db", "want sqlite"},
		{"mysql://u:" + pw + "@h/db", `unknown scheme "mysql"`},
		{"sqlite://relative/g.db", "three slashes"},
		{"sqlite:relative.db", "want sqlite"},
		{"sqlite:///", "directory"},
		{"sqlite:///tmp/g.db?journal_mode=delete", `unknown parameter "journal_mode"`},
		{"sqlite:///tmp/g.db?sync=off", "sync must be full"},
		{"sqlite://u:" + pw + "@/tmp/g.db", "must not carry a user"},
		{"postgres://u:" + pw + "@/db", "no host"},
		{"postgres://u:" + pw + "@127.0.0.1:5432", "no database"},
		{"postgres://u:" + pw + "@127.0.0.1:5432/db?sslmode=bogus", "sslmode"},
		{"postgres://u:" + pw + "@127.0.0.1:1/db?connect_timeout=2", "127.0.0.1"},
		{"postgres://u:" + pw + "@127.0.0.1:1/db?connect_timeout=2", ""},
		{"postgres://u:" + pw + "%zz@127.0.0.1/db", "does not parse"},
		{"postgres://u:" + strings.ReplaceAll(pw, "-", "%2D") + "@127.0.0.1:1/db?connect_timeout=2", ""},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := Open(ctx, tc.url)
		cancel()
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tc.url)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("Open(%q) = %q, want it to mention %q", tc.url, msg, tc.want)
		}
		if strings.Contains(msg, pw) || strings.Contains(msg, "%2D") {
			t.Errorf("Open(%q) error contains the password: %q", tc.url, msg)
		}
	}
}

// sync=normal is accepted and changes SQLite's synchronous setting; full is
// the default.
func TestSQLiteSync(t *testing.T) {
	for _, tc := range []struct{ param, want string }{{"", "2"}, {"?sync=full", "2"}, {"?sync=normal", "1"}} {
		st, err := Open(context.Background(), "sqlite://"+t.TempDir()+"/g.db"+tc.param)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := st.(*sqliteStore).w.QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&got); err != nil || got != tc.want {
			t.Errorf("%q: synchronous = %q (%v), want %s", tc.param, got, err, tc.want)
		}
		st.Close()
	}
}
