package mask

// Byte classes and the context rules shared by the scanners: which tokens
// are known not to be personal data (exempt) and which keywords before a
// bare number make it one (keywordBefore).

const (
	cDigit = 1 << iota
	cUpper
	cLower
	cHex
)

var class = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit | cHex
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = cUpper
		t[c+'a'-'A'] = cLower
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] |= cHex
		t[c+'a'-'A'] |= cHex
	}
	return t
}()

func isAlnum(c byte) bool  { return class[c]&(cDigit|cUpper|cLower) != 0 }
func isLetter(c byte) bool { return class[c]&(cUpper|cLower) != 0 }
func isHex(c byte) bool    { return class[c]&cHex != 0 }
func lower(c byte) byte {
	if class[c]&cUpper != 0 {
		return c + 'a' - 'A'
	}
	return c
}

// boundedLeft and boundedRight report whether no ASCII letter or digit
// touches position i from the left or from the right.
func boundedLeft(s []byte, i int) bool  { return i == 0 || !isAlnum(s[i-1]) }
func boundedRight(s []byte, i int) bool { return i >= len(s) || !isAlnum(s[i]) }

// digestLen reports whether n is the length in hex of a common digest:
// MD5 (32), SHA-1 (40), SHA-224 (56), SHA-256 (64), SHA-384 (96), SHA-512 (128).
func digestLen(n int) bool {
	return n == 32 || n == 40 || n == 56 || n == 64 || n == 96 || n == 128
}

// exempt reports whether the match [start, end) lies inside a token that is
// known not to be personal data, so the numeric scanners pass it untouched:
//   - a hex digest: a run of 32, 40, 56, 64, 96 or 128 hex digits with no
//     letter or digit touching it (git object ids, sha256 sums);
//   - a UUID: 8-4-4-4-12 hex digits with dashes;
//   - a hash strategy token (tok_ and 16 hex digits): a match starting in
//     its hex digits, so that masking with hash is idempotent.
//
// The match itself must then consist of hex digits (and dashes for a UUID).
func exempt(s []byte, start, end int) bool {
	a, b := start, end
	for a > 0 && isHex(s[a-1]) {
		a--
	}
	for b < len(s) && isHex(s[b]) {
		b++
	}
	if allHex(s[start:end]) && boundedRight(s, b) && digestLen(b-a) && boundedLeft(s, a) {
		return true
	}
	// A hash token is exempt whatever touches it: the masker writes it in
	// place of a match that may have had letters glued to it.
	t := start
	for t > 0 && isHex(s[t-1]) && start-t < tokenHexLen {
		t--
	}
	if t >= len(tokenPrefix) && string(s[t-len(tokenPrefix):t]) == tokenPrefix && start < t+tokenHexLen {
		return true
	}
	a, b = start, end
	for a > 0 && (isHex(s[a-1]) || s[a-1] == '-') {
		a--
	}
	for b < len(s) && (isHex(s[b]) || s[b] == '-') {
		b++
	}
	return b-a == 36 && isUUID(s[a:b]) && boundedLeft(s, a) && boundedRight(s, b)
}

// exemptGroups reports whether a number from group first to group last
// touches an exempt token: the whole span is one, or its first or last
// group is the end of one ("tok_30b8245dc3495831 922983": a token and a
// number, not a card).
func exemptGroups(s []byte, first, last group) bool {
	return exempt(s, first.start, first.end) || exempt(s, last.start, last.end) || exempt(s, first.start, last.end)
}

func allHex(s []byte) bool {
	for _, c := range s {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// isUUID reports whether s is 8-4-4-4-12 hex digits joined by dashes.
func isUUID(s []byte) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isHex(c) {
			return false
		}
	}
	return true
}

// fillerWords may stand between a keyword and the number it introduces
// ("SSN no. 123456789", "phone number: 555 0100").
var fillerWords = [...]string{"number", "num", "nr", "no", "is", "at", "#"}

func isFiller(c byte) bool {
	switch c {
	case ' ', '\t', ':', '#', '=', '.', '-', '"', '\'', '(', '[', '_':
		return true
	}
	return false
}

// keywordBefore reports whether one of kws (lower-case, ASCII) ends shortly
// before s[i]: only punctuation, spaces and filler words may stand between,
// at most 24 bytes in all. The keyword must start a word.
func keywordBefore(s []byte, i int, kws []string) bool {
	j := i
	for round := 0; round < 4 && i-j <= 24; round++ {
		k := j
		for k > 0 && j-k < 4 && isFiller(s[k-1]) {
			k--
		}
		for _, kw := range kws {
			if endsWithWord(s, k, kw) {
				return true
			}
		}
		moved := k < j
		j = k
		for _, fw := range fillerWords {
			if endsWithWord(s, j, fw) {
				j -= len(fw)
				moved = true
				break
			}
		}
		if !moved {
			return false
		}
	}
	return false
}

// endsWithWord reports whether s[:j] ends with the word w (ASCII,
// case-insensitive) and no letter precedes it.
func endsWithWord(s []byte, j int, w string) bool {
	if j < len(w) {
		return false
	}
	for k := 0; k < len(w); k++ {
		if lower(s[j-len(w)+k]) != w[k] {
			return false
		}
	}
	a := j - len(w)
	return a == 0 || !isLetter(s[a-1])
}
