package sqlpg

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// ddl classifies statements that create, alter or drop schema objects:
// ddl, or admin when the object is security-relevant (see objectKind) or an
// expression that runs now (a column default that fills existing rows, a
// CHECK that validates them, ALTER TYPE ... USING, an index expression)
// calls a function the classifier cannot vouch for. Unknown statement
// types are admin.
func (w *walker) ddl(n *pg.Node) string {
	w.raise(gate.KindDDL, "")
	switch x := n.Node.(type) {
	case *pg.Node_CreateStmt:
		w.createTable(x.CreateStmt)
		return "CREATE TABLE"
	case *pg.Node_CreateForeignTableStmt:
		w.createTable(x.CreateForeignTableStmt.BaseStmt)
		return "CREATE FOREIGN TABLE"
	case *pg.Node_AlterTableStmt:
		return w.alterTable(x.AlterTableStmt)
	case *pg.Node_AlterTableMoveAllStmt:
		return "ALTER " + objectName(x.AlterTableMoveAllStmt.Objtype)
	case *pg.Node_IndexStmt:
		s := x.IndexStmt
		w.table(s.Relation)
		w.exprs(s.IndexParams)
		w.exprs(s.IndexIncludingParams)
		w.expr(s.WhereClause)
		return "CREATE INDEX"
	case *pg.Node_ViewStmt:
		w.table(x.ViewStmt.View)
		w.stmt(x.ViewStmt.Query)
		return "CREATE VIEW"
	case *pg.Node_CreateSchemaStmt:
		// Elements are created in the new schema.
		saved := w.schema
		w.schema = x.CreateSchemaStmt.Schemaname
		for _, e := range x.CreateSchemaStmt.SchemaElts {
			w.stmt(e)
		}
		w.schema = saved
		return "CREATE SCHEMA"
	case *pg.Node_CreateSeqStmt:
		w.table(x.CreateSeqStmt.Sequence)
		return "CREATE SEQUENCE"
	case *pg.Node_AlterSeqStmt:
		w.table(x.AlterSeqStmt.Sequence)
		return "ALTER SEQUENCE"
	case *pg.Node_CreateFunctionStmt:
		return w.createFunction(x.CreateFunctionStmt)
	case *pg.Node_AlterFunctionStmt:
		w.securityOptions(x.AlterFunctionStmt.Actions)
		return "ALTER " + objectName(x.AlterFunctionStmt.Objtype)
	case *pg.Node_CreateTrigStmt:
		w.table(x.CreateTrigStmt.Relation)
		return "CREATE TRIGGER"
	case *pg.Node_RuleStmt:
		w.table(x.RuleStmt.Relation)
		return "CREATE RULE"
	case *pg.Node_DefineStmt:
		return "CREATE " + objectName(x.DefineStmt.Kind)
	case *pg.Node_CreateDomainStmt:
		for _, c := range x.CreateDomainStmt.Constraints {
			w.constraintOrExpr(c)
		}
		return "CREATE DOMAIN"
	case *pg.Node_AlterDomainStmt:
		w.constraintOrExpr(x.AlterDomainStmt.Def)
		return "ALTER DOMAIN"
	case *pg.Node_CreateEnumStmt, *pg.Node_CreateRangeStmt, *pg.Node_CompositeTypeStmt:
		return "CREATE TYPE"
	case *pg.Node_AlterEnumStmt, *pg.Node_AlterTypeStmt:
		return "ALTER TYPE"
	case *pg.Node_CreateOpClassStmt:
		return "CREATE OPERATOR CLASS"
	case *pg.Node_CreateOpFamilyStmt:
		return "CREATE OPERATOR FAMILY"
	case *pg.Node_AlterOpFamilyStmt:
		return "ALTER OPERATOR FAMILY"
	case *pg.Node_AlterOperatorStmt:
		return "ALTER OPERATOR"
	case *pg.Node_CreateConversionStmt:
		return "CREATE CONVERSION"
	case *pg.Node_CreateCastStmt:
		return "CREATE CAST"
	case *pg.Node_CreateTransformStmt:
		return "CREATE TRANSFORM"
	case *pg.Node_AlterCollationStmt:
		return "ALTER COLLATION"
	case *pg.Node_AlterTsdictionaryStmt:
		return "ALTER TEXT SEARCH DICTIONARY"
	case *pg.Node_AlterTsconfigurationStmt:
		return "ALTER TEXT SEARCH CONFIGURATION"
	case *pg.Node_CreateStatsStmt:
		w.relations(x.CreateStatsStmt.Relations)
		return "CREATE STATISTICS"
	case *pg.Node_AlterStatsStmt:
		return "ALTER STATISTICS"
	case *pg.Node_CommentStmt:
		return "COMMENT"
	case *pg.Node_DropStmt:
		return w.drop(x.DropStmt)
	case *pg.Node_RenameStmt:
		s := x.RenameStmt
		t := s.RenameType
		switch t {
		case pg.ObjectType_OBJECT_COLUMN:
			t = s.RelationType
		case pg.ObjectType_OBJECT_TABCONSTRAINT:
			// The parser leaves RelationType unset (which decodes as
			// OBJECT_ACCESS_METHOD); constraints belong to tables.
			t = pg.ObjectType_OBJECT_TABLE
		case pg.ObjectType_OBJECT_ATTRIBUTE:
			t = pg.ObjectType_OBJECT_TYPE
		case pg.ObjectType_OBJECT_DOMCONSTRAINT:
			t = pg.ObjectType_OBJECT_DOMAIN
		}
		w.raise(objectKind(t), "")
		w.table(s.Relation)
		return "ALTER " + objectName(t)
	case *pg.Node_AlterObjectSchemaStmt:
		w.raise(objectKind(x.AlterObjectSchemaStmt.ObjectType), "")
		w.table(x.AlterObjectSchemaStmt.Relation)
		return "ALTER " + objectName(x.AlterObjectSchemaStmt.ObjectType)
	case *pg.Node_AlterObjectDependsStmt:
		w.table(x.AlterObjectDependsStmt.Relation)
		return "ALTER " + objectName(x.AlterObjectDependsStmt.ObjectType)
	}
	w.unknownNode(n)
	return "???"
}

