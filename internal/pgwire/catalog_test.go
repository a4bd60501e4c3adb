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

// Partial masking keeps a hint of a value only when the value is the
// protected column itself; anything derived from it (a whole row, an
// expression) is redacted instead, or partial would show its shape.
func TestPartialOnlyForDirectReferences(t *testing.T) {
	m, err := mask.New(mask.Config{Strategy: "partial"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config, g *gate.Config) {
		c.Classifier = sqlpg.New(sqlpg.Config{})
		c.Masks = map[string]*Masking{"test": {Masker: m, Columns: []string{"people.email"}}}
		g.Policy = namedPolicy{"test", func(gate.Input) gate.Decision {
			return gate.Decision{Action: gate.Allow, Policy: "test", Rule: "all"}
		}}
	})
	owner := connect(t, h.pg.DSN(h.db.Name, h.db.User, h.db.Password))
	for _, sql := range []string{"CREATE TABLE people (id int, email text)", "INSERT INTO people VALUES (1, 'alice.long.name@example.org')"} {
		if _, err := owner.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	c := connect(t, h.dsn(tokenAgent))
	q := func(sql string) string {
		var s string
		if err := c.QueryRow(context.Background(), sql).Scan(&s); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return s
	}
	if got := q("SELECT email FROM people"); got != "a***@example.org" {
		t.Errorf("direct reference: %q, want the partial form", got)
	}
	for _, sql := range []string{"SELECT row_to_json(p)::text FROM people p", "SELECT lower(email) FROM people", "SELECT email || '' FROM people"} {
		if got := q(sql); got != "<REDACTED>" {
			t.Errorf("%s: %q, want <REDACTED> (derived values are not partially masked)", sql, got)
		}
	}
}
