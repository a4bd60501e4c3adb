package testenv

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestPostgresSCRAMAndTLS(t *testing.T) {
	pg := SharedPostgres(t)
	db := pg.NewDatabase(t, "CREATE TABLE t (id int)", "INSERT INTO t VALUES (1), (2)")
	ctx := context.Background()
	dsn := pg.DSN(db.Name, db.User, db.Password)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}
	var method string
	if err := conn.QueryRow(ctx, "select current_setting('password_encryption')").Scan(&method); err != nil || method != "scram-sha-256" {
		t.Fatalf("password_encryption = %q, %v", method, err)
	}
	if _, err := pgx.Connect(ctx, pg.DSN(db.Name, db.User, "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	tlsConn, err := pgx.Connect(ctx, pg.DSN(db.Name, db.User, db.Password)+" sslmode=verify-full sslrootcert="+pg.CAFile)
	if err != nil {
		t.Fatalf("verify-full: %v", err)
	}
	tlsConn.Close(ctx)
}
