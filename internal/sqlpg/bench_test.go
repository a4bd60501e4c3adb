package sqlpg

import "testing"

// agentSQL is what an agent typically sends: catalog exploration, a join
// with aggregates, a filtered update, and a CTE report.
var agentSQL = []string{
	"SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
	"SELECT c.id, c.name, count(o.id) AS orders, sum(o.total)::numeric(12,2) AS revenue FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.created_at >= now() - interval '30 days' GROUP BY c.id, c.name ORDER BY revenue DESC NULLS LAST LIMIT 20",
	"UPDATE tickets SET status = 'closed', closed_at = now() WHERE id = $1 AND status <> 'closed' RETURNING id",
	"WITH monthly AS (SELECT date_trunc('month', created_at) AS m, sum(total) AS t FROM orders GROUP BY 1) SELECT m, t, lag(t) OVER (ORDER BY m) AS prev FROM monthly ORDER BY m",
}

func BenchmarkClassify(b *testing.B) {
	b.Run("uncached", func(b *testing.B) {
		c := New(Config{CacheSize: -1})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := c.Classify(agentSQL[i%len(agentSQL)], nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := New(Config{})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := c.Classify(agentSQL[i%len(agentSQL)], nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
