package sqlpg

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// fixtureTables are created, with fixtureColumns each, so that most of the
// golden corpus gets past name resolution to execution.
var (
	fixtureTables = []string{"users", "orders", "t", "u", "v", "s", "c", "z", "q", "accounts", "sessions", "log",
		"bans", "staging", "docs", "tickets", "refunds", "admins", "banned", "other", "queue", "archive", "settings", "real", "stats_src"}
	fixtureColumns = "id int, a int, b int, x int, y int, v int, n int, pid int, name text, email text, active bool, " +
		"created_at timestamptz, status text, code text, amount numeric, total numeric, customer_id int, " +
		"user_id int, order_id int, data jsonb, doc xml, body text, expires timestamptz, balance int, tenant text, old bool, k text"
)

// TestAgainstPostgres runs the golden corpus on a real server (as a
// database owner, not a superuser), each text inside BEGIN READ ONLY, and
// uses the server as an independent oracle:
//
//   - whatever the server refuses as not read-only (SQLSTATE 25006) must not
//     be classified read, transaction or session;
//   - for texts that run, the server's completion tags must match the
//     statement tags (up to the row counts the server appends).
//
// Texts with transaction control are skipped (they would end the read-only
// transaction), and so are COPY ... STDIN/STDOUT (which need a copy
// protocol exchange).
func TestAgainstPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a PostgreSQL server")
	}
	pg := testenv.SharedPostgres(t)
	setup := []string{"CREATE SEQUENCE s1", "CREATE SEQUENCE orders_id_seq", "CREATE SCHEMA app", "CREATE TABLE app.users (" + fixtureColumns + ")"}
	for _, tbl := range fixtureTables {
		setup = append(setup, "CREATE TABLE "+tbl+" ("+fixtureColumns+")", "INSERT INTO "+tbl+" (id, a, b, name, email) VALUES (1, 1, 2, 'n', 'e')")
	}
	db := pg.NewDatabase(t, setup...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := pg.DSN(db.Name, db.User, db.Password)
	connect := func() *pgconn.PgConn {
		conn, err := pgconn.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SET statement_timeout = '5s'").ReadAll(); err != nil {
			t.Fatal(err)
		}
		return conn
	}
	conn := connect()
	defer func() { conn.Close(context.Background()) }()

	c := New(Config{})
	var refused, ran, checkedTags int
	// run executes sql in a transaction opened by begin and rolled back,
	// returning the completion tags or the error.
	run := func(begin, sql string) ([]string, error) {
		if _, err := conn.Exec(ctx, begin).ReadAll(); err != nil {
			conn.Close(ctx)
			conn = connect()
			return nil, err
		}
		results, err := conn.Exec(ctx, sql).ReadAll()
		if _, rerr := conn.Exec(ctx, "ROLLBACK").ReadAll(); rerr != nil || conn.IsClosed() {
			conn.Close(ctx)
			conn = connect()
		}
		var tags []string
		for _, r := range results {
			tags = append(tags, r.CommandTag.String())
		}
		return tags, err
	}
	for _, sql := range goldenSQL(t) {
		cl, err := c.Classify(sql, nil)
		if err != nil || len(cl.Statements) == 0 || skipOnServer(sql, cl) {
			continue
		}
		_, err = run("BEGIN READ ONLY", sql)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "25006" {
			refused++
			if cl.Kind < gate.KindWrite {
				t.Errorf("%q: server refuses it in a read-only transaction (%s), classified %v", sql, pgErr.Message, cl.Kind)
			}
		}
		// Tags: run it for real (then roll back) to see every statement's tag.
		tags, err := run("BEGIN", sql)
		if err != nil {
			continue
		}
		ran++
		if len(tags) == len(cl.Statements) {
			checkedTags++
			for i, tag := range tags {
				if want := completionPrefix(cl.Statements[i]); !strings.HasPrefix(tag, want) {
					t.Errorf("%q: statement %d: server tag %q, classified %q", sql, i, tag, cl.Statements[i])
				}
			}
		}
	}
	t.Logf("server refused %d texts as not read-only, ran %d, compared tags of %d", refused, ran, checkedTags)
	if refused < 20 || ran < 100 {
		t.Errorf("oracle too weak: %d refused, %d ran", refused, ran)
	}
}

