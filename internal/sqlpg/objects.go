package sqlpg

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// objectNames spells object types as PostgreSQL command tags do
// ("DROP MATERIALIZED VIEW", "ALTER TEXT SEARCH DICTIONARY").
var objectNames = map[pg.ObjectType]string{
	pg.ObjectType_OBJECT_ACCESS_METHOD:         "ACCESS METHOD",
	pg.ObjectType_OBJECT_AGGREGATE:             "AGGREGATE",
	pg.ObjectType_OBJECT_CAST:                  "CAST",
	pg.ObjectType_OBJECT_COLUMN:                "TABLE",
	pg.ObjectType_OBJECT_COLLATION:             "COLLATION",
	pg.ObjectType_OBJECT_CONVERSION:            "CONVERSION",
	pg.ObjectType_OBJECT_DATABASE:              "DATABASE",
	pg.ObjectType_OBJECT_DOMAIN:                "DOMAIN",
	pg.ObjectType_OBJECT_DOMCONSTRAINT:         "DOMAIN",
	pg.ObjectType_OBJECT_EVENT_TRIGGER:         "EVENT TRIGGER",
	pg.ObjectType_OBJECT_EXTENSION:             "EXTENSION",
	pg.ObjectType_OBJECT_FDW:                   "FOREIGN DATA WRAPPER",
	pg.ObjectType_OBJECT_FOREIGN_SERVER:        "SERVER",
	pg.ObjectType_OBJECT_FOREIGN_TABLE:         "FOREIGN TABLE",
	pg.ObjectType_OBJECT_FUNCTION:              "FUNCTION",
	pg.ObjectType_OBJECT_INDEX:                 "INDEX",
	pg.ObjectType_OBJECT_LANGUAGE:              "LANGUAGE",
	pg.ObjectType_OBJECT_LARGEOBJECT:           "LARGE OBJECT",
	pg.ObjectType_OBJECT_MATVIEW:               "MATERIALIZED VIEW",
	pg.ObjectType_OBJECT_OPCLASS:               "OPERATOR CLASS",
	pg.ObjectType_OBJECT_OPERATOR:              "OPERATOR",
	pg.ObjectType_OBJECT_OPFAMILY:              "OPERATOR FAMILY",
	pg.ObjectType_OBJECT_POLICY:                "POLICY",
	pg.ObjectType_OBJECT_PROCEDURE:             "PROCEDURE",
	pg.ObjectType_OBJECT_PUBLICATION:           "PUBLICATION",
	pg.ObjectType_OBJECT_ROLE:                  "ROLE",
	pg.ObjectType_OBJECT_ROUTINE:               "ROUTINE",
	pg.ObjectType_OBJECT_RULE:                  "RULE",
	pg.ObjectType_OBJECT_SCHEMA:                "SCHEMA",
	pg.ObjectType_OBJECT_SEQUENCE:              "SEQUENCE",
	pg.ObjectType_OBJECT_SUBSCRIPTION:          "SUBSCRIPTION",
	pg.ObjectType_OBJECT_STATISTIC_EXT:         "STATISTICS",
	pg.ObjectType_OBJECT_TABCONSTRAINT:         "TABLE",
	pg.ObjectType_OBJECT_TABLE:                 "TABLE",
	pg.ObjectType_OBJECT_TABLESPACE:            "TABLESPACE",
	pg.ObjectType_OBJECT_TRANSFORM:             "TRANSFORM",
	pg.ObjectType_OBJECT_TRIGGER:               "TRIGGER",
	pg.ObjectType_OBJECT_TSCONFIGURATION:       "TEXT SEARCH CONFIGURATION",
	pg.ObjectType_OBJECT_TSDICTIONARY:          "TEXT SEARCH DICTIONARY",
	pg.ObjectType_OBJECT_TSPARSER:              "TEXT SEARCH PARSER",
	pg.ObjectType_OBJECT_TSTEMPLATE:            "TEXT SEARCH TEMPLATE",
	pg.ObjectType_OBJECT_TYPE:                  "TYPE",
	pg.ObjectType_OBJECT_USER_MAPPING:          "USER MAPPING",
	pg.ObjectType_OBJECT_VIEW:                  "VIEW",
	pg.ObjectType_OBJECT_ATTRIBUTE:             "TYPE",
	pg.ObjectType_OBJECT_DEFAULT:               "TABLE",
	pg.ObjectType_OBJECT_PARAMETER_ACL:         "PARAMETER",
	pg.ObjectType_OBJECT_PUBLICATION_REL:       "PUBLICATION",
	pg.ObjectType_OBJECT_PUBLICATION_NAMESPACE: "PUBLICATION",
}

// objectName returns the tag spelling of t ("???" for a type without one).
func objectName(t pg.ObjectType) string {
	if n, ok := objectNames[t]; ok {
		return n
	}
	return "???"
}

// objectKind is the kind of creating, altering or dropping an object of
// type t: admin for objects that are cluster-wide, reach outside the
// database, run code in the server, or decide who may see what; ddl for
// the rest of the schema.
func objectKind(t pg.ObjectType) gate.Kind {
	switch t {
	case pg.ObjectType_OBJECT_DATABASE, pg.ObjectType_OBJECT_ROLE, pg.ObjectType_OBJECT_TABLESPACE,
		pg.ObjectType_OBJECT_EXTENSION, pg.ObjectType_OBJECT_FDW, pg.ObjectType_OBJECT_FOREIGN_SERVER,
		pg.ObjectType_OBJECT_USER_MAPPING, pg.ObjectType_OBJECT_EVENT_TRIGGER, pg.ObjectType_OBJECT_LANGUAGE,
		pg.ObjectType_OBJECT_ACCESS_METHOD, pg.ObjectType_OBJECT_PUBLICATION,
		pg.ObjectType_OBJECT_PUBLICATION_REL, pg.ObjectType_OBJECT_PUBLICATION_NAMESPACE,
		pg.ObjectType_OBJECT_SUBSCRIPTION, pg.ObjectType_OBJECT_POLICY, pg.ObjectType_OBJECT_PARAMETER_ACL,
		pg.ObjectType_OBJECT_LARGEOBJECT:
		return gate.KindAdmin
	}
	return gate.KindDDL
}
