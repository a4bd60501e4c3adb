package web

import (
	"html/template"
	"strings"
)

// SQL display for approvers. This is presentation only, never
// classification (that is the AST's job in sqlpg): a small lexer that
// knows PostgreSQL's strings, quoted identifiers, dollar quoting and
// comments well enough never to change text inside them. It upper-cases
// keywords and, for a statement written on one line, starts each main
// clause on a new line. The page shows the exact text as sent next to it.

type sqlTokKind uint8

const (
	tokSpace sqlTokKind = iota
	tokWord
	tokKeyword
	tokString
	tokIdent // "quoted identifier"
	tokComment
	tokParam // $1
	tokNumber
	tokPunct
)

type sqlTok struct {
	kind sqlTokKind
	text string
}

// sqlKeywords are upper-cased for display. Words that are often column
// names (name, type, date, user, key, value, time, level) are left out.
var sqlKeywords = wordSet(`select from where and or not in is null like ilike between exists
	insert into values update set delete returning join left right full inner outer cross natural
	on using group by order having limit offset union all intersect except distinct as case when
	then else end create alter drop table index view sequence schema database grant revoke to
	truncate cascade restrict with recursive begin commit rollback savepoint release transaction
	asc desc nulls first last true false primary foreign references unique check constraint default
	add column rename if copy explain analyze vacuum lock for share nowait skip locked conflict do
	nothing returns function procedure language trigger execute call window over partition fetch
	next rows only lateral similar any some cast collate`)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// lexSQL splits text into tokens whose texts concatenate back to text.
func lexSQL(text string) []sqlTok {
	var out []sqlTok
	for i := 0; i < len(text); {
		c := text[i]
		j := i + 1
		kind := tokPunct
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			for j < len(text) && strings.IndexByte(" \t\n\r\f", text[j]) >= 0 {
				j++
			}
			kind = tokSpace
		case c == '-' && strings.HasPrefix(text[i:], "--"):
			j = endOf(text, i+2, "\n")
			kind = tokComment
		case c == '/' && strings.HasPrefix(text[i:], "/*"):
			j = blockCommentEnd(text, i)
			kind = tokComment
		case c == '\'':
			j = quotedEnd(text, i, '\'', false)
			kind = tokString
		case (c == 'e' || c == 'E') && i+1 < len(text) && text[i+1] == '\'':
			j = quotedEnd(text, i+1, '\'', true)
			kind = tokString
		case c == '"':
			j = quotedEnd(text, i, '"', false)
			kind = tokIdent
		case c == '$' && j < len(text) && isDigit(text[j]):
			for j < len(text) && isDigit(text[j]) {
				j++
			}
			kind = tokParam
		case c == '$':
			if tag, ok := dollarTag(text[i:]); ok {
				j = endOf(text, i+len(tag), tag)
				kind = tokString
			}
		case isDigit(c):
			for j < len(text) && (isDigit(text[j]) || text[j] == '.' || text[j] == '_') {
				j++
			}
			kind = tokNumber
		case isWordStart(c):
			for j < len(text) && isWordPart(text[j]) {
				j++
			}
			kind = tokWord
			if sqlKeywords[strings.ToLower(text[i:j])] && !(i > 0 && text[i-1] == '.') {
				kind = tokKeyword
			}
		}
		out = append(out, sqlTok{kind, text[i:j]})
		i = j
	}
	return out
}

