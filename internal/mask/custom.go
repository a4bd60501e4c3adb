package mask

import "regexp"

// customScanner finds the matches of a configured regular expression. It
// matches on s[from:], so an anchor or \b at from sees the start of text;
// the masker only resumes a scan at the end of a previous match. Finding a
// match allocates (regexp's index slice); finding none does not.
type customScanner struct{ re *regexp.Regexp }

// Empty matches (a pattern such as \b that New cannot rule out) are
// skipped: there is nothing to mask in them.
func (c customScanner) next(s []byte, from int) (int, int) {
	for from <= len(s) {
		loc := c.re.FindIndex(s[from:])
		if loc == nil {
			return -1, -1
		}
		if loc[1] > loc[0] {
			return from + loc[0], from + loc[1]
		}
		from += loc[1] + 1
	}
	return -1, -1
}
