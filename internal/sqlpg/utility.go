package sqlpg

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// utility classifies the statements that are neither queries nor DML:
// transaction control, session state, locks, maintenance, roles and
// privileges, cluster-wide objects, and (through ddl) schema changes. It
// returns the command tag. A statement type it does not know is admin.
func (w *walker) utility(n *pg.Node) string {
	switch x := n.Node.(type) {
	case *pg.Node_TransactionStmt:
		return w.transaction(x.TransactionStmt)
	case *pg.Node_ConstraintsSetStmt:
		w.raise(gate.KindTransaction, "")
		return "SET CONSTRAINTS"
	case *pg.Node_DiscardStmt:
		w.raise(gate.KindSession, "")
		switch x.DiscardStmt.Target {
		case pg.DiscardMode_DISCARD_PLANS:
			return "DISCARD PLANS"
		case pg.DiscardMode_DISCARD_SEQUENCES:
			return "DISCARD SEQUENCES"
		case pg.DiscardMode_DISCARD_TEMP:
			return "DISCARD TEMP"
		}
		return "DISCARD ALL"
	case *pg.Node_ListenStmt:
		w.raise(gate.KindSession, "")
		return "LISTEN"
	case *pg.Node_UnlistenStmt:
		w.raise(gate.KindSession, "")
		return "UNLISTEN"
	case *pg.Node_NotifyStmt:
		w.raise(gate.KindWrite, "NOTIFY sends a notification to other sessions")
		return "NOTIFY"
	case *pg.Node_LockStmt:
		w.raise(gate.KindWrite, "LOCK TABLE blocks other sessions")
		w.relations(x.LockStmt.Relations)
		return "LOCK TABLE"
	case *pg.Node_TruncateStmt:
		w.raise(gate.KindWrite, "TRUNCATE removes every row")
		w.relations(x.TruncateStmt.Relations)
		w.noWhere()
		return "TRUNCATE TABLE"
	case *pg.Node_RefreshMatViewStmt:
		w.raise(gate.KindWrite, "REFRESH MATERIALIZED VIEW rewrites the view's rows")
		w.table(x.RefreshMatViewStmt.Relation)
		return "REFRESH MATERIALIZED VIEW"

	// Maintenance and server state.
	case *pg.Node_VacuumStmt:
		w.raise(gate.KindAdmin, "")
		for _, r := range x.VacuumStmt.Rels {
			w.table(r.GetVacuumRelation().GetRelation())
		}
		if x.VacuumStmt.IsVacuumcmd {
			return "VACUUM"
		}
		return "ANALYZE"
	case *pg.Node_ClusterStmt:
		w.raise(gate.KindAdmin, "")
		w.table(x.ClusterStmt.Relation)
		return "CLUSTER"
	case *pg.Node_ReindexStmt:
		w.raise(gate.KindAdmin, "")
		w.table(x.ReindexStmt.Relation)
		return "REINDEX"
	case *pg.Node_CheckPointStmt:
		w.raise(gate.KindAdmin, "")
		return "CHECKPOINT"
	case *pg.Node_LoadStmt:
		w.raise(gate.KindAdmin, "LOAD loads a shared library into the server")
		return "LOAD"
	case *pg.Node_AlterSystemStmt:
		w.raise(gate.KindAdmin, "ALTER SYSTEM changes the server configuration")
		return "ALTER SYSTEM"

	// Roles and privileges.
	case *pg.Node_CreateRoleStmt:
		return w.admin("CREATE ROLE")
	case *pg.Node_AlterRoleStmt, *pg.Node_AlterRoleSetStmt:
		return w.admin("ALTER ROLE")
	case *pg.Node_DropRoleStmt:
		return w.admin("DROP ROLE")
	case *pg.Node_GrantStmt:
		g := x.GrantStmt
		if g.Targtype == pg.GrantTargetType_ACL_TARGET_OBJECT && g.Objtype == pg.ObjectType_OBJECT_TABLE {
			for _, o := range g.Objects {
				w.table(o.GetRangeVar())
			}
		}
		if g.IsGrant {
			return w.admin("GRANT")
		}
		return w.admin("REVOKE")
	case *pg.Node_GrantRoleStmt:
		if x.GrantRoleStmt.IsGrant {
			return w.admin("GRANT ROLE")
		}
		return w.admin("REVOKE ROLE")
	case *pg.Node_AlterDefaultPrivilegesStmt:
		return w.admin("ALTER DEFAULT PRIVILEGES")
	case *pg.Node_DropOwnedStmt:
		return w.admin("DROP OWNED")
	case *pg.Node_ReassignOwnedStmt:
		return w.admin("REASSIGN OWNED")
	case *pg.Node_AlterOwnerStmt:
		w.raise(gate.KindAdmin, "changes an owner")
		w.table(x.AlterOwnerStmt.Relation)
		return "ALTER " + objectName(x.AlterOwnerStmt.ObjectType)
	case *pg.Node_SecLabelStmt:
		return w.admin("SECURITY LABEL")
	case *pg.Node_CreatePolicyStmt:
		w.table(x.CreatePolicyStmt.Table)
		return w.admin("CREATE POLICY")
	case *pg.Node_AlterPolicyStmt:
		w.table(x.AlterPolicyStmt.Table)
		return w.admin("ALTER POLICY")

	// Cluster-wide objects, extensions and foreign data.
	case *pg.Node_CreatedbStmt:
		return w.admin("CREATE DATABASE")
	case *pg.Node_AlterDatabaseStmt, *pg.Node_AlterDatabaseRefreshCollStmt, *pg.Node_AlterDatabaseSetStmt:
		return w.admin("ALTER DATABASE")
	case *pg.Node_DropdbStmt:
		return w.admin("DROP DATABASE")
	case *pg.Node_CreateTableSpaceStmt:
		return w.admin("CREATE TABLESPACE")
	case *pg.Node_AlterTableSpaceOptionsStmt:
		return w.admin("ALTER TABLESPACE")
	case *pg.Node_DropTableSpaceStmt:
		return w.admin("DROP TABLESPACE")
	case *pg.Node_CreateExtensionStmt:
		return w.admin("CREATE EXTENSION")
	case *pg.Node_AlterExtensionStmt, *pg.Node_AlterExtensionContentsStmt:
		return w.admin("ALTER EXTENSION")
	case *pg.Node_CreateFdwStmt:
		return w.admin("CREATE FOREIGN DATA WRAPPER")
	case *pg.Node_AlterFdwStmt:
		return w.admin("ALTER FOREIGN DATA WRAPPER")
	case *pg.Node_CreateForeignServerStmt:
		return w.admin("CREATE SERVER")
	case *pg.Node_AlterForeignServerStmt:
		return w.admin("ALTER SERVER")
	case *pg.Node_CreateUserMappingStmt:
		return w.admin("CREATE USER MAPPING")
	case *pg.Node_AlterUserMappingStmt:
		return w.admin("ALTER USER MAPPING")
	case *pg.Node_DropUserMappingStmt:
		return w.admin("DROP USER MAPPING")
	case *pg.Node_ImportForeignSchemaStmt:
		return w.admin("IMPORT FOREIGN SCHEMA")
	case *pg.Node_CreatePlangStmt:
		return w.admin("CREATE LANGUAGE")
	case *pg.Node_CreateEventTrigStmt:
		return w.admin("CREATE EVENT TRIGGER")
	case *pg.Node_AlterEventTrigStmt:
		return w.admin("ALTER EVENT TRIGGER")
	case *pg.Node_CreateAmStmt:
		return w.admin("CREATE ACCESS METHOD")
	case *pg.Node_CreatePublicationStmt:
		return w.admin("CREATE PUBLICATION")
	case *pg.Node_AlterPublicationStmt:
		return w.admin("ALTER PUBLICATION")
	case *pg.Node_CreateSubscriptionStmt:
		return w.admin("CREATE SUBSCRIPTION")
	case *pg.Node_AlterSubscriptionStmt:
		return w.admin("ALTER SUBSCRIPTION")
	case *pg.Node_DropSubscriptionStmt:
		return w.admin("DROP SUBSCRIPTION")
	}
	return w.ddl(n)
}

