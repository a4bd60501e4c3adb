package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// loadPII creates customers, the demo's PII-heavy table of fictional
// people: every row has a name, an email, a phone, a card number, an SSN
// and free-text notes, a third of which mention another phone and email.
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
FROM generate_series(1, %d) g`, rows))
	if err != nil {
		return err
	}
	// Set hint bits and the visibility map now, or the first read pays for them.
	_, err = c.Exec(ctx, "VACUUM (FREEZE, ANALYZE) customers")
	return err
}

// maskingResult is the masking scenario's medians.
type maskingResult struct {
	direct, unmasked, masked scan
}

// measureMasking reads SELECT * FROM customers directly, through the
// gateway unmasked (connection bench) and through the gateway with email,
// phone, card number and SSN protected and every value detector on the
// other columns (connection bench_masked), interleaved round by round.
// Masking changes the bytes sent, so the ratio is by rows/s.
func measureMasking(ctx context.Context, rounds int, direct target, gw *gateway) (maskingResult, error) {
	res, err := scanRounds(ctx, rounds, "SELECT * FROM customers", []target{direct, gw.target, gw.masked})
	if err != nil {
		return maskingResult{}, err
	}
	m := maskingResult{res[direct.name], res[gw.target.name], res[gw.masked.name]}
	fmt.Printf("  direct %.0f rows/s, gatehouse %.0f rows/s, gatehouse masked %.0f rows/s (%.2fx unmasked)\n",
		m.direct.rowsPerSec(), m.unmasked.rowsPerSec(), m.masked.rowsPerSec(), m.masked.rowsPerSec()/m.unmasked.rowsPerSec())
	return m, nil
}
