package sqlpg

import "strings"

// This file holds the allow-lists of pg_catalog built-ins a statement may
// use and still be read: functions, cast target types, operator symbols and
// TABLESAMPLE methods. Everything outside them is admin unless
// sideeffects.go or a FunctionCatalog says otherwise.

// readFunctions is the allow-list of pg_catalog functions known to have no
// side effects: calling one cannot change data, schema, roles, settings or
// server state. A name matches when called unqualified or qualified with
// pg_catalog (see funcCall, which checks sideEffects first). The list is
// deliberately limited to what agents commonly use; anything else goes to
// the sideEffectPrefixes families, then the optional FunctionCatalog, and
// is admin when still unknown.
//
// Functions that run SQL text (query_to_xml, ts_stat, ts_rewrite with a
// query, dblink...) or touch server files must never be added here.
var readFunctions = nameSet(
	// Aggregates.
	`count sum avg min max array_agg string_agg bool_and bool_or every
	bit_and bit_or bit_xor json_agg jsonb_agg json_agg_strict jsonb_agg_strict
	json_object_agg jsonb_object_agg json_object_agg_strict jsonb_object_agg_strict
	json_object_agg_unique jsonb_object_agg_unique json_object_agg_unique_strict
	jsonb_object_agg_unique_strict stddev stddev_pop stddev_samp variance var_pop var_samp
	corr covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2
	regr_slope regr_sxx regr_sxy regr_syy mode percentile_cont percentile_disc
	range_agg range_intersect_agg xmlagg any_value`,

	// Window functions (rank, dense_rank... are also hypothetical-set aggregates).
	`row_number rank dense_rank percent_rank cume_dist ntile lag lead
	first_value last_value nth_value`,

	// Strings and binary strings.
	`length char_length character_length octet_length bit_length lower upper initcap
	concat concat_ws substr substring left right lpad rpad ltrim rtrim btrim trim
	replace translate position strpos split_part reverse repeat ascii chr format
	md5 sha224 sha256 sha384 sha512 crc32 crc32c encode decode to_hex to_oct to_bin
	quote_ident quote_literal quote_nullable regexp_match regexp_matches
	regexp_replace regexp_split_to_array regexp_split_to_table regexp_count
	regexp_instr regexp_like regexp_substr starts_with string_to_array
	string_to_table array_to_string overlay normalize is_normalized unistr casefold
	convert convert_from convert_to to_ascii parse_ident like_escape
	similar_to_escape similar_escape get_byte get_bit set_byte set_bit bit_count
	textlen textcat`,

	// Mathematics.
	`abs ceil ceiling floor round trunc sign sqrt cbrt exp ln log log10 power pow
	mod div gcd lcm factorial pi degrees radians sin cos tan cot asin acos atan atan2
	sind cosd tand cotd asind acosd atand atan2d sinh cosh tanh asinh acosh atanh
	erf erfc width_bucket scale min_scale trim_scale random random_normal setseed`,

	// Date and time.
	`now clock_timestamp statement_timestamp transaction_timestamp timeofday age
	date_part date_trunc date_bin extract isfinite justify_days justify_hours
	justify_interval make_date make_time make_timestamp make_timestamptz
	make_interval to_timestamp to_date to_char to_number timezone overlaps
	date_add date_subtract pg_sleep pg_sleep_for pg_sleep_until`,

	// JSON, jsonpath and text search.
	`to_json to_jsonb array_to_json row_to_json json_build_array jsonb_build_array
	json_build_object jsonb_build_object json_object jsonb_object json_array_length
	jsonb_array_length json_each jsonb_each json_each_text jsonb_each_text
	json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text
	json_object_keys jsonb_object_keys json_populate_record jsonb_populate_record
	jsonb_populate_record_valid json_populate_recordset jsonb_populate_recordset
	json_array_elements jsonb_array_elements json_array_elements_text
	jsonb_array_elements_text json_typeof jsonb_typeof json_to_record jsonb_to_record
	json_to_recordset jsonb_to_recordset json_strip_nulls jsonb_strip_nulls jsonb_set
	jsonb_set_lax jsonb_insert jsonb_pretty jsonb_path_exists jsonb_path_match
	jsonb_path_query jsonb_path_query_array jsonb_path_query_first
	jsonb_path_exists_tz jsonb_path_match_tz jsonb_path_query_tz
	jsonb_path_query_array_tz jsonb_path_query_first_tz
	to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery
	ts_rank ts_rank_cd ts_headline setweight strip tsvector_to_array
	array_to_tsvector numnode querytree ts_lexize ts_parse ts_token_type
	get_current_ts_config`,

	// XML (values only; the *_to_xml family runs SQL and is in sideEffects).
	`xpath xpath_exists xml_is_well_formed xml_is_well_formed_document
	xml_is_well_formed_content xmlcomment xmltext xmlexists`,

	// Arrays, ranges, enums and set-returning helpers.
	`array_length array_lower array_upper array_dims array_ndims cardinality
	array_append array_prepend array_cat array_remove array_replace array_position
	array_positions array_fill unnest trim_array array_sample array_shuffle
	array_reverse array_sort generate_series generate_subscripts isempty lower_inc
	upper_inc lower_inf upper_inf range_merge int4range int8range numrange tsrange
	tstzrange daterange int4multirange int8multirange nummultirange tsmultirange
	tstzmultirange datemultirange multirange enum_first enum_last enum_range`,

	// Conditional helpers and type conversion by function-call syntax.
	`num_nulls num_nonnulls text date int2 int4 int8 float4 float8 numeric bool
	varchar bpchar name oid bytea uuid jsonb json inet cidr interval
	gen_random_uuid uuidv4 uuidv7 uuid_extract_timestamp uuid_extract_version
	host hostmask masklen netmask network broadcast family abbrev inet_merge
	inet_same_family set_masklen`,

	// Session and server information.
	`current_database current_catalog current_schema current_schemas current_user
	current_role session_user user system_user current_setting current_query
	inet_client_addr inet_client_port inet_server_addr inet_server_port
	pg_backend_pid pg_postmaster_start_time pg_conf_load_time version
	pg_is_in_recovery pg_current_wal_lsn pg_current_wal_insert_lsn
	pg_current_wal_flush_lsn pg_last_wal_receive_lsn pg_last_wal_replay_lsn
	pg_last_xact_replay_timestamp pg_wal_lsn_diff pg_walfile_name
	pg_is_wal_replay_paused pg_get_wal_replay_pause_state pg_current_snapshot
	pg_snapshot_xmin pg_snapshot_xmax pg_snapshot_xip pg_visible_in_snapshot
	pg_current_xact_id_if_assigned pg_xact_status txid_current_snapshot
	txid_current_if_assigned txid_snapshot_xmin txid_snapshot_xmax txid_snapshot_xip
	txid_visible_in_snapshot txid_status pg_xact_commit_timestamp
	pg_last_committed_xact pg_trigger_depth pg_jit_available pg_listening_channels
	pg_notification_queue_usage pg_blocking_pids pg_safe_snapshot_blocking_pids
	pg_my_temp_schema pg_is_other_temp_schema pg_control_checkpoint
	pg_control_system pg_control_init pg_control_recovery currval lastval
	pg_sequence_last_value pg_typeof pg_collation_for pg_input_is_valid
	pg_input_error_info`,

	// Catalog information and sizes.
	`pg_table_size pg_relation_size pg_total_relation_size pg_indexes_size
	pg_database_size pg_tablespace_size pg_column_size pg_column_compression
	pg_size_pretty pg_size_bytes pg_relation_filenode pg_relation_filepath
	pg_filenode_relation pg_tablespace_location pg_tablespace_databases
	has_table_privilege has_column_privilege has_any_column_privilege
	has_database_privilege has_schema_privilege has_function_privilege
	has_sequence_privilege has_language_privilege has_tablespace_privilege
	has_type_privilege has_foreign_data_wrapper_privilege has_server_privilege
	has_parameter_privilege has_largeobject_privilege pg_has_role
	pg_table_is_visible pg_type_is_visible pg_function_is_visible
	pg_operator_is_visible pg_opclass_is_visible pg_opfamily_is_visible
	pg_collation_is_visible pg_conversion_is_visible pg_statistics_obj_is_visible
	pg_ts_parser_is_visible pg_ts_dict_is_visible pg_ts_template_is_visible
	pg_ts_config_is_visible pg_get_viewdef pg_get_ruledef pg_get_indexdef
	pg_get_constraintdef pg_get_triggerdef pg_get_functiondef
	pg_get_function_arguments pg_get_function_result
	pg_get_function_identity_arguments pg_get_function_arg_default pg_get_expr
	pg_get_userbyid pg_get_serial_sequence pg_get_keywords pg_get_partkeydef
	pg_get_statisticsobjdef pg_get_statisticsobjdef_columns pg_get_object_address
	pg_get_replica_identity_index pg_identify_object pg_identify_object_as_address
	pg_describe_object obj_description col_description shobj_description
	pg_options_to_table pg_encoding_to_char pg_char_to_encoding format_type
	to_regclass to_regtype to_regtypemod to_regproc to_regprocedure
	to_regnamespace to_regrole to_regoper to_regoperator to_regcollation
	pg_partition_tree pg_partition_ancestors pg_partition_root
	pg_index_column_has_property pg_index_has_property pg_indexam_has_property
	pg_settings_get_flags pg_show_all_settings pg_lock_status pg_prepared_statement
	pg_cursor pg_available_extensions pg_available_extension_versions
	pg_timezone_names pg_timezone_abbrevs pg_get_catalog_foreign_keys
	pg_stat_get_activity pg_stat_get_backend_idset pg_stat_get_numscans
	pg_stat_get_tuples_returned pg_stat_get_tuples_fetched pg_stat_get_live_tuples
	pg_stat_get_dead_tuples pg_stat_get_db_numbackends
	pg_get_backend_memory_contexts pg_get_shmem_allocations pg_stat_get_wal
	pg_relation_is_publishable pg_get_publication_tables pg_relation_is_updatable
	pg_column_is_updatable pg_get_function_sqlbody pg_sequence_parameters
	getdatabaseencoding pg_client_encoding pg_collation_actual_version
	pg_stat_get_last_vacuum_time pg_stat_get_last_autovacuum_time
	pg_stat_get_last_analyze_time pg_stat_get_last_autoanalyze_time
	pg_stat_get_tuples_inserted pg_stat_get_tuples_updated pg_stat_get_tuples_deleted
	pg_stat_get_blocks_fetched pg_stat_get_blocks_hit pg_stat_get_backend_pid`,

	// Large-object reads and descriptor bookkeeping (the writers are in sideEffects).
	`lo_get loread lo_open lo_close lo_lseek lo_lseek64 lo_tell lo_tell64`,
)

// infoSchemaFunctions are the SQL-language helpers of information_schema
// that JDBC and other drivers call in their metadata queries
// (information_schema._pg_expandarray). They match only when qualified with
// information_schema, which only a superuser can create functions in.
var infoSchemaFunctions = nameSet(
	`_pg_expandarray _pg_index_position _pg_keysequal _pg_truetypid _pg_truetypmod
	_pg_char_max_length _pg_char_octet_length _pg_numeric_precision
	_pg_numeric_precision_radix _pg_numeric_scale _pg_datetime_precision
	_pg_interval_type`,
)

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

// nameSet builds a lookup set from whitespace-separated names.
func nameSet(groups ...string) map[string]struct{} {
	m := make(map[string]struct{})
	for _, g := range groups {
		for _, f := range strings.Fields(g) {
			m[f] = struct{}{}
		}
	}
	return m
}
