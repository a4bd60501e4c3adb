package sqlpg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
)

// catalogTimeout bounds each catalog query (statement_timeout).
const catalogTimeout = "30s"

// Catalog queries. Relations and functions of other sessions' temporary
// schemas and of TOAST schemas are left out. View definitions are printed
// with an empty search_path, so that every name outside pg_catalog comes
// out schema-qualified and resolves the same way whatever the agent's
// search_path is.
const (
	qUser  = `SELECT current_user`
	qPath  = `SELECT s FROM pg_catalog.unnest(pg_catalog.current_schemas(true)) WITH ORDINALITY AS u(s, n) ORDER BY n`
	qEmpty = `SELECT pg_catalog.set_config('search_path', '', true)`
	qRels  = `SELECT c.oid, n.nspname, c.relname, c.relkind,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY c.oid`
	qCols = `SELECT a.attrelid, a.attname, a.attnum, a.atttypid
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY a.attrelid, a.attnum`
	qInherits = `SELECT inhrelid, inhparent FROM pg_catalog.pg_inherits ORDER BY 1, 2`
	// qTypes lists the types defined outside the system schemas: a cast
	// to one of them may run a user function (CREATE CAST ... WITH
	// FUNCTION).
	qTypes = `SELECT n.nspname, t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)' ORDER BY 1, 2`
	// qFuncs lists output column names for functions with OUT parameters
	// or a composite result, and the body of SQL functions outside
	// pg_catalog (%s is the body expression, which depends on the server
	// version).
	qFuncs = `SELECT p.oid, n.nspname, p.proname, l.lanname, p.prokind, p.pronargs, p.pronargdefaults,
       p.provariadic <> 0, p.prorettype = 'pg_catalog.record'::pg_catalog.regtype,
       CASE WHEN p.proallargtypes IS NOT NULL THEN
              (SELECT pg_catalog.array_to_json(pg_catalog.array_agg(coalesce(p.proargnames[i], '') ORDER BY i))
               FROM pg_catalog.generate_subscripts(p.proargmodes, 1) AS i
               WHERE p.proargmodes[i] IN ('o', 'b', 't'))::text
            WHEN t.typrelid <> 0 THEN
              (SELECT pg_catalog.array_to_json(pg_catalog.array_agg(a.attname ORDER BY a.attnum))
               FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)::text
       END,
       CASE WHEN l.lanname = 'sql' AND n.nspname <> 'pg_catalog' THEN %s END,
       CASE WHEN l.lanname = 'sql' AND n.nspname <> 'pg_catalog' THEN pg_catalog.array_to_json(p.proargnames)::text END
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
JOIN pg_catalog.pg_type t ON t.oid = p.prorettype
WHERE n.nspname !~ '^pg_(toast|temp_)'
ORDER BY p.oid`
)

// LoadCatalog reads a Catalog over conn, which must be idle (not in a
// transaction): the gateway's own side connection to the upstream, logged
// in as the role whose search_path agents get. It runs a handful of
// read-only catalog queries in one REPEATABLE READ READ ONLY transaction,
// each bounded by a statement_timeout, and ends the transaction (with
// ROLLBACK) before returning. Errors wrap the server's.
func LoadCatalog(ctx context.Context, conn *pgconn.PgConn) (*Catalog, error) {
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = '"+catalogTimeout+"'").ReadAll(); err != nil {
		return nil, fmt.Errorf("sqlpg: load catalog: %w", err)
	}
	d, err := loadCatalogData(ctx, conn)
	_, rerr := conn.Exec(ctx, "ROLLBACK").ReadAll()
	if err != nil {
		return nil, fmt.Errorf("sqlpg: load catalog: %w", err)
	}
	if rerr != nil {
		return nil, fmt.Errorf("sqlpg: load catalog: end transaction: %w", rerr)
	}
	return newCatalog(d), nil
}

