package sqlpg

import (
	"errors"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// ParseError is returned by Classify when the text is not valid SQL for the
// PostgreSQL parser. The statement must not be forwarded: the server might
// read it differently from how the classifier failed to read it.
type ParseError struct {
	// Message is the parser's own message, e.g. `syntax error at or near "SELEC"`.
	Message string
	// Cursor is the 1-based character position the parser points at, as
	// PostgreSQL reports it in an ErrorResponse's P field; 0 when unknown.
	Cursor int
}

// Error reads "cannot parse statement: " followed by the parser's message,
// fit to show a caller verbatim in a denial.
func (e *ParseError) Error() string { return "cannot parse statement: " + e.Message }

// IsParseError reports whether err is or wraps a *ParseError.
func IsParseError(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe)
}

// parse runs the PostgreSQL parser over sql. Every failure is a
// *ParseError: a parser error, a zero byte (the C parser would stop at it
// and classify only a prefix of what the server might see), or a parse
// tree that cannot be decoded (deeper than the protobuf nesting limit).
func parse(sql string) (*pg.ParseResult, error) {
	if i := strings.IndexByte(sql, 0); i >= 0 {
		return nil, &ParseError{Message: "statement contains a zero byte", Cursor: utf8.RuneCountInString(sql[:i]) + 1}
	}
	tree, err := pg.Parse(sql)
	if err == nil {
		return tree, nil
	}
	var pe *parser.Error
	if errors.As(err, &pe) {
		return nil, &ParseError{Message: pe.Message, Cursor: pe.Cursorpos}
	}
	return nil, &ParseError{Message: "statement too complex to classify (" + err.Error() + ")"}
}
