package sqlpg

import (
	"strings"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// effect is what calling a known side-effecting function does.
type effect struct {
	kind gate.Kind
	why  string // completes "calls NAME: ..."
}

var (
	admin = func(why string) effect { return effect{gate.KindAdmin, why} }
	write = func(why string) effect { return effect{gate.KindWrite, why} }
)

// Reasons shared by several entries.
const (
	whyServerFile   = "reads or writes files on the database server"
	whyServerState  = "changes server state"
	whyDynamicSQL   = "runs SQL text the classifier cannot see"
	whyLargeObject  = "writes large objects or server files"
	whyReplication  = "changes replication state"
	whyOtherBackend = "acts on other sessions"
)

// sideEffects lists pg_catalog (and well-known extension) functions that can
// change something, with the kind that change is. A name matches when called
// unqualified or qualified with pg_catalog. Names not here are matched
// against readFunctions, then sideEffectPrefixes.
var sideEffects = map[string]effect{
	"pg_terminate_backend":           admin(whyOtherBackend),
	"pg_cancel_backend":              admin(whyOtherBackend),
	"pg_signal_backend":              admin(whyOtherBackend),
	"pg_log_backend_memory_contexts": admin("writes to the server log"),
	"pg_reload_conf":                 admin("reloads the server configuration"),
	"pg_rotate_logfile":              admin(whyServerState),
	"pg_rotate_logfile_old":          admin(whyServerState),
	"pg_switch_wal":                  admin(whyServerState),
	"pg_promote":                     admin(whyServerState),
	"pg_create_restore_point":        admin(whyServerState),
	"pg_backup_start":                admin(whyServerState),
	"pg_backup_stop":                 admin(whyServerState),
	"pg_start_backup":                admin(whyServerState),
	"pg_stop_backup":                 admin(whyServerState),
	"pg_wal_replay_pause":            admin(whyServerState),
	"pg_wal_replay_resume":           admin(whyServerState),
	"pg_import_system_collations":    admin("creates collations"),
	"pg_stat_statements_reset":       admin(whyServerState),
	"pg_stat_clear_snapshot":         admin(whyServerState),
	"pg_read_file":                   admin(whyServerFile),
	"pg_read_binary_file":            admin(whyServerFile),
	"pg_stat_file":                   admin(whyServerFile),
	"pg_file_write":                  admin(whyServerFile),
	"pg_file_rename":                 admin(whyServerFile),
	"pg_file_unlink":                 admin(whyServerFile),
	"pg_file_sync":                   admin(whyServerFile),
	"pg_logdir_ls":                   admin(whyServerFile),
	"lo_import":                      admin(whyLargeObject),
	"lo_export":                      admin(whyLargeObject),
	"lo_unlink":                      admin(whyLargeObject),
	"lo_create":                      admin(whyLargeObject),
	"lo_creat":                       admin(whyLargeObject),
	"lo_put":                         admin(whyLargeObject),
	"lo_from_bytea":                  admin(whyLargeObject),
	"lo_truncate":                    admin(whyLargeObject),
	"lo_truncate64":                  admin(whyLargeObject),
	"lowrite":                        admin(whyLargeObject),
	"set_config":                     admin("changes a setting"),
	"query_to_xml":                   admin(whyDynamicSQL),
	"query_to_xmlschema":             admin(whyDynamicSQL),
	"query_to_xml_and_xmlschema":     admin(whyDynamicSQL),
	"cursor_to_xml":                  admin(whyDynamicSQL),
	"cursor_to_xmlschema":            admin(whyDynamicSQL),
	"ts_stat":                        admin(whyDynamicSQL),
	"ts_rewrite":                     admin(whyDynamicSQL),
	"pg_logical_emit_message":        admin("writes to the WAL"),
	"pg_replication_slot_advance":    admin(whyReplication),
	"pg_drop_replication_slot":       admin(whyReplication),
	"pg_export_snapshot":             admin(whyServerState),
	"pg_notify":                      write("sends a notification"),
	"nextval":                        write("advances a sequence"),
	"setval":                         write("sets a sequence"),
	"txid_current":                   write("assigns a transaction id"),
	"pg_current_xact_id":             write("assigns a transaction id"),
}

// sideEffectPrefixes covers function families by name prefix, checked in
// order after sideEffects and readFunctions.
var sideEffectPrefixes = []struct {
	prefix string
	effect effect
}{
	{"dblink", admin("connects to another database")},
	{"pg_advisory_", write("takes or releases an advisory lock")},
	{"pg_try_advisory_", write("takes an advisory lock")},
	{"pg_ls_", admin(whyServerFile)},
	{"pg_read_", admin(whyServerFile)},
	{"pg_file_", admin(whyServerFile)},
	{"lo_", admin(whyLargeObject)},
	{"pg_logical_", admin(whyReplication)},
	{"pg_replication_origin_", admin(whyReplication)},
	{"pg_create_", admin(whyReplication)}, // pg_create_*_replication_slot, pg_create_restore_point
	{"pg_copy_", admin(whyReplication)},   // pg_copy_*_replication_slot
	{"pg_stat_reset", admin(whyServerState)},
	{"table_to_xml", admin(whyDynamicSQL)},
	{"schema_to_xml", admin(whyDynamicSQL)},
	{"database_to_xml", admin(whyDynamicSQL)},
	{"cursor_to_xml", admin(whyDynamicSQL)},
	{"query_to_xml", admin(whyDynamicSQL)},
}

// sideEffectFamily reports the effect of a built-in function by its name's
// prefix. Callers check sideEffects and readFunctions first, so that exact
// entries (lo_get is a read) win over families (lo_* writes).
func sideEffectFamily(name string) (effect, bool) {
	for _, p := range sideEffectPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.effect, true
		}
	}
	return effect{}, false
}
