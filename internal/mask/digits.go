package mask

// Digit groups: the shared tokenizer of the numeric detectors (credit_card,
// ssn, phone). A number is read as digit groups joined by short separators:
//
//	"4111 1111-1111.1111"  -> 4111 ' ' 1111 '-' 1111 '.' 1111
//	"(555) 123-4567"       -> 555 ')'' ' 123 '-' 4567, the '(' belongs to the caller
//
// Digits are ASCII 0-9 and the full-width digits U+FF10..U+FF19, which
// readers (and language models) take for digits; other Unicode digits are
// not recognised. Separators are canonicalised to one byte: ' ' (space, tab
// is not one, NO-BREAK SPACE U+00A0, NARROW NO-BREAK SPACE U+202F,
// IDEOGRAPHIC SPACE U+3000, and the invisible ZERO WIDTH SPACE, NON-JOINER,
// JOINER and WORD JOINER, U+200B..U+200D and U+2060), '-' (hyphen-minus, U+2010..U+2015, FULLWIDTH
// HYPHEN-MINUS U+FF0D), '.', '/', '(', ')', and '\n' (LF or CR LF).

// maxGroups bounds the groups read at once; 19 digits (the longest card)
// fit in 19 groups, so a window of maxGroups keeps every candidate whole.
const maxGroups = 24

// group is one run of digits inside a number.
type group struct {
	start, end int     // byte offsets of the run in the value
	n          int     // digits in the run
	sep        [2]byte // canonical separator before the run; sep[0] == 0 for the first
}

// digitAt returns the value of the digit at s[i] and its width in bytes;
// w == 0 when s[i] does not start a digit.
func digitAt(s []byte, i int) (d byte, w int) {
	c := s[i]
	if c-'0' <= 9 {
		return c - '0', 1
	}
	if c == 0xEF && i+2 < len(s) && s[i+1] == 0xBC && s[i+2]-0x90 <= 9 {
		return s[i+2] - 0x90, 3
	}
	return 0, 0
}

// digitBefore reports whether a digit ends just before s[i].
func digitBefore(s []byte, i int) bool {
	if i == 0 {
		return false
	}
	if s[i-1]-'0' <= 9 {
		return true
	}
	return i >= 3 && s[i-3] == 0xEF && s[i-2] == 0xBC && s[i-1]-0x90 <= 9
}

// sepAt returns the canonical separator starting at s[i] and its width, or
// w == 0.
func sepAt(s []byte, i int) (c byte, w int) {
	switch b := s[i]; b {
	case ' ', '-', '.', '/', '(', ')', '\n':
		return b, 1
	case '\r':
		if i+1 < len(s) && s[i+1] == '\n' {
			return '\n', 2
		}
	case 0xC2: // U+00A0
		if i+1 < len(s) && s[i+1] == 0xA0 {
			return ' ', 2
		}
	case 0xE2: // U+2010..U+2015, U+202F; zero-width U+200B..U+200D, U+2060
		if i+2 < len(s) && s[i+1] == 0x80 {
			if s[i+2] >= 0x90 && s[i+2] <= 0x95 {
				return '-', 3
			}
			if s[i+2] == 0xAF || (s[i+2] >= 0x8B && s[i+2] <= 0x8D) {
				return ' ', 3
			}
		}
		if i+2 < len(s) && s[i+1] == 0x81 && s[i+2] == 0xA0 {
			return ' ', 3
		}
	case 0xE3: // U+3000
		if i+2 < len(s) && s[i+1] == 0x80 && s[i+2] == 0x80 {
			return ' ', 3
		}
	case 0xEF: // U+FF0D
		if i+2 < len(s) && s[i+1] == 0xBC && s[i+2] == 0x8D {
			return '-', 3
		}
	}
	return 0, 0
}

// sepBefore returns the canonical separator ending just before s[i], or
// w == 0.
func sepBefore(s []byte, i int) (c byte, w int) {
	for w := 1; w <= 3 && w <= i; w++ {
		if c, sw := sepAt(s, i-w); sw == w {
			return c, w
		}
	}
	return 0, 0
}

// digitRun returns the end of the digit run starting at i and its digit count.
func digitRun(s []byte, i int) (end, n int) {
	for i < len(s) {
		_, w := digitAt(s, i)
		if w == 0 {
			break
		}
		i += w
		n++
	}
	return i, n
}

// readGroups reads the digit groups of the number starting at s[i], which
// must be a digit, into g. A separator of one or two characters joins two
// groups only when a digit follows it. It returns the groups read and
// whether the number goes on past the last one (g was too small).
func readGroups(s []byte, i int, g []group) (n int, more bool) {
	var sep [2]byte
	for {
		end, cnt := digitRun(s, i)
		g[n] = group{start: i, end: end, n: cnt, sep: sep}
		n++
		j, next, ok := joinAt(s, end)
		if !ok {
			return n, false
		}
		if n == len(g) {
			return n, true
		}
		sep, i = next, j
	}
}

// joinAt reads a separator of one or two characters at s[i] that a digit
// follows; it returns the digit's offset and the separator.
func joinAt(s []byte, i int) (j int, sep [2]byte, ok bool) {
	j = i
	for k := 0; k < 2 && j < len(s); k++ {
		c, w := sepAt(s, j)
		if w == 0 {
			return 0, sep, false
		}
		sep[k] = c
		j += w
		if j < len(s) {
			if _, dw := digitAt(s, j); dw > 0 {
				return j, sep, true
			}
		}
	}
	return 0, sep, false
}

// joinedBefore returns the separator joining the digit run at s[i] to a
// digit group before it, or ok == false when the run starts a number.
func joinedBefore(s []byte, i int) (sep [2]byte, ok bool) {
	j := i
	var rev [2]byte
	for k := 0; k < 2; k++ {
		c, w := sepBefore(s, j)
		if w == 0 {
			return sep, false
		}
		rev[k] = c
		j -= w
		if digitBefore(s, j) {
			if k == 0 {
				return [2]byte{rev[0]}, true
			}
			return [2]byte{rev[1], rev[0]}, true
		}
	}
	return sep, false
}

// nextRunStart returns the offset of the first digit at or after i that
// does not follow another digit, or -1.
func nextRunStart(s []byte, i int) int {
	for ; i < len(s); i++ {
		c := s[i]
		if c-'0' <= 9 || c == 0xEF {
			if _, w := digitAt(s, i); w > 0 && !digitBefore(s, i) {
				return i
			}
		}
	}
	return -1
}

// single reports whether sep is one separator character in set.
func single(sep [2]byte, set string) bool {
	if sep[0] == 0 || sep[1] != 0 {
		return false
	}
	for i := 0; i < len(set); i++ {
		if set[i] == sep[0] {
			return true
		}
	}
	return false
}

// digitsOf appends the digit values of groups g to buf (at most len(buf)).
func digitsOf(s []byte, g []group, buf []byte) int {
	n := 0
	for _, gr := range g {
		for i := gr.start; i < gr.end && n < len(buf); {
			d, w := digitAt(s, i)
			buf[n] = d
			n++
			i += w
		}
	}
	return n
}