func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isWordStart(c byte) bool { return c == '_' || c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isWordPart(c byte) bool  { return isWordStart(c) || isDigit(c) || c == '$' }

// endOf returns the index just past the first end at or after from, or
// len(text) when there is none.
func endOf(text string, from int, end string) int {
	if from >= len(text) {
		return len(text)
	}
	if k := strings.Index(text[from:], end); k >= 0 {
		return from + k + len(end)
	}
	return len(text)
}

// blockCommentEnd handles nesting, as PostgreSQL does.
func blockCommentEnd(text string, i int) int {
	depth := 0
	for i < len(text) {
		switch {
		case strings.HasPrefix(text[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(text[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(text)
}

// quotedEnd finds the end of a quoted run starting at i (the quote); a
// doubled quote is an escaped one, and so is a backslash-escaped one when
// backslash is set (E'...').
func quotedEnd(text string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(text); j++ {
		switch {
		case backslash && text[j] == '\\':
			j++
		case text[j] == q && j+1 < len(text) && text[j+1] == q:
			j++
		case text[j] == q:
			return j + 1
		}
	}
	return len(text)
}

// dollarTag returns the opening $tag$ of a dollar-quoted string.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		switch {
		case s[j] == '$':
			return s[:j+1], true
		case !isWordPart(s[j]) || s[j] == '$' || (j == 1 && isDigit(s[j])):
			return "", false
		}
	}
	return "", false
}

// clauseStarts begin a new line in a one-line statement (at paren depth 0).
var clauseStarts = wordSet(`select from where having limit offset returning set values union intersect except
	window fetch`)

// joinWords may precede JOIN and move the line break before themselves.
var joinWords = wordSet(`left right full inner outer cross natural`)

// formatSQL upper-cases keywords and, when text is one line longer than
// 60 bytes, breaks it before each main clause. Text inside strings,
// identifiers and comments is never touched.
func formatSQL(text string) []sqlTok {
	toks := lexSQL(text)
	for i := range toks {
		if toks[i].kind == tokKeyword {
			toks[i].text = strings.ToUpper(toks[i].text)
		}
	}
	if len(text) <= 60 || strings.Contains(strings.TrimSpace(text), "\n") {
		return toks
	}
	out := make([]sqlTok, 0, len(toks)+8)
	depth, between := 0, false
	for _, t := range toks {
		if t.kind == tokPunct {
			switch t.text {
			case "(":
				depth++
			case ")":
				depth--
			}
		}
		if depth == 0 && t.kind == tokKeyword {
			w := strings.ToLower(t.text)
			switch {
			case w == "between":
				between = true
			case w == "and" && between:
				between = false
			case w == "and" || w == "or":
				out = breakBefore(out, len(out), "  ")
			case w == "from" && stickyFrom(out):
			case clauseStarts[w]:
				out = breakBefore(out, len(out), "")
			case w == "join" || w == "by" || w == "conflict":
				at := len(out)
				for k := prevWord(out, at); k >= 0; k = prevWord(out, k) {
					p := strings.ToLower(out[k].text)
					if !(joinWords[p] || (w == "by" && (p == "group" || p == "order")) || (w == "conflict" && p == "on")) {
						break
					}
					at = k
				}
				if w == "join" || at < len(out) {
					out = breakBefore(out, at, "")
				}
			}
		}
		if t.kind == tokSpace && depth == 0 && len(out) > 0 && out[len(out)-1].text == ";" {
			t.text = "\n"
		}
		out = append(out, t)
	}
	return out
}

// stickyFrom reports whether a FROM stays on its line: DELETE FROM, IS
// DISTINCT FROM.
func stickyFrom(out []sqlTok) bool {
	k := prevWord(out, len(out))
	if k < 0 {
		return false
	}
	p := strings.ToLower(out[k].text)
	return p == "delete" || p == "distinct"
}

// prevWord returns the index of the last keyword or word token before at,
// skipping only white space, or -1.
func prevWord(toks []sqlTok, at int) int {
	for k := at - 1; k >= 0; k-- {
		switch toks[k].kind {
		case tokSpace:
			continue
		case tokKeyword, tokWord:
			return k
		}
		return -1
	}
	return -1
}

// breakBefore puts a line break (and indent) before toks[at], replacing
// the white space there; nothing happens at the start of the statement.
func breakBefore(toks []sqlTok, at int, indent string) []sqlTok {
	if at == 0 || (at == 1 && toks[0].kind == tokSpace) {
		return toks
	}
	if toks[at-1].kind == tokSpace {
		toks[at-1].text = "\n" + indent
		return toks
	}
	return append(toks[:at], append([]sqlTok{{tokSpace, "\n" + indent}}, toks[at:]...)...)
}

// sqlText is the formatted statement as plain text.
func sqlText(text string) string {
	var b strings.Builder
	for _, t := range formatSQL(text) {
		b.WriteString(t.text)
	}
	return b.String()
}

var sqlClasses = map[sqlTokKind]string{tokKeyword: "k", tokString: "s", tokIdent: "i", tokComment: "c", tokParam: "p", tokNumber: "n"}

// sqlHTML is the formatted statement with highlighting spans. Every token
// text is escaped, so the result is safe to insert as HTML.
func sqlHTML(text string) template.HTML {
	var b strings.Builder
	for _, t := range formatSQL(text) {
		if cls, ok := sqlClasses[t.kind]; ok {
			b.WriteString(`<span class="`)
			b.WriteString(cls)
			b.WriteString(`">`)
			b.WriteString(template.HTMLEscapeString(t.text))
			b.WriteString(`</span>`)
			continue
		}
		b.WriteString(template.HTMLEscapeString(t.text))
	}
	return template.HTML(b.String()) //nolint:gosec // every piece above is escaped
}
