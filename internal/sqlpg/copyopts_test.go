package sqlpg

import "testing"

func TestCopyOptions(t *testing.T) {
	cases := []struct {
		sql  string
		want CopyFormat
		ok   bool
	}{
		{"COPY t TO STDOUT", CopyFormat{Format: "text", Delimiter: '\t', Null: `\N`}, true},
		{"COPY (SELECT 1) TO STDOUT WITH (FORMAT csv, HEADER)", CopyFormat{Format: "csv", Delimiter: ',', Quote: '"', Escape: '"', Header: true}, true},
		{"COPY t TO STDOUT WITH CSV DELIMITER ';' NULL 'nil' QUOTE '''' ", CopyFormat{Format: "csv", Delimiter: ';', Null: "nil", Quote: '\'', Escape: '\''}, true},
		{"COPY t TO STDOUT (FORMAT binary)", CopyFormat{Format: "binary"}, true},
		{"COPY t (a, b) TO STDOUT (DELIMITER '|', NULL '')", CopyFormat{Format: "text", Delimiter: '|', Null: ""}, true},
		{"COPY t FROM STDIN", CopyFormat{}, false},
	}
	for _, tc := range cases {
		got, err := CopyOptions(tc.sql)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		f, ok := got[0]
		if ok != tc.ok || f != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.sql, f, ok, tc.want)
		}
	}
	if _, err := CopyOptions("COPY t TO STDOUT (DELIMITER '||')"); err == nil {
		t.Error("multi-byte delimiter accepted")
	}
	if got, _ := CopyOptions("SELECT 1; COPY t TO STDOUT"); got[1].Format != "text" || len(got) != 1 {
		t.Errorf("statement index: %+v", got)
	}
}
