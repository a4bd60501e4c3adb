package sqlcomment

import "strings"

// Dialect selects the lexical rules used to find comments. The zero value
// is PostgreSQL.
type Dialect uint8

const (
	// PostgreSQL: nested block comments, E'...' and $tag$ quotes, "..."
	// identifiers; standard_conforming_strings on.
	PostgreSQL Dialect = iota
	// MySQL (and MariaDB): backslash escapes in '...' and "..." strings,
	// `...` identifiers, # and "-- " line comments, flat block comments,
	// executable /*! ... */ comments.
	MySQL
)

func (d Dialect) String() string {
	if d == MySQL {
		return "mysql"
	}
	return "postgres"
}

// lexer walks SQL text at top level, skipping everything that is not a
// block comment. It allocates nothing.
type lexer struct {
	d Dialect
	s string
	i int
	// exec is set inside a MySQL executable comment (/*! ... */), whose
	// body is SQL; the next top-level */ ends it.
	exec bool
	// open is set when a quote or block comment ran to the end of the text
	// unterminated.
	open bool
}

// upTo maps the result of skipQuoted and skipDollar to the next index,
// recording an unterminated construct (-1).
func (l *lexer) upTo(i int) int {
	if i < 0 {
		l.open = true
		return len(l.s)
	}
	return i
}

// next returns the body of the next complete top-level block comment
// (without its delimiters), or ok == false at the end of the text. An
// unterminated comment or quote runs to the end of the text and yields
// nothing, as the server would reject the statement anyway.
func (l *lexer) next() (body string, ok bool) {
	s := l.s
	for l.i < len(s) {
		c := s[l.i]
		switch class[c] {
		case plain:
			l.i++
		case word:
			j := l.i + 1
			for j < len(s) && (class[s[j]] == word || s[j] == '$' && l.d == PostgreSQL && !isDigit(c)) {
				j++
			}
			if l.d == PostgreSQL && j == l.i+1 && (c == 'e' || c == 'E') && at(s, j) == '\'' {
				j = l.upTo(skipQuoted(s, j+1, '\'', true)) // E'...': backslash escapes
			}
			l.i = j
		case special:
			switch {
			case c == '\'':
				l.i = l.upTo(skipQuoted(s, l.i+1, '\'', l.d == MySQL))
			case c == '"':
				l.i = l.upTo(skipQuoted(s, l.i+1, '"', l.d == MySQL))
			case c == '`' && l.d == MySQL:
				l.i = l.upTo(skipQuoted(s, l.i+1, '`', false))
			case c == '-' && at(s, l.i+1) == '-' && (l.d == PostgreSQL || l.i+2 >= len(s) || s[l.i+2] <= ' ' || s[l.i+2] == 0x7f):
				l.i = l.skipLine(l.i + 2)
			case c == '#' && l.d == MySQL:
				l.i = l.skipLine(l.i + 1)
			case c == '*' && l.exec && at(s, l.i+1) == '/':
				l.exec = false
				l.i += 2
			case c == '/' && at(s, l.i+1) == '*':
				if l.d == MySQL && (at(s, l.i+2) == '!' || at(s, l.i+2) == 'M' && at(s, l.i+3) == '!') {
					l.exec = true
					l.i += 3
					continue
				}
				start := l.i + 2
				end, next, closed := l.skipBlock(start)
				l.i = next
				if closed {
					return s[start:end], true
				}
				l.open = true
			case c == '$' && l.d == PostgreSQL:
				l.i = l.upTo(skipDollar(s, l.i))
			default:
				l.i++
			}
		}
	}
	return "", false
}

// Byte classes for the top-level loop: most bytes are plain and cost one
// table lookup.
const (
	plain   = iota
	word    // letters, digits, '_', bytes >= 0x80
	special // may start a quote or a comment in some dialect
)

var class = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80:
			t[c] = word
		case strings.IndexByte("'\"`-#*/$", byte(c)) >= 0:
			t[c] = special
		}
	}
	return t
}()

// skipBlock skips a block comment whose body starts at i. It returns the
// end of the body, the index after the closing */, and whether the comment
// was closed. PostgreSQL comments nest; MySQL comments end at the first */.
func (l *lexer) skipBlock(i int) (end, next int, closed bool) {
	s := l.s
	if l.d == MySQL {
		k := strings.Index(s[i:], "*/")
		if k < 0 {
			return len(s), len(s), false
		}
		return i + k, i + k + 2, true
	}
	depth := 1
	for i < len(s)-1 {
		switch {
		case s[i] == '*' && s[i+1] == '/':
			depth--
			if depth == 0 {
				return i, i + 2, true
			}
			i += 2
		case s[i] == '/' && s[i+1] == '*':
			depth++
			i += 2
		default:
			i++
		}
	}
	return len(s), len(s), false
}

// skipQuoted returns the index after the quote q that closes a quoted
// string or identifier whose body starts at i, or -1 if none does. A
// doubled quote stands for itself; with backslash, a backslash escapes the
// next byte.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for i < len(s) {
		switch s[i] {
		case q:
			if at(s, i+1) != q {
				return i + 1
			}
			i += 2
		case '\\':
			if backslash {
				i += 2
			} else {
				i++
			}
		default:
			i++
		}
	}
	return -1
}

// skipLine returns the index of the end of the line comment whose body
// starts at i: the next \n, or \r too in PostgreSQL (MySQL reads to \n).
func (l *lexer) skipLine(i int) int {
	s := l.s
	for i < len(s) && s[i] != '\n' && (s[i] != '\r' || l.d == MySQL) {
		i++
	}
	return i
}

// skipDollar handles a '$' at i in PostgreSQL: a parameter ($1), a dollar
// quote ($$...$$, $tag$...$tag$) or a stray '$'. It returns the index after
// what it skipped, or -1 for an unterminated dollar quote.
func skipDollar(s string, i int) int {
	j := i + 1
	if j < len(s) && isDigit(s[j]) {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		return j
	}
	// A tag is an identifier without '$' that does not start with a digit.
	for j < len(s) && isWord(s[j]) {
		j++
	}
	if j >= len(s) || s[j] != '$' {
		return i + 1
	}
	delim := s[i : j+1]
	k := strings.Index(s[j+1:], delim)
	if k < 0 {
		return -1
	}
	return j + 1 + k + len(delim)
}

// isWord reports whether c can continue an identifier or keyword (and start
// one, or a number). Bytes >= 0x80 are identifier bytes in both dialects.
func isWord(c byte) bool { return class[c] == word }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// at returns s[i], or 0 past the end.
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}