// admin raises to admin and returns tag.
func (w *walker) admin(tag string) string {
	w.raise(gate.KindAdmin, "")
	return tag
}

// relations records a list of RangeVar nodes as tables.
func (w *walker) relations(list []*pg.Node) {
	for _, n := range list {
		w.table(n.GetRangeVar())
	}
}

// transaction classifies transaction control. Two-phase commit is admin: a
// prepared transaction outlives the session and keeps its locks, and
// COMMIT/ROLLBACK PREPARED finish transactions other sessions prepared.
func (w *walker) transaction(s *pg.TransactionStmt) string {
	k := gate.KindTransaction
	var tag string
	switch s.Kind {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN:
		tag = "BEGIN"
	case pg.TransactionStmtKind_TRANS_STMT_START:
		tag = "START TRANSACTION"
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		tag = "COMMIT"
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		tag = "ROLLBACK"
	case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		tag = "SAVEPOINT"
	case pg.TransactionStmtKind_TRANS_STMT_RELEASE:
		tag = "RELEASE"
	case pg.TransactionStmtKind_TRANS_STMT_PREPARE:
		tag, k = "PREPARE TRANSACTION", gate.KindAdmin
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
		tag, k = "COMMIT PREPARED", gate.KindAdmin
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		tag, k = "ROLLBACK PREPARED", gate.KindAdmin
	default:
		w.unknown("unrecognised transaction statement")
		return "???"
	}
	if k == gate.KindAdmin {
		w.raise(k, tag+" is two-phase commit, which outlives the session")
	} else {
		w.raise(k, "")
	}
	return tag
}