// createTable walks CREATE TABLE (and the base of CREATE FOREIGN TABLE):
// the table, its parents and referenced tables, and the expressions of its
// columns, constraints and partitioning.
func (w *walker) createTable(s *pg.CreateStmt) {
	if s == nil {
		return
	}
	w.table(s.Relation)
	w.relations(s.InhRelations)
	for _, e := range s.TableElts {
		switch x := e.Node.(type) {
		case *pg.Node_ColumnDef:
			w.columnDef(x.ColumnDef)
		case *pg.Node_Constraint:
			w.constraint(x.Constraint)
		case *pg.Node_TableLikeClause:
			w.table(x.TableLikeClause.Relation)
		default:
			w.unknownNode(e)
		}
	}
	for _, c := range s.Constraints {
		w.constraintOrExpr(c)
	}
	if ps := s.Partspec; ps != nil {
		for _, p := range ps.PartParams {
			w.expr(p.GetPartitionElem().GetExpr())
		}
	}
	if pb := s.Partbound; pb != nil {
		w.exprs(pb.Listdatums)
		w.exprs(pb.Lowerdatums)
		w.exprs(pb.Upperdatums)
	}
}

func (w *walker) columnDef(c *pg.ColumnDef) {
	w.expr(c.RawDefault)
	for _, n := range c.Constraints {
		w.constraintOrExpr(n)
	}
}

func (w *walker) constraint(c *pg.Constraint) {
	w.expr(c.RawExpr)
	w.expr(c.WhereClause)
	w.table(c.Pktable)
}

// constraintOrExpr walks a node that is a Constraint, a ColumnDef or an
// expression.
func (w *walker) constraintOrExpr(n *pg.Node) {
	switch x := n.GetNode().(type) {
	case *pg.Node_Constraint:
		w.constraint(x.Constraint)
	case *pg.Node_ColumnDef:
		w.columnDef(x.ColumnDef)
	default:
		w.expr(n)
	}
}

// alterTable walks ALTER TABLE (and ALTER INDEX, VIEW, SEQUENCE... which
// share its node). Changing the owner or row-level security is admin.
func (w *walker) alterTable(s *pg.AlterTableStmt) string {
	w.table(s.Relation)
	for _, n := range s.Cmds {
		c := n.GetAlterTableCmd()
		if c == nil {
			w.unknownNode(n)
			continue
		}
		switch c.Subtype {
		case pg.AlterTableType_AT_ChangeOwner:
			w.raise(gate.KindAdmin, "changes an owner")
		case pg.AlterTableType_AT_EnableRowSecurity, pg.AlterTableType_AT_DisableRowSecurity,
			pg.AlterTableType_AT_ForceRowSecurity, pg.AlterTableType_AT_NoForceRowSecurity:
			w.raise(gate.KindAdmin, "changes row-level security")
		case pg.AlterTableType_AT_ColumnDefault, pg.AlterTableType_AT_SetExpression,
			pg.AlterTableType_AT_AddColumn, pg.AlterTableType_AT_AlterColumnType,
			pg.AlterTableType_AT_AddConstraint:
			w.constraintOrExpr(c.Def)
		case pg.AlterTableType_AT_AttachPartition, pg.AlterTableType_AT_DetachPartition:
			w.table(c.Def.GetPartitionCmd().GetName())
		}
	}
	return "ALTER " + objectName(s.Objtype)
}

// createFunction classifies CREATE FUNCTION and CREATE PROCEDURE. The body
// does not run now. SECURITY DEFINER (it runs with its owner's rights) and
// any language but sql and plpgsql (untrusted languages reach the server's
// operating system) are admin.
func (w *walker) createFunction(s *pg.CreateFunctionStmt) string {
	w.securityOptions(s.Options)
	for _, o := range s.Options {
		d := o.GetDefElem()
		if d == nil || d.Defname != "language" {
			continue
		}
		lang := strings.ToLower(d.Arg.GetString_().GetSval())
		if lang != "sql" && lang != "plpgsql" {
			w.raise(gate.KindAdmin, "creates a function in language "+lang)
		}
	}
	if s.IsProcedure {
		return "CREATE PROCEDURE"
	}
	return "CREATE FUNCTION"
}

func (w *walker) securityOptions(opts []*pg.Node) {
	for _, o := range opts {
		if d := o.GetDefElem(); d != nil && d.Defname == "security" && defTrue(d.Arg) {
			w.raise(gate.KindAdmin, "creates or alters a SECURITY DEFINER function")
		}
	}
}

// drop classifies DROP of any object kind, recording dropped relations.
func (w *walker) drop(s *pg.DropStmt) string {
	w.raise(objectKind(s.RemoveType), "")
	switch s.RemoveType {
	case pg.ObjectType_OBJECT_TABLE, pg.ObjectType_OBJECT_VIEW, pg.ObjectType_OBJECT_MATVIEW,
		pg.ObjectType_OBJECT_INDEX, pg.ObjectType_OBJECT_SEQUENCE, pg.ObjectType_OBJECT_FOREIGN_TABLE:
		for _, o := range s.Objects {
			w.tableName(o)
		}
	}
	return "DROP " + objectName(s.RemoveType)
}

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
