package sqlpg

// builtinTypes lists the pg_catalog types a cast may target without the
// classifier worrying about what the cast runs. A cast to any other type
// (an enum, a domain, a composite or base type created by a user) may run a
// user-defined function: CREATE CAST ... WITH FUNCTION, a domain's CHECK
// constraint. Such casts make a statement admin. Names are as the parser
// produces them (INT becomes int4, DOUBLE PRECISION float8, ...).
var builtinTypes = nameSet(
	`bool int2 int4 int8 float4 float8 numeric money char bpchar varchar text name
	bytea bit varbit date time timetz timestamp timestamptz interval json jsonb
	jsonpath uuid xml inet cidr macaddr macaddr8 point line lseg box path polygon
	circle tsvector tsquery oid regclass regproc regprocedure regoper regoperator
	regtype regrole regnamespace regconfig regdictionary regcollation xid xid8 cid
	tid pg_lsn pg_snapshot txid_snapshot int4range int8range numrange tsrange
	tstzrange daterange int4multirange int8multirange nummultirange tsmultirange
	tstzmultirange datemultirange record unknown void anyelement anyarray`,
	// Type names the parser keeps as written.
	`boolean integer smallint bigint real decimal`,
)

// builtinOperators lists the operator symbols of pg_catalog. An unqualified
// operator with another symbol resolves to one a user created (in public or
// another schema on the search path), which calls a user-defined function.
// A built-in symbol can still be overloaded for user-defined types; the
// classifier cannot see argument types, see the package documentation.
var builtinOperators = nameSet(
	`+ - * / % ^ = <> != < > <= >= || ~ ~* !~ !~* ~~ ~~* !~~ !~~* ~~~ @ @> <@ &&
	? ?| ?& -> ->> #> #>> #- @? @@ @@@ # & | << >> <<= >>= ~= <-> <<| |>> &<
	&> &<| |&> ?# ?-| ?- ?|| @-@ ## <^ >^ |/ ||/ ~<~ ~<=~ ~>=~ ~>~ ^@ -|- !!`,
)

// builtinSampleMethods are the TABLESAMPLE methods of the core server.
var builtinSampleMethods = nameSet(`system bernoulli`)
