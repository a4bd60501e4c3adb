package mask

// ssnScanner finds US Social Security numbers (ssn).
//
// Formatted: 3-2-4 digits joined by spaces, dashes or dots ("123-45-6789",
// "123 45 6789", "123.45.6789", mixed allowed). When the number is part of
// a longer chain of digit groups, the separator joining the chain must
// differ from the SSN's own ("born 1985 123-45-6789" matches,
// "2024-123-45-6789", a dashed identifier, does not).
//
// Unformatted nine digits match only after a keyword: "ssn", "social
// security", "soc sec" ("SSN: 123456789", "ssn#123456789").
//
// Numbers the SSA never issues are excluded: area 000, 666 and 900-999
// (ITINs and test numbers), group 00, serial 0000.
type ssnScanner struct{}

var ssnKeywords = []string{"ssn", "ssns", "social security", "soc sec", "soc. sec"}

func (ssnScanner) next(s []byte, from int) (int, int) {
	var g [maxGroups]group
	for i := from; ; {
		j := nextRunStart(s, i)
		if j < 0 {
			return -1, -1
		}
		n, more := readGroups(s, j, g[:])
		for a := 0; a < n; a++ {
			if st, en, ok := ssnAt(s, g[a:n]); ok {
				return st, en
			}
		}
		if more {
			i = g[n-2].start
		} else {
			i = g[n-1].end
		}
	}
}

// ssnAt reports whether an SSN starts at group g[0].
func ssnAt(s []byte, g []group) (start, end int, ok bool) {
	before, joinedB := joinedBefore(s, g[0].start)
	if len(g) >= 3 && g[0].n == 3 && g[1].n == 2 && g[2].n == 4 &&
		single(g[1].sep, " -.") && single(g[2].sep, " -.") {
		_, after, joinedA := joinAt(s, g[2].end)
		if joinedB && (before == g[1].sep || before == g[2].sep) {
			return 0, 0, false
		}
		if joinedA && (after == g[1].sep || after == g[2].sep) {
			return 0, 0, false
		}
		var d [9]byte
		digitsOf(s, g[:3], d[:])
		if ssnValid(&d) && !exemptGroups(s, g[0], g[2]) {
			return g[0].start, g[2].end, true
		}
		return 0, 0, false
	}
	if g[0].n == 9 && !joinedB {
		if _, _, joinedA := joinAt(s, g[0].end); joinedA {
			return 0, 0, false
		}
		var d [9]byte
		digitsOf(s, g[:1], d[:])
		if ssnValid(&d) && keywordBefore(s, g[0].start, ssnKeywords) && !exemptGroups(s, g[0], g[0]) {
			return g[0].start, g[0].end, true
		}
	}
	return 0, 0, false
}

// ssnValid reports whether nine digits are an SSN the SSA could issue.
func ssnValid(d *[9]byte) bool {
	area := int(d[0])*100 + int(d[1])*10 + int(d[2])
	if area == 0 || area == 666 || area >= 900 {
		return false
	}
	if d[3] == 0 && d[4] == 0 {
		return false
	}
	return d[5]|d[6]|d[7]|d[8] != 0
}
