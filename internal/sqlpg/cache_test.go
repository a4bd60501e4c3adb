package sqlpg

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// goldenSQL returns the SQL of the golden corpus.
func goldenSQL(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sql, err := decodeSQL(strings.SplitN(line, "\t", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sql)
	}
	return out
}

// TestCacheSameAnswer: a cached classifier answers exactly as an uncached
// one, on first and later calls, and later calls share the cached class.
func TestCacheSameAnswer(t *testing.T) {
	cached, uncached := New(Config{}), New(Config{CacheSize: -1})
	if uncached.cache != nil {
		t.Fatal("CacheSize -1 still caches")
	}
	for _, sql := range goldenSQL(t) {
		want, werr := uncached.Classify(sql, nil)
		for i := range 2 {
			got, err := cached.Classify(sql, nil)
			if !reflect.DeepEqual(got, want) || fmt.Sprint(err) != fmt.Sprint(werr) {
				t.Fatalf("%q call %d: cached %+v %v, uncached %+v %v", sql, i, got, err, want, werr)
			}
		}
		if _, ok := cached.cache.get(sql); !ok {
			continue // EXECUTE: depends on the resolver, never cached
		}
		first, _ := cached.Classify(sql, nil)
		second, _ := cached.Classify(sql, nil)
		if first != second {
			t.Fatalf("%q: cache returned a different *Class", sql)
		}
	}
}

func TestCacheBounded(t *testing.T) {
	c := New(Config{CacheSize: 3})
	for i := range 10 {
		c.Classify(fmt.Sprintf("SELECT %d", i), nil)
		if n := c.cache.len(); n > 3 {
			t.Fatalf("cache holds %d entries, limit 3", n)
		}
	}
	// Least recently used goes first: touch "SELECT 7", add one, 8 is evicted.
	c.Classify("SELECT 7", nil)
	c.Classify("SELECT 10", nil)
	for q, want := range map[string]bool{"SELECT 7": true, "SELECT 8": false, "SELECT 9": true, "SELECT 10": true} {
		if _, ok := c.cache.get(q); ok != want {
			t.Errorf("%q cached = %v, want %v", q, ok, want)
		}
	}
	// Texts longer than maxCachedText are classified but not kept.
	long := "SELECT 1" + strings.Repeat(" ", maxCachedText)
	if _, err := c.Classify(long, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.cache.get(long); ok {
		t.Error("long text cached")
	}
	if New(Config{}).cache.max != defaultCacheSize {
		t.Error("CacheSize 0 does not default")
	}
}

// TestCacheConcurrent classifies the corpus from many goroutines through
// one small shared cache (so entries are evicted while others read them)
// and checks every answer; run it with -race.
func TestCacheConcurrent(t *testing.T) {
	corpus := goldenSQL(t)
	uncached := New(Config{CacheSize: -1})
	want := make([]string, len(corpus))
	for i, sql := range corpus {
		cl, err := uncached.Classify(sql, nil)
		want[i] = fmt.Sprintf("%+v %v", cl, err)
	}
	c := New(Config{CacheSize: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 3 * len(corpus) {
				i := (k*7 + g*13) % len(corpus)
				cl, err := c.Classify(corpus[i], nil)
				if got := fmt.Sprintf("%+v %v", cl, err); got != want[i] {
					t.Errorf("goroutine %d: %q: %s, want %s", g, corpus[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.cache.len(); n > 50 {
		t.Errorf("cache holds %d entries, limit 50", n)
	}
}
