package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSQLite(t *testing.T) {
	runConformance(t, func(t *testing.T) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "sub", "dir", "gatehouse.db")
	})
}

func TestSQLiteSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := open(t, "sqlite://"+path).(*sqliteStore)
	ctx := context.Background()
	for _, tc := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "synchronous", "2"}, // FULL
		{s.w, "foreign_keys", "1"},
		{s.w, "busy_timeout", "10000"},
		{s.r, "query_only", "1"},
		{s.r, "synchronous", "2"},
	} {
		var got string
		if err := tc.db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestSQLiteAppendOnly(t *testing.T) {
	s := open(t, "sqlite://"+filepath.Join(t.TempDir(), "g.db")).(*sqliteStore)
	ctx := context.Background()
	if err := s.Append(ctx, []Record{rec("a", 1, KindStep, "s", 1)}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit_records SET body = x'00'`, `DELETE FROM audit_records`} {
		if _, err := s.w.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want append-only", q, err)
		}
	}
}

func TestSQLiteNewerSchemaRefused(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "g.db")
	s := open(t, url).(*sqliteStore)
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, applied_ns) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), url)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open on a newer schema: %v", err)
	}
}
