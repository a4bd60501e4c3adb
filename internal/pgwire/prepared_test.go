package pgwire

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// SQL PREPARE / EXECUTE with the real classifier under a read-only policy:
// EXECUTE is decided as the statement it runs, once the server has
// completed the PREPARE; unknown or deallocated names stay admin.
func TestSQLPrepareExecute(t *testing.T) {
	h := newHarness(t, func(c *Config, g *gate.Config) {
		c.Classifier = sqlpg.New(sqlpg.Config{})
		g.Policy = gatetest.AllowKinds(gate.KindRead, gate.KindTransaction, gate.KindSession)
	})
	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	simple := func(sql string) error {
		_, err := c.PgConn().Exec(ctx, sql).ReadAll()
		return err
	}
	if err := simple("PREPARE r AS SELECT count(*) FROM items"); err != nil {
		t.Fatal(err)
	}
	if err := simple("EXECUTE r"); err != nil {
		t.Fatalf("EXECUTE of a prepared read: %v", err)
	}
	// A write cannot be prepared under a read-only policy, so EXECUTE of
	// its name is unknown and refused as admin.
	if pe := pgErr(t, simple("PREPARE w AS DELETE FROM items")); pe.Code != "42501" {
		t.Fatalf("PREPARE of a write: %v", pe)
	}
	if pe := pgErr(t, simple("EXECUTE w")); pe.Code != "42501" || !strings.Contains(pe.Message, "admin") {
		t.Fatalf("EXECUTE of an unknown name: %s %s", pe.Code, pe.Message)
	}
	// A PREPARE that fails upstream is not applied.
	if pe := pgErr(t, simple("PREPARE bad AS SELECT * FROM no_such_table")); pe.Code != "42P01" {
		t.Fatalf("want undefined table, got %v", pe)
	}
	if pe := pgErr(t, simple("EXECUTE bad")); pe.Code != "42501" {
		t.Fatalf("EXECUTE of a failed PREPARE: %v", pe)
	}
	if err := simple("DEALLOCATE r"); err != nil {
		t.Fatal(err)
	}
	if pe := pgErr(t, simple("EXECUTE r")); pe.Code != "42501" {
		t.Fatalf("EXECUTE after DEALLOCATE: %v", pe)
	}
}
