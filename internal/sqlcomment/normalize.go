package sqlcomment

import "strings"

// Normalize returns sql with PostgreSQL's lexical rules applied as
// Dialect.Normalize describes.
func Normalize(sql string) string { return PostgreSQL.Normalize(sql) }

// Normalize returns sql without its comments and with the white space
// between tokens collapsed, so that two texts that differ only in comments
// (a new traceparent on a retry) or in layout compare equal, while any
// change to a token (a keyword, a literal, an identifier, a parameter)
// makes them differ. It is the statement identity of an approval.
//
// Rules, with the same lexer as Extract (quotes, dollar quotes and nesting
// per dialect):
//
//   - block and line comments are removed; each counts as white space
//     between its neighbours, as the server treats it. MySQL executable
//     comments (/*! ... */) are SQL and are kept, their body normalized.
//   - every run of white space and comments between two tokens becomes one
//     separator, " ", except that a run of white space holding a line
//     break between two '...' literals becomes "\n" (PostgreSQL joins
//     'a'<newline>'b' into one literal while 'a' 'b' is an error, so the
//     distinction is kept). Leading and trailing runs are dropped.
//   - in MySQL a comment right after "--" (two minus operators) is kept (a
//     kept line comment then ends with "\n"), and no separator follows
//     "--", since either would turn the operators into a comment.
//   - string literals, quoted identifiers and dollar quotes are copied
//     byte for byte, as are tokens; case is not folded.
//   - text after an unterminated quote or comment is copied as it is.
//
// Normalize is idempotent. It allocates the result only.
func (d Dialect) Normalize(sql string) string {
	var b strings.Builder
	b.Grow(len(sql))
	l := lexer{d: d, s: sql}
	s := sql
	var (
		pending bool // a separator is owed before the next token
		newline bool // the pending run holds a line break
		comment bool // the pending run holds a comment
		quoted  bool // the last token written is a '...' literal
		line    bool // the last token written is a (kept) line comment
	)
	emit := func(from, to int, quote bool) {
		// In MySQL "--" followed by white space starts a comment, so a
		// separator after a "--" that was not one would make it one.
		if pending && b.Len() > 0 && (line || !(d == MySQL && strings.HasSuffix(b.String(), "--"))) {
			if line || newline && !comment && quoted && s[from] == '\'' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		pending, newline, comment, quoted, line = false, false, false, quote, false
		b.WriteString(s[from:to])
	}
	// In MySQL a comment right after "--" (operators, as no white space
	// follows) is kept: removing it could leave "--" before white space or
	// the end, which is a comment.
	keep := func() bool { return d == MySQL && !pending && strings.HasSuffix(b.String(), "--") }
	for l.i < len(s) {
		c, start := s[l.i], l.i
		if isSpace(c) {
			pending = true
			newline = newline || c == '\n' || c == '\r'
			l.i++
			continue
		}
		switch class[c] {
		case plain:
			l.i++
		case word:
			j := l.i + 1
			for j < len(s) && (class[s[j]] == word || s[j] == '$' && l.d == PostgreSQL && !isDigit(c)) {
				j++
			}
			if l.d == PostgreSQL && j == l.i+1 && (c == 'e' || c == 'E') && at(s, j) == '\'' {
				j = l.upTo(skipQuoted(s, j+1, '\'', true))
			}
			l.i = j
		default:
			switch {
			case c == '\'':
				l.i = l.upTo(skipQuoted(s, l.i+1, '\'', l.d == MySQL))
			case c == '"':
				l.i = l.upTo(skipQuoted(s, l.i+1, '"', l.d == MySQL))
			case c == '`' && l.d == MySQL:
				l.i = l.upTo(skipQuoted(s, l.i+1, '`', false))
			case c == '-' && at(s, l.i+1) == '-' && (l.d == PostgreSQL || l.i+2 >= len(s) || s[l.i+2] <= ' ' || s[l.i+2] == 0x7f):
				l.i = l.skipLine(l.i + 2)
				if !keep() {
					pending, comment = true, true
					continue
				}
				emit(start, trimSpace(s, start, l.i), false)
				line = true
				continue
			case c == '#' && l.d == MySQL:
				l.i = l.skipLine(l.i + 1)
				if !keep() {
					pending, comment = true, true
					continue
				}
				emit(start, trimSpace(s, start, l.i), false)
				line = true
				continue
			case c == '*' && l.exec && at(s, l.i+1) == '/':
				l.exec = false
				l.i += 2
			case c == '/' && at(s, l.i+1) == '*':
				if l.d == MySQL && (at(s, l.i+2) == '!' || at(s, l.i+2) == 'M' && at(s, l.i+3) == '!') {
					l.exec = true
					l.i += 3
					if at(s, start+2) == 'M' {
						l.i++
					}
					break
				}
				_, next, closed := l.skipBlock(l.i + 2)
				l.i = next
				if closed && !keep() {
					pending, comment = true, true
					continue
				}
				l.open = true
			case c == '$' && l.d == PostgreSQL:
				l.i = l.upTo(skipDollar(s, l.i))
			default:
				l.i++
			}
		}
		emit(start, l.i, c == '\'' || class[c] == word && at(s, l.i-1) == '\'')
	}
	return b.String()
}

// trimSpace returns end moved back over trailing white space of s[start:end].
func trimSpace(s string, start, end int) int {
	for end > start && isSpace(s[end-1]) {
		end--
	}
	return end
}

// isSpace reports whether c is white space to PostgreSQL's and MySQL's
// scanners.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
