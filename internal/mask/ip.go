package mask

// ipScanner finds IPv4 and IPv6 addresses (ip).
//
// IPv4: four decimal octets 0-255 without leading zeros, joined by dots, not
// glued to letters or digits, not part of a longer dotted number
// ("1.3.6.1.4.1" is an SNMP OID). A port or prefix length may follow
// ("10.0.0.1:5432", "10.0.0.0/8"; only the address is masked).
//
// Version strings pass: a dotted quad right after "v" ("v1.2.3.4"), after a
// word such as "version", "release", "build", "firmware", "rev", "update",
// "kernel" (with punctuation between: "version: 1.2.3.4"), or after a word
// joined by '/' or '-' ("Chrome/120.0.0.0", "pkg-1.2.3.4"). A bare dotted
// quad is an address: "1.2.3.4" is masked.
//
// IPv6: eight groups of 1-4 hex digits, or fewer with one "::"
// (at least two groups, one of them 3 or more digits, or exactly "::1":
// "a::b" in code is not taken for an address), optionally ending in a dotted
// IPv4 ("::ffff:192.0.2.1") and a zone ("fe80::1%eth0"). Times ("10:30:00")
// and MAC addresses ("00:1a:2b:3c:4d:5e") have too few groups and no "::".
type ipScanner struct{}

var versionKeywords = []string{"v", "version", "versions", "ver", "release", "build", "firmware",
	"fw", "rev", "revision", "update", "upgrade", "patch", "kernel", "bios", "os"}

func (ipScanner) next(s []byte, from int) (int, int) {
	for i := from; i < len(s); i++ {
		c := s[i]
		if class[c]&cHex == 0 && c != ':' {
			continue
		}
		if i > 0 && (isAlnum(s[i-1]) || s[i-1] >= 0x80) {
			continue
		}
		if class[c]&cDigit != 0 {
			if end, ok := ipv4At(s, i); ok {
				if !ipv4Version(s, i) {
					return i, end
				}
				i = end - 1
				continue
			}
		}
		if i > 0 && s[i-1] == ':' {
			continue // inside a longer colon-joined token
		}
		if end, ok := ipv6At(s, i); ok {
			return i, end
		}
	}
	return -1, -1
}

// ipv4At parses four octets at s[i] and returns the end; the address must
// not touch a letter, digit or a further ".digit".
func ipv4At(s []byte, i int) (int, bool) {
	if i > 0 && s[i-1] == '.' && i > 1 && isAlnum(s[i-2]) {
		return 0, false
	}
	j := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if j >= len(s) || s[j] != '.' {
				return 0, false
			}
			j++
		}
		end, ok := octet(s, j)
		if !ok {
			return 0, false
		}
		j = end
	}
	if j < len(s) && (isAlnum(s[j]) || s[j] >= 0x80) {
		return 0, false
	}
	if j+1 < len(s) && s[j] == '.' && class[s[j+1]]&cDigit != 0 {
		return 0, false
	}
	return j, true
}

// octet parses a decimal 0-255 without a leading zero at s[i].
func octet(s []byte, i int) (int, bool) {
	v, j := 0, i
	for j < len(s) && j-i < 4 && class[s[j]]&cDigit != 0 {
		v = v*10 + int(s[j]-'0')
		j++
	}
	n := j - i
	if n == 0 || n > 3 || v > 255 || (n > 1 && s[i] == '0') {
		return 0, false
	}
	return j, true
}

// ipv4Version reports whether the dotted quad at s[i] is a version string.
func ipv4Version(s []byte, i int) bool {
	if i >= 2 && (s[i-1] == '/' || s[i-1] == '-') && isAlnum(s[i-2]) {
		return true
	}
	return keywordBefore(s, i, versionKeywords)
}

// ipv6At parses an IPv6 address at s[i] and returns its end.
func ipv6At(s []byte, i int) (int, bool) {
	j, groups, compressed, long := i, 0, false, false
	if j+1 < len(s) && s[j] == ':' && s[j+1] == ':' {
		compressed = true
		j += 2
	} else if s[j] == ':' {
		return 0, false
	}
	for groups < 8 && j < len(s) {
		// A dotted IPv4 tail.
		if groups <= 6 && class[s[j]]&cDigit != 0 {
			if end, ok := ipv4Tail(s, j); ok {
				groups += 2
				j = end
				long = true
				break
			}
		}
		k := j
		for k < len(s) && k-j < 5 && isHex(s[k]) {
			k++
		}
		if k == j || k-j > 4 {
			if k-j > 4 {
				return 0, false
			}
			break
		}
		groups++
		long = long || k-j >= 3
		j = k
		if j+1 < len(s) && s[j] == ':' && s[j+1] == ':' {
			if compressed {
				return 0, false
			}
			compressed = true
			j += 2
			continue
		}
		if j+1 < len(s) && s[j] == ':' && isHex(s[j+1]) {
			j++
			continue
		}
		break
	}
	switch {
	case !compressed && groups != 8:
		return 0, false
	case compressed && groups > 7:
		return 0, false
	case compressed && !(groups == 1 && j-i == 3 && s[i+2] == '1') && (groups < 2 || !long):
		return 0, false
	}
	// Zone index.
	if j+1 < len(s) && s[j] == '%' && isAlnum(s[j+1]) {
		j++
		for j < len(s) && (isAlnum(s[j]) || s[j] == '_' || s[j] == '.') {
			j++
		}
	}
	if j < len(s) && (isAlnum(s[j]) || s[j] == ':' || s[j] >= 0x80) {
		return 0, false
	}
	return j, true
}

// ipv4Tail parses a dotted quad ending an IPv6 address.
func ipv4Tail(s []byte, j int) (int, bool) {
	k := j
	for part := 0; part < 4; part++ {
		if part > 0 {
			if k >= len(s) || s[k] != '.' {
				return 0, false
			}
			k++
		}
		end, ok := octet(s, k)
		if !ok {
			return 0, false
		}
		k = end
	}
	return k, true
}
