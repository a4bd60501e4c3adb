// Package sqlcomment reads an agent's stated intent from a sqlcommenter
// comment in the SQL it sends:
//
//	SELECT status FROM refunds WHERE id = 7
//	/* traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',reason='checking%20refund%20status' */
//
// Extract finds block comments with a small lexer that knows enough of
// PostgreSQL's (the default) or MySQL's lexical rules not to be fooled by
// comment-like text inside string literals, quoted identifiers, dollar
// quotes or line comments. Of the comments that parse as sqlcommenter
// key='value' pairs, the last one is used: its reason (URL-decoded, trimmed,
// valid UTF-8, at most MaxReason bytes) and its W3C traceparent (trace-id and
// parent-id, only when the header is valid). Other keys (tracestate, action,
// route, framework...) are accepted and ignored.
//
// Extract only reads: it never changes what is forwarded. What it returns is
// recorded and visible to policy as request.reason / request.trace_id, but
// it is the caller's own claim and never grants anything by itself.
//
// Lexical rules, by dialect:
//
//	                     PostgreSQL                    MySQL
//	'...'                '' escapes                    '' and \ escapes
//	E'...'               \ and '' escapes              (no E strings)
//	"..."                identifier, "" escapes        string, "" and \ escapes
//	`...`                (not special)                 identifier, `` escapes
//	$tag$...$tag$        dollar quote                  (not special)
//	-- to end of line    always                        when followed by a space,
//	                                                   control character or the end
//	# to end of line     (an operator)                 comment
//	/* ... */            nests                         does not nest; /*! and /*M!
//	                                                   open executable comments whose
//	                                                   body is lexed as SQL
//
// Not modelled: PostgreSQL with standard_conforming_strings off (backslashes
// in '...'), MySQL's ANSI_QUOTES and NO_BACKSLASH_ESCAPES modes. Under them
// Extract may read a different comment than the server sees as one; it can
// never change what runs.
//
// Extract allocates nothing when the text has no sqlcommenter comment, and
// otherwise only to decode escaped values.
package sqlcomment
