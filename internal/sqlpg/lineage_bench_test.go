package sqlpg

import "testing"

// agentLineageSQL is what an agent typically sends against the fixture
// schema: a filtered lookup, a join with aggregates, a CTE report, a view.
var agentLineageSQL = []string{
	"SELECT id, name, email FROM customers WHERE id = $1",
	"SELECT c.id, c.name, count(o.id) AS orders, sum(o.total)::numeric(12,2) AS revenue FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.status = 'paid' GROUP BY c.id, c.name ORDER BY revenue DESC NULLS LAST LIMIT 20",
	"WITH monthly AS (SELECT date_trunc('month', c.created_at) AS m, count(*) AS n FROM customers c GROUP BY 1) SELECT m, n, lag(n) OVER (ORDER BY m) AS prev FROM monthly ORDER BY m",
	"SELECT * FROM customer_contacts WHERE name ILIKE 'a%'",
}

func BenchmarkAnalyze(b *testing.B) {
	_, cat, prot := lineageFixture(b)
	uncached, err := cat.Protect(lineagePatterns)
	if err != nil {
		b.Fatal(err)
	}
	uncached.cache = nil
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := Analyze(agentLineageSQL[i%len(agentLineageSQL)], cat, uncached, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := Analyze(agentLineageSQL[i%len(agentLineageSQL)], cat, prot, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cat.Protect(lineagePatterns); err != nil {
				b.Fatal(err)
			}
		}
	})
}
