package pgwire

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/mask"
	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// A schema change through the gateway reloads the catalog: a table created
// after the first masked statement is known at once, so its protected
// column is masked and its other columns are not (an unknown relation
// would be masked whole).
func TestCatalogReloadsAfterDDL(t *testing.T) {
	m, err := mask.New(mask.Config{Strategy: "redact"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config, g *gate.Config) {
		c.Classifier = sqlpg.New(sqlpg.Config{})
		c.Masks = map[string]*Masking{"test": {Masker: m, Columns: []string{"*.secret_col"}}}
		g.Policy = namedPolicy{"test", func(gate.Input) gate.Decision {
			return gate.Decision{Action: gate.Allow, Policy: "test", Rule: "all"}
		}}
	})
	c := connect(t, h.dsn(tokenAgent))
	ctx := context.Background()
	q := func(sql string) string {
		var s string
		if err := c.QueryRow(ctx, sql).Scan(&s); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return s
	}
	if got := q("SELECT name FROM items WHERE id = 1"); got != "item 1" {
		t.Fatalf("before DDL: %q", got)
	}
	for _, ddl := range []string{"CREATE TABLE later (plain text, secret_col text)", "INSERT INTO later VALUES ('visible', 'hidden-value')"} {
		if _, err := c.Exec(ctx, ddl); err != nil {
			t.Fatal(err)
		}
	}
	if got := q("SELECT plain FROM later"); got != "visible" {
		t.Fatalf("unprotected column of a new table: %q (the catalog was not reloaded after DDL)", got)
	}
	if got := q("SELECT secret_col FROM later"); got == "hidden-value" {
		t.Fatalf("protected column of a new table leaked")
	}
}
