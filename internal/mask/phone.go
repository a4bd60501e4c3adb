package mask

// phoneScanner finds telephone numbers (phone).
//
// Matched forms, each one whole number (no digit group may be joined to it
// before or after, except as noted):
//   - international: '+' and 8 to 15 digits in groups ("+1 415 555 2671",
//     "+44 (0)20 7946 0958", "+4930123456"); the '+' must not follow a
//     letter or digit (so "+05:30" in a timestamp is not one);
//   - international with the 00 prefix in at least two groups ("0049 30 1234567");
//   - North American: "(415) 555-2671", "415-555-2671", "415.555.2671",
//     "415 555 2671", "1-800-555-0199", area and exchange starting 2-9;
//   - national with a trunk 0, two or more groups with one kind of
//     separator, 9 to 12 digits: "020 7946 0958", "06 12 34 56 78",
//     "030/1234567", "(030) 1234567";
//   - any 7 to 15 digits, grouped or not, after a keyword such as "phone",
//     "tel", "mobile", "fax", "call" ("Tel: 4155552671").
//
// Left alone: dates and times (their groups do not fit: "01.02.2024" has 8
// digits), versions, IPv4 addresses, ISBNs, digits in digests and UUIDs.
type phoneScanner struct{}

var phoneKeywords = []string{"phone", "phones", "tel", "telephone", "mobile", "cell", "cellphone",
	"fax", "call", "sms", "whatsapp", "ph", "mob", "tlf", "telefon", "telefono", "handy", "contact"}

func (phoneScanner) next(s []byte, from int) (int, int) {
	var g [maxGroups]group
	for i := from; ; {
		j := nextRunStart(s, i)
		if j < 0 {
			return -1, -1
		}
		n, more := readGroups(s, j, g[:])
		if !more {
			if st, en, ok := phoneAt(s, g[:n]); ok {
				return st, en
			}
			i = g[n-1].end
			continue
		}
		// Too many groups for one phone number: skip the chain.
		for more {
			n, more = readGroups(s, g[n-1].start, g[:])
		}
		i = g[n-1].end
	}
}

// phoneAt reports whether the whole chain g (from a run start) is a phone
// number, and returns its span including a leading '+' or '('.
func phoneAt(s []byte, g []group) (start, end int, ok bool) {
	st := g[0].start
	end = g[len(g)-1].end
	var total int
	for k, gr := range g {
		if k > 0 && (gr.sep[0] == '\n' || gr.sep[1] == '\n') {
			return 0, 0, false
		}
		total += gr.n
	}
	if total > 16 {
		return 0, 0, false
	}
	var d [16]byte
	digitsOf(s, g, d[:])
	prev := byte(0)
	if st > 0 {
		prev = s[st-1]
	}
	switch {
	case prev == '+' && boundedLeft(s, st-1):
		limit := 15
		if hasParenZero(g) {
			limit = 16
		}
		if d[0] != 0 && total >= 8 && total <= limit && !exemptGroups(s, g[0], g[len(g)-1]) {
			return st - 1, end, true
		}
		return 0, 0, false
	case prev == '(' && boundedLeft(s, st-1):
		if len(g) < 2 || g[1].sep[0] != ')' {
			return 0, 0, false
		}
		if nanp(d[:total], g) || trunk(d[:total], g, true) {
			return st - 1, end, true
		}
	}
	if _, joined := joinedBefore(s, st); joined {
		return 0, 0, false
	}
	if len(g) >= 2 && sameSep(g, " -./") {
		if nanp(d[:total], g) || trunk(d[:total], g, false) ||
			(d[0] == 0 && d[1] == 0 && d[2] != 0 && total-2 >= 8 && total-2 <= 15) {
			if !exemptGroups(s, g[0], g[len(g)-1]) {
				return st, end, true
			}
		}
	}
	if total >= 7 && total <= 15 && keywordBefore(s, st, phoneKeywords) && !exemptGroups(s, g[0], g[len(g)-1]) {
		return st, end, true
	}
	return 0, 0, false
}

// nanp reports whether the groups are a North American number: optional
// leading 1, then 3-3-4 with area and exchange codes starting 2-9.
func nanp(d []byte, g []group) bool {
	if len(g) == 4 && g[0].n == 1 && d[0] == 1 {
		g, d = g[1:], d[1:]
	}
	return len(g) == 3 && g[0].n == 3 && g[1].n == 3 && g[2].n == 4 && d[0] >= 2 && d[3] >= 2
}

// trunk reports whether the groups are a national number with trunk prefix
// 0: the first group has 2 to 5 digits and starts 0 then 1-9, every group
// has at least 2 digits, 9 to 12 digits in all, and the groups are not
// 3-2-4 (an SSN's shape). Without parentheses all
// separators must be the same (checked by the caller).
func trunk(d []byte, g []group, paren bool) bool {
	if len(d) < 9 || len(d) > 12 || len(g) < 2 || d[0] != 0 || d[1] == 0 {
		return false
	}
	if g[0].n < 2 || g[0].n > 5 {
		return false
	}
	if len(g) == 3 && g[0].n == 3 && g[1].n == 2 && g[2].n == 4 {
		return false // 3-2-4 is the shape of an SSN
	}
	for _, gr := range g {
		if gr.n < 2 {
			return false
		}
	}
	return true
}

// sameSep reports whether every separator in g is the same single
// character from set, except that a North American "(415) 555-2671" is
// checked elsewhere.
func sameSep(g []group, set string) bool {
	for k := 1; k < len(g); k++ {
		if !single(g[k].sep, set) {
			return false
		}
	}
	if nanpLike(g) {
		return true // 415-555 2671: mixed separators are common here
	}
	for k := 2; k < len(g); k++ {
		if g[k].sep != g[1].sep {
			return false
		}
	}
	return true
}

func nanpLike(g []group) bool {
	if len(g) == 4 && g[0].n == 1 {
		g = g[1:]
	}
	return len(g) == 3 && g[0].n == 3 && g[1].n == 3 && g[2].n == 4
}

// hasParenZero reports whether the groups hold "(0)", the trunk prefix
// written inside an international number.
func hasParenZero(g []group) bool {
	for k := 1; k+1 < len(g); k++ {
		if g[k].n == 1 && g[k].sep[0] != 0 && (g[k].sep[0] == '(' || g[k].sep[1] == '(') && g[k+1].sep[0] == ')' {
			return true
		}
	}
	return false
}
