package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// loadPII creates customers, a PII-heavy table of fictional people: every
// row has an email, a phone, a card number, an SSN and free-text notes
// that mention some of them.
func loadPII(ctx context.Context, t target, rows int) error {
	c, err := pgx.Connect(ctx, dsnOf(t))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, fmt.Sprintf(`
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, phone text, card_number text, ssn text, city text, notes text);
INSERT INTO customers
SELECT g, 'Customer ' || g, 'customer' || g || '@example.org', '+1 555 ' || lpad((g %% 10000)::text, 4, '0'),
       '4111 1111 1111 1111', lpad((100 + g %% 600)::text, 3, '0') || '-' || lpad((10 + g %% 80)::text, 2, '0') || '-' || lpad((1000 + g)::text, 4, '0'),
       (ARRAY['Lisbon','Oslo','Quito','Osaka','Perth'])[1 + g %% 5],
       CASE WHEN g %% 3 = 0 THEN 'asked to be called back on +1 555 0100 or mailed at backup' || g || '@example.net'
            ELSE 'regular order, delivered on time, no issues reported by the courier' END
FROM generate_series(1, %d) g;
ANALYZE customers;`, rows))
	return err
}

func dsnOf(t target) string {
	kv := map[string]string{}
	for _, e := range t.env {
		k, v, _ := strings.Cut(e, "=")
		kv[k] = v
	}
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=%s",
		kv["PGHOST"], kv["PGPORT"], kv["PGUSER"], kv["PGPASSWORD"], kv["PGDATABASE"], kv["PGSSLMODE"])
}

type scan struct {
	rows, bytes int64
	d           time.Duration
}

// scanAll reads every row of SELECT * FROM customers with the extended
// protocol (text results), counting rows and value bytes.
func scanAll(ctx context.Context, t target) (scan, error) {
	c, err := pgx.Connect(ctx, dsnOf(t))
	if err != nil {
		return scan{}, err
	}
	defer c.Close(ctx)
	start := time.Now()
	rows, err := c.Query(ctx, "SELECT * FROM customers", pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return scan{}, err
	}
	var s scan
	for rows.Next() {
		s.rows++
		for _, v := range rows.RawValues() {
			s.bytes += int64(len(v))
		}
	}
	s.d = time.Since(start)
	return s, rows.Err()
}

// measureMasking compares a SELECT of the whole PII table directly, through
// the gateway unmasked and through the gateway with every PII column
// protected and all value detectors on, interleaved round by round.
func measureMasking(ctx context.Context, rounds int, targets ...target) error {
	res := map[string][]scan{}
	for r := 0; r < rounds; r++ {
		for _, t := range targets {
			s, err := scanAll(ctx, t)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			res[t.name] = append(res[t.name], s)
		}
	}
	fmt.Printf("SELECT * FROM customers (%d rows), %d interleaved rounds, medians\n\n", res[targets[0].name][0].rows, rounds)
	fmt.Printf("%-18s %12s %10s %14s %14s\n", "path", "rows/s", "MB/s", "vs direct", "vs unmasked")
	var direct, unmasked float64
	for i, t := range targets {
		s := medianScan(res[t.name])
		rps := float64(s.rows) / s.d.Seconds()
		mbps := float64(s.bytes) / 1e6 / s.d.Seconds()
		switch i {
		case 0:
			direct = rps
		case 1:
			unmasked = rps
		}
		vsUnmasked := "-"
		if i == 2 {
			vsUnmasked = fmt.Sprintf("%.2f", rps/unmasked)
		}
		fmt.Printf("%-18s %12.0f %10.1f %14.2f %14s\n", t.name, rps, mbps, rps/direct, vsUnmasked)
	}
	fmt.Fprintln(os.Stdout, "\nratios by rows/s (masking changes the bytes sent); MB/s counts the values the client received")
	fmt.Println()
	return nil
}

func medianScan(ss []scan) scan {
	best := append([]scan(nil), ss...)
	for i := range best {
		for j := i + 1; j < len(best); j++ {
			if best[j].d < best[i].d {
				best[i], best[j] = best[j], best[i]
			}
		}
	}
	return best[len(best)/2]
}
