package sqlpg

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// lineagePatterns are the mask patterns of the lineage corpus (also in
// its "% protect" line).
var lineagePatterns = []string{
	"customers.email", "customers.ssn", "customers.phone", "*.card_number", "customers.notes",
	"customers.meta", "billing.accounts.iban", "events.customer_email", `"Contacts"."Email"`,
}

// lineageFixture creates a database from testdata/lineage_schema.sql and
// returns a connection string to it, the catalog loaded from it and the
// corpus patterns resolved against that catalog.
func lineageFixture(t testing.TB) (dsn string, cat *Catalog, prot *Protected) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a PostgreSQL server")
	}
	data, err := os.ReadFile(filepath.Join("testdata", "lineage_schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var setup []string
	for _, s := range strings.Split(string(data), "\n;\n") {
		if s = strings.TrimSpace(s); s != "" {
			setup = append(setup, s)
		}
	}
	pg := testenv.SharedPostgres(t)
	db := pg.NewDatabase(t, setup...)
	dsn = pg.DSN(db.Name, db.User, db.Password)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	cat, err = LoadCatalog(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	prot, err = cat.Protect(lineagePatterns)
	if err != nil {
		t.Fatal(err)
	}
	return dsn, cat, prot
}
