package mask

// ibanScanner finds International Bank Account Numbers (iban).
//
// A match is a country code with a registered IBAN length, two check
// digits, and the BBAN, either unbroken ("DE89370400440532013000") or in
// groups of four joined by single spaces or single dashes, one kind per
// number ("DE89 3704 0044 0532 0130 00"). The country code is two letters
// of one case; it must start a word and the IBAN must end one. The whole
// number must pass the ISO 7064 mod-97 check. Lower-case IBANs are matched
// too (databases fold case).
type ibanScanner struct{}

// ibanLengths holds the IBAN length per country code (SWIFT IBAN
// registry), indexed by ibanIndex; 0 for a country without IBANs.
var ibanLengths = func() (t [26 * 26]uint8) {
	const table = "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24" +
		"DE22DJ27DK18DO28EE20EG29ES24FI18FK18FO18FR27GB22GE22GI23GL18GR27" +
		"GT28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20" +
		"LV21LY25MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18NO15OM23PK24PL28" +
		"PS29PT25QA29RO24RS22RU33SA24SC31SD18SE24SI19SK24SM27SO23ST25SV28" +
		"TL23TN24TR26UA29VA22VG24XK20YE30"
	for i := 0; i+4 <= len(table); i += 4 {
		t[ibanIndex(table[i], table[i+1])] = (table[i+2]-'0')*10 + table[i+3] - '0'
	}
	return t
}()

// ibanIndex maps two ASCII letters of either case to 0..675.
func ibanIndex(c0, c1 byte) int { return int(upper(c0)-'A')*26 + int(upper(c1)-'A') }

func upper(c byte) byte {
	if class[c]&cLower != 0 {
		return c - ('a' - 'A')
	}
	return c
}

func (ibanScanner) next(s []byte, from int) (int, int) {
	for i := from; i+15 <= len(s); i++ {
		c := s[i]
		if class[c]&(cUpper|cLower) == 0 || !boundedLeft(s, i) {
			continue
		}
		if end, ok := ibanAt(s, i); ok {
			return i, end
		}
	}
	return -1, -1
}

// ibanAt reports whether an IBAN starts at s[i] and returns its end.
func ibanAt(s []byte, i int) (int, bool) {
	end, buf, n := ibanRead(s, i)
	if n == 0 || !mod97(buf[:n]) {
		return 0, false
	}
	return end, true
}

// ibanShape returns the end of an IBAN-shaped token at s[i], whatever its
// checksum, or -1.
func ibanShape(s []byte, i int) (int, bool) {
	end, _, n := ibanRead(s, i)
	if n == 0 {
		return -1, false
	}
	return end, true
}

// ibanRead reads an IBAN-shaped token at s[i]: it returns the token's end
// and its characters upper-cased without separators, n == 0 when there is
// none.
func ibanRead(s []byte, i int) (end int, buf [34]byte, n int) {
	if i+4 > len(s) {
		return 0, buf, 0
	}
	c0, c1 := s[i], s[i+1]
	if class[c0]&class[c1]&(cUpper|cLower) == 0 || class[s[i+2]]&class[s[i+3]]&cDigit == 0 {
		return 0, buf, 0
	}
	n = int(ibanLengths[ibanIndex(c0, c1)])
	if n == 0 {
		return 0, buf, 0
	}
	// Read n alphanumerics, allowing one separator kind after each group of 4.
	k, j := 0, i
	var sep byte
	for k < n {
		if j >= len(s) {
			return 0, buf, 0
		}
		c := s[j]
		if isAlnum(c) {
			buf[k] = upper(c)
			k++
			j++
			continue
		}
		if (c == ' ' || c == '-') && k%4 == 0 && j+1 < len(s) && isAlnum(s[j+1]) && (sep == 0 || sep == c) {
			sep = c
			j++
			continue
		}
		return 0, buf, 0
	}
	if !boundedRight(s, j) {
		return 0, buf, 0
	}
	if sep != 0 && (s[i+4] != sep) {
		return 0, buf, 0 // grouped numbers are grouped from the start
	}
	return j, buf, n
}

// mod97 reports whether the IBAN (upper case, no separators) has a valid
// check: the number formed by moving the first four characters to the end
// and replacing letters by 10..35 is 1 modulo 97.
func mod97(b []byte) bool {
	if b[2] == '0' && b[3] < '2' || b[2] == '9' && b[3] == '9' {
		return false // check digits are 02..98
	}
	r := 0
	for k := 0; k < len(b); k++ {
		c := b[(k+4)%len(b)]
		switch {
		case c >= '0' && c <= '9':
			r = (r*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			r = (r*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return r == 1
}