func loadCatalogData(ctx context.Context, conn *pgconn.PgConn) (catalogData, error) {
	var d catalogData
	query := func(sql string) ([][][]byte, error) {
		res, err := conn.Exec(ctx, sql).ReadAll()
		if err != nil {
			return nil, err
		}
		if len(res) != 1 {
			return nil, errors.New("unexpected result count")
		}
		return res[0].Rows, nil
	}
	rows, err := query(qUser)
	if err != nil || len(rows) != 1 {
		return d, fmt.Errorf("current_user: %v", err)
	}
	d.user = string(rows[0][0])
	if rows, err = query(qPath); err != nil {
		return d, fmt.Errorf("search_path: %w", err)
	}
	for _, r := range rows {
		d.searchPath = append(d.searchPath, string(r[0]))
	}
	if _, err := query(qEmpty); err != nil {
		return d, fmt.Errorf("search_path: %w", err)
	}

	if rows, err = query(qRels); err != nil {
		return d, fmt.Errorf("relations: %w", err)
	}
	byOID := make(map[uint32]*Relation, len(rows))
	d.viewSQL = map[uint32]string{}
	for _, r := range rows {
		rel := &Relation{OID: parseOID(r[0]), Schema: string(r[1]), Name: string(r[2])}
		if len(r[3]) > 0 {
			rel.Kind = r[3][0]
		}
		if r[4] != nil {
			d.viewSQL[rel.OID] = string(r[4])
		}
		d.rels = append(d.rels, rel)
		byOID[rel.OID] = rel
	}
	if rows, err = query(qCols); err != nil {
		return d, fmt.Errorf("columns: %w", err)
	}
	for _, r := range rows {
		rel := byOID[parseOID(r[0])]
		if rel == nil {
			continue
		}
		n, _ := strconv.ParseInt(string(r[2]), 10, 16)
		rel.Columns = append(rel.Columns, Column{Name: string(r[1]), AttNum: int16(n), TypeOID: parseOID(r[3])})
	}
	if rows, err = query(qInherits); err != nil {
		return d, fmt.Errorf("inheritance: %w", err)
	}
	for _, r := range rows {
		d.inherits = append(d.inherits, [2]uint32{parseOID(r[0]), parseOID(r[1])})
	}

	if rows, err = query(qTypes); err != nil {
		return d, fmt.Errorf("types: %w", err)
	}
	for _, r := range rows {
		d.userTypes = append(d.userTypes, string(r[0])+"\x00"+string(r[1]))
	}

	body := "p.prosrc"
	if v := serverVersionNum(conn); v == 0 || v >= 140000 {
		body = "coalesce(pg_catalog.pg_get_function_sqlbody(p.oid), p.prosrc)"
	}
	if rows, err = query(fmt.Sprintf(qFuncs, body)); err != nil {
		return d, fmt.Errorf("functions: %w", err)
	}
	for _, r := range rows {
		f := &function{oid: parseOID(r[0]), schema: string(r[1]), name: string(r[2]), lang: string(r[3])}
		if len(r[4]) > 0 {
			f.kind = r[4][0]
		}
		f.nargs, _ = strconv.Atoi(string(r[5]))
		f.ndefaults, _ = strconv.Atoi(string(r[6]))
		f.variadic = string(r[7]) == "t"
		f.record = string(r[8]) == "t"
		if r[9] != nil {
			if err := json.Unmarshal(r[9], &f.outCols); err != nil {
				return d, fmt.Errorf("function %s.%s: output columns: %w", f.schema, f.name, err)
			}
			for i, c := range f.outCols {
				if c == "" {
					f.outCols[i] = "column" + strconv.Itoa(i+1)
				}
			}
			if f.outCols == nil {
				f.outCols = []string{}
			}
		}
		if r[10] != nil {
			f.body = string(r[10])
		}
		if r[11] != nil {
			if err := json.Unmarshal(r[11], &f.argNames); err != nil {
				return d, fmt.Errorf("function %s.%s: argument names: %w", f.schema, f.name, err)
			}
		}
		d.funcs = append(d.funcs, f)
	}
	return d, nil
}

// serverVersionNum reads the major version from server_version ("15.4
// (Debian...)") as server_version_num would have it (150000); 0 if unknown.
func serverVersionNum(conn *pgconn.PgConn) int {
	s := conn.ParameterStatus("server_version")
	major := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		major = major*10 + int(c-'0')
	}
	return major * 10000
}

func parseOID(b []byte) uint32 {
	v, _ := strconv.ParseUint(string(b), 10, 32)
	return uint32(v)
}
