package sqlpg

// Volatility is a function's volatility class as pg_proc.provolatile records
// it, or VolatilityUnknown.
type Volatility uint8

const (
	// VolatilityUnknown: the function was not found, or the catalog cannot say.
	VolatilityUnknown Volatility = iota
	// Immutable functions (provolatile 'i') cannot modify the database.
	Immutable
	// Stable functions (provolatile 's') cannot modify the database.
	Stable
	// Volatile functions (provolatile 'v') may do anything.
	Volatile
)

func (v Volatility) String() string {
	switch v {
	case Immutable:
		return "immutable"
	case Stable:
		return "stable"
	case Volatile:
		return "volatile"
	}
	return "unknown"
}

// FunctionCatalog tells the classifier what the upstream database knows
// about functions outside the built-in tables (user-defined functions,
// extension functions, pg_catalog functions this package does not list).
// It is optional: without one, every such function makes a statement admin.
//
// The classifier trusts the answer: an IMMUTABLE or STABLE function is
// treated as read, because PostgreSQL runs such functions with a read-only
// snapshot and refuses data-modifying commands inside them. (A non-volatile
// function can still call a volatile one, say pg_terminate_backend, if its
// author declared it so; only trust catalogs of databases whose function
// owners you trust.) VOLATILE and unknown functions stay admin.
//
// Classifications that consulted the catalog are never cached by the
// Classifier, so that a function redefined upstream is seen at once;
// implementations should answer from their own snapshot of pg_proc and be
// fast. Implementations must be safe for concurrent use.
type FunctionCatalog interface {
	// Volatility reports the volatility of the function called as
	// schema.name. schema is "" for an unqualified call: resolve it as the
	// connection's search_path would. name and schema are as the parser
	// produced them (folded to lower case unless quoted). When several
	// overloads match, report the most volatile.
	Volatility(schema, name string) Volatility
}

// FunctionCatalogFunc adapts a function to FunctionCatalog. A nil
// FunctionCatalogFunc answers VolatilityUnknown.
type FunctionCatalogFunc func(schema, name string) Volatility

// Volatility calls f.
func (f FunctionCatalogFunc) Volatility(schema, name string) Volatility {
	if f == nil {
		return VolatilityUnknown
	}
	return f(schema, name)
}
