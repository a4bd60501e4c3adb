package sqlpg

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/gate"
)

func TestParamKind(t *testing.T) {
	session, admin := gate.KindSession, gate.KindAdmin
	cases := []struct {
		name, value string
		want        gate.Kind
	}{
		{"application_name", "psql", session},
		{"DateStyle", "ISO, MDY", session},
		{"TimeZone", "UTC", session},
		{"IntervalStyle", "postgres", session},
		{"extra_float_digits", "3", session},
		{"statement_timeout", "5s", session},
		{"lock_timeout", "1s", session},
		{"idle_in_transaction_session_timeout", "0", session},
		{"default_transaction_read_only", "on", session},
		{"enable_seqscan", "off", session},
		{"client_encoding", "UTF8", session},
		{"client_encoding", "utf-8", session},
		{"client_encoding", "Unicode", session},
		{"client_encoding", "UTF_8", session},
		{"client_encoding", "SJIS", admin},
		{"client_encoding", "GBK", admin},
		{"client_encoding", "BIG5", admin},
		{"client_encoding", "LATIN1", admin},
		{"client_encoding", "", admin},
		{"client_encoding", "utf8utf8", admin},
		{"role", "postgres", admin},
		{"session_authorization", "postgres", admin},
		{"search_path", "public", admin},
		{"standard_conforming_strings", "on", admin},
		{"backslash_quote", "off", admin},
		{"escape_string_warning", "on", admin},
		{"log_statement", "none", admin},
		{"log_min_duration_statement", "-1", admin},
		{"work_mem", "64MB", admin},
		{"app.tenant_id", "42", admin},
		{"enable_x.y", "on", admin},
		{"options", "-c search_path=evil", admin},
		{"replication", "database", admin},
		{"no_such_setting", "1", admin},
	}
	c := New(Config{})
	for _, tc := range cases {
		if got := ParamKind(tc.name, tc.value); got != tc.want {
			t.Errorf("ParamKind(%q, %q) = %v, want %v", tc.name, tc.value, got, tc.want)
		}
		if got := c.ParamKind(tc.name, tc.value); got != tc.want {
			t.Errorf("Classifier.ParamKind(%q, %q) = %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}
}

// TestSetMatchesParamKind checks that SET name = value is classified as
// ParamKind says, so that startup parameters and SET agree.
func TestSetMatchesParamKind(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"application_name", "x"}, {"datestyle", "ISO"}, {"client_encoding", "UTF8"},
		{"client_encoding", "SJIS"}, {"search_path", "x"}, {"work_mem", "1MB"}, {"timezone", "UTC"},
	} {
		cl := mustClassify(t, Config{}, "SET "+tc.name+" = '"+tc.value+"'")
		if want := ParamKind(tc.name, tc.value); cl.Kind != want {
			t.Errorf("SET %s = %s: %v, ParamKind says %v", tc.name, tc.value, cl.Kind, want)
		}
	}
}
