package sqlpg

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// CopyFormat says how a COPY ... TO STDOUT lays out its rows, so that a
// proxy can rewrite them (mask values) without guessing.
type CopyFormat struct {
	Format    string // "text", "csv" or "binary"
	Delimiter byte   // '\t' for text, ',' for csv unless set
	Null      string // "\\N" for text, "" for csv unless set
	Quote     byte   // csv only: '"' unless set
	Escape    byte   // csv only: the quote unless set
	Header    bool
}

// CopyOptions returns the format of each COPY ... TO STDOUT statement of
// sql, by statement index; statements that are not such a COPY are absent.
// The only error is a *ParseError, or an option whose value the proxy does
// not support (multi-byte delimiters), naming it.
func CopyOptions(sql string) (map[int]CopyFormat, error) {
	tree, err := parse(sql)
	if err != nil {
		return nil, err
	}
	var out map[int]CopyFormat
	for i, raw := range tree.Stmts {
		s := raw.GetStmt().GetCopyStmt()
		if s == nil || s.IsFrom || s.IsProgram || s.Filename != "" {
			continue
		}
		f := CopyFormat{Format: "text"}
		set := map[string]string{}
		for _, o := range s.Options {
			d := o.GetDefElem()
			if d == nil {
				continue
			}
			set[d.Defname] = defString(d.Arg)
		}
		if v, ok := set["format"]; ok {
			f.Format = strings.ToLower(v)
		}
		switch f.Format {
		case "text":
			f.Delimiter, f.Null = '\t', `\N`
		case "csv":
			f.Delimiter, f.Null, f.Quote = ',', "", '"'
		case "binary":
		default:
			return nil, fmt.Errorf("COPY format %q is not supported", f.Format)
		}
		for name, dst := range map[string]*byte{"delimiter": &f.Delimiter, "quote": &f.Quote, "escape": &f.Escape} {
			if v, ok := set[name]; ok {
				if len(v) != 1 {
					return nil, fmt.Errorf("COPY %s %q: only single-byte values are supported", name, v)
				}
				*dst = v[0]
			}
		}
		if v, ok := set["null"]; ok {
			f.Null = v
		}
		if f.Format == "csv" && f.Escape == 0 {
			f.Escape = f.Quote
		}
		if v, ok := set["header"]; ok {
			f.Header = v == "" || v == "true" || v == "on" || v == "1" || v == "match"
		}
		if out == nil {
			out = map[int]CopyFormat{}
		}
		out[i] = f
	}
	return out, nil
}

// defString reads an option argument: a string, an identifier or a number
// as written; "" for a bare option (HEADER).
func defString(n *pg.Node) string {
	switch {
	case n == nil:
		return ""
	case n.GetString_() != nil:
		return n.GetString_().GetSval()
	case n.GetInteger() != nil:
		return fmt.Sprint(n.GetInteger().GetIval())
	case n.GetBoolean() != nil:
		return fmt.Sprint(n.GetBoolean().GetBoolval())
	}
	return ""
}
