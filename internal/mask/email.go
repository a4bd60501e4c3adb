package mask

import "bytes"

// emailScanner finds e-mail addresses (email).
//
// A match is local@domain: the local part is letters, digits, ". _ % + - '"
// and any non-ASCII byte (internationalised addresses), without leading
// dots or quotes; the domain is two or more labels of letters, digits,
// hyphens and non-ASCII bytes, the last (the TLD) two or more ASCII letters,
// an "xn--" label, or a non-ASCII label. Text in another script glued after
// an ASCII TLD is not part of the match ("写信bob@example.com谢谢" matches up
// to ".com"; the glued script before the '@' is masked with the address).
//
// Not matched: an address without a dot in the domain ("root@localhost":
// a local mailbox, not a personal address), retina asset names
// ("logo@2x.png"), scp-style remotes ("git@github.com:org/repo.git"),
// package versions ("lodash@4.17.21", the TLD is not letters), and the
// password of a URL ("postgres://u:pw@host": secret masks the password).
type emailScanner struct{}

func localByte(c byte) bool {
	return isAlnum(c) || c >= 0x80 || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\''
}

func domainByte(c byte) bool { return isAlnum(c) || c >= 0x80 || c == '-' }

func (emailScanner) next(s []byte, from int) (int, int) {
	for i := from; i < len(s); {
		k := bytes.IndexByte(s[i:], '@')
		if k < 0 {
			return -1, -1
		}
		at := i + k
		i = at + 1
		st := at
		for st > 0 && localByte(s[st-1]) {
			st--
		}
		for st < at && (s[st] == '.' || s[st] == '\'') {
			st++
		}
		if st < from {
			// A scan resumed inside an address masks what is left of it.
			st = from
		}
		if st == at {
			continue
		}
		end, ok := domainAt(s, at+1)
		if !ok || urlUserinfo(s, st) {
			continue
		}
		return st, end
	}
	return -1, -1
}

// domainAt reads the domain of an address starting at s[i] and returns its
// end.
func domainAt(s []byte, i int) (int, bool) {
	j, labelStart, lastDot, labels := i, i, -1, 1
	for j < len(s) {
		c := s[j]
		if domainByte(c) {
			j++
			continue
		}
		if c == '.' && j > labelStart && j+1 < len(s) && domainByte(s[j+1]) && s[j-1] != '-' {
			lastDot = j
			labels++
			j++
			labelStart = j
			continue
		}
		break
	}
	if lastDot < 0 {
		return 0, false
	}
	// Retina asset names: logo@2x.png.
	if d := i; d < lastDot {
		for d < lastDot && class[s[d]]&cDigit != 0 {
			d++
		}
		if d > i && d+1 == indexDot(s, i, lastDot+1) && (s[d] == 'x' || s[d] == 'X') {
			return 0, false
		}
	}
	t := lastDot + 1
	var end int
	switch {
	case j-t >= 4 && lower(s[t]) == 'x' && lower(s[t+1]) == 'n' && s[t+2] == '-' && s[t+3] == '-':
		end = j
	case s[t] >= 0x80:
		end = j
	default:
		e := t
		for e < j && isLetter(s[e]) {
			e++
		}
		if e-t < 2 || (e < j && s[e] < 0x80) {
			return 0, false
		}
		end = e
	}
	// scp-style remote: host:path.
	if end+1 < len(s) && s[end] == ':' && end == j {
		if c := s[end+1]; isAlnum(c) || c == '/' || c == '~' || c == '_' || c == '.' {
			return 0, false
		}
	}
	return end, true
}

// indexDot returns the offset of the first '.' in s[i:limit], or -1.
func indexDot(s []byte, i, limit int) int {
	if k := bytes.IndexByte(s[i:limit], '.'); k >= 0 {
		return i + k
	}
	return -1
}

// urlUserinfo reports whether the local part starting at s[st] is the
// password of a URL's userinfo ("scheme://user:PASSWORD@host").
func urlUserinfo(s []byte, st int) bool {
	if st == 0 || s[st-1] != ':' {
		return false
	}
	for k := st - 1; k >= 3 && st-k < 256; k-- {
		c := s[k]
		if c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '<' || c == '>' {
			return false
		}
		if c == '/' && s[k-1] == '/' && s[k-2] == ':' {
			return true
		}
	}
	return false
}
