package mask

import "bytes"

// PEM private key blocks and passwords in URLs, the secret detector's
// multi-part matches.

var (
	pemBegin   = []byte("-----BEGIN ")
	pemEnd     = []byte("-----END ")
	pemDash    = []byte("-----")
	pemPrivate = []byte("PRIVATE KEY")
)

// pemAt matches a private key block at s[i]: "-----BEGIN <label>-----"
// where the label contains "PRIVATE KEY" (RSA, EC, OPENSSH, ENCRYPTED,
// PGP ... BLOCK), through the end of the matching "-----END ...-----" line.
// A block without its END runs to the end of the value: a truncated key is
// still a key; closed is then false. Public keys and certificates are not
// matched.
func pemAt(s []byte, i int) (end int, closed, ok bool) {
	rest := s[i:]
	if !bytes.HasPrefix(rest, pemBegin) {
		return 0, false, false
	}
	lab := len(pemBegin)
	k := lab
	for k < len(rest) && k-lab < 64 && (class[rest[k]]&(cUpper|cDigit) != 0 || rest[k] == ' ') {
		k++
	}
	if !bytes.HasPrefix(rest[k:], pemDash) || !bytes.Contains(rest[lab:k], pemPrivate) {
		return 0, false, false
	}
	body := k + len(pemDash)
	e := bytes.Index(rest[body:], pemEnd)
	if e < 0 {
		return len(s), false, true
	}
	e += body + len(pemEnd)
	d := bytes.Index(rest[e:], pemDash)
	if d < 0 || d > 64 {
		return len(s), false, true
	}
	return i + e + d + len(pemDash), true, true
}

// pemOpen reports whether s ends inside a private key block: its last
// block has no END. MaskStream uses it to mask the lines that follow.
func pemOpen(s []byte) bool {
	for i := 0; ; {
		k := bytes.Index(s[i:], pemBegin)
		if k < 0 {
			return false
		}
		end, closed, ok := pemAt(s, i+k)
		if !ok {
			i += k + 1
			continue
		}
		if !closed {
			return true
		}
		i = end
	}
}

// urlPassword matches the password in "scheme://user:PASSWORD@host" where
// s[i] is the ':' of "://". The user may be empty ("redis://:pw@host").
// The authority ends at the first '/', '?', '#', white space, quote or
// angle bracket, as RFC 3986 has it; the password runs from the first ':'
// in it to its last '@'. Empty and already masked passwords are skipped.
func urlPassword(s []byte, i int) (start, end int, ok bool) {
	if i+3 > len(s) || s[i+1] != '/' || s[i+2] != '/' {
		return 0, 0, false
	}
	// Scheme: a letter then letters, digits, '+', '-', '.'.
	a := i
	for a > 0 && (isAlnum(s[a-1]) || s[a-1] == '+' || s[a-1] == '-' || s[a-1] == '.') {
		a--
	}
	if a == i || !isLetter(s[a]) {
		return 0, 0, false
	}
	colon, at := -1, -1
	k := i + 3
	for ; k < len(s) && k-i < 1024; k++ {
		c := s[k]
		if c == '/' || c == '?' || c == '#' || c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
			c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' {
			break
		}
		if c == ':' && colon < 0 && at < 0 {
			colon = k
		}
		if c == '@' {
			at = k
		}
	}
	if colon < 0 || at < colon+2 || masked(s[colon+1:at]) {
		return 0, 0, false
	}
	return colon + 1, at, true
}