// skipOnServer reports texts the oracle cannot run inside one read-only
// transaction on a plain connection.
func skipOnServer(sql string, cl *gate.Class) bool {
	if cl.Kind == gate.KindTransaction || slices.ContainsFunc(cl.Statements, func(s string) bool {
		switch s {
		case "BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE",
			"PREPARE TRANSACTION", "COMMIT PREPARED", "ROLLBACK PREPARED":
			return true
		}
		return false
	}) {
		return true
	}
	u := strings.ToUpper(sql)
	return strings.Contains(u, "STDIN") || strings.Contains(u, "STDOUT")
}

// completionPrefix maps a statement tag (PostgreSQL's command tag, as event
// triggers see it) to the start of the completion tag the server sends.
func completionPrefix(tag string) string {
	switch {
	case strings.HasPrefix(tag, "SELECT"), tag == "CREATE TABLE AS":
		return "SELECT"
	case tag == "CREATE MATERIALIZED VIEW":
		return "SELECT"
	case tag == "EXECUTE":
		return "" // the server reports the prepared statement's own tag
	}
	return tag
}

// psqlMetaCommands are psql's describe commands; psql implements them with
// catalog queries (echoed with -E) that a read-only policy must allow.
var psqlMetaCommands = []string{`\d`, `\d orders`, `\d+ orders`, `\d v`, `\d+ v`, `\d sq`, `\d orders_pkey`,
	`\dt`, `\dt+`, `\di+`, `\dn+`, `\df+`, `\dv`, `\du`, `\l+`, `\dx+`, `\dT+`, `\z orders`, `\ds`, `\dm`,
	`\dE`, `\dD`, `\dC`, `\dc`, `\dd`, `\ddp`, `\des`, `\dew`, `\det`, `\deu`, `\dF`, `\dFd`, `\dFp`,
	`\dFt`, `\dL`, `\do`, `\dO`, `\dy`, `\drds`, `\dRp`, `\dRs`, `\dA`, `\db`, `\dconfig`, `\dX`,
	`\sf f`, `\sv v`, `\dP`, `\da`, `\dAc`, `\dAf`, `\dAo`, `\dAp`, `\dl`, `\dS+ pg_class`}

// TestPsqlMetaCommandsAreReads runs psql's describe commands against a
// real server and classifies every catalog query psql sends: all must be
// read, or an agent under a read-only policy cannot use psql.
func TestPsqlMetaCommandsAreReads(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a PostgreSQL server")
	}
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not installed")
	}
	pg := testenv.SharedPostgres(t)
	db := pg.NewDatabase(t, "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, total numeric)",
		"CREATE VIEW v AS SELECT * FROM orders", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
		"CREATE SEQUENCE sq")
	args := []string{pg.DSN(db.Name, db.User, db.Password), "-X", "-E"}
	for _, c := range psqlMetaCommands {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("psql", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	c := New(Config{})
	queries := 0
	for _, blk := range strings.Split(string(out), "********* QUERY **********\n")[1:] {
		sql, _, ok := strings.Cut(blk, "**************************")
		if !ok {
			t.Fatalf("unexpected psql -E output: %q", blk)
		}
		queries++
		cl, err := c.Classify(sql, nil)
		switch {
		case err != nil:
			t.Errorf("psql sends %q\n%v", sql, err)
		case cl.Kind != gate.KindRead:
			t.Errorf("psql sends %q\nclassified %v: %q", sql, cl.Kind, cl.Notes)
		}
	}
	if queries < len(psqlMetaCommands) {
		t.Errorf("saw %d queries for %d commands", queries, len(psqlMetaCommands))
	}
}
