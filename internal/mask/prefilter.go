package mask

// The prefilter: one pass over a value computes which kinds of bytes it
// holds, and a built-in detector runs only if its matches need nothing the
// value lacks. Most free text (names, cities, notes without numbers) then
// skips most scanners. Each rule below is a necessary condition read off
// the detector's own matching rules, so skipping never changes a result
// (FuzzPrefilter checks it against the unfiltered masker).

// Feature bits of a value.
const (
	fDigit uint8 = 1 << iota // an ASCII digit
	fWide                    // 0xEF: the first byte of a full-width digit (U+FF10..U+FF19)
	fAt                      // '@'
	fDot                     // '.'
	fColon                   // ':'
	fDash                    // '-'
	fUnder                   // '_'
	fUpper                   // an ASCII upper-case letter
)

var featureOf = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = fDigit
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = fUpper
	}
	t[0xEF], t['@'], t['.'], t[':'], t['-'], t['_'] = fWide, fAt, fDot, fColon, fDash, fUnder
	return t
}()

// features returns the feature bits of s.
func features(s []byte) uint8 {
	var f uint8
	for _, c := range s {
		f |= featureOf[c]
	}
	return f
}

// possible reports whether detector d can match a value of length n with
// features f. Custom patterns are regular expressions: always possible.
func possible(d Detector, f uint8, n int) bool {
	switch d {
	case Email: // local@domain.tld: a domain without a dot is refused
		return f&fAt != 0 && f&fDot != 0
	case Phone, CreditCard, SSN: // digit groups, full-width digits too
		return f&(fDigit|fWide) != 0
	case IBAN: // two ASCII check digits after the country code
		return f&fDigit != 0
	case IP: // IPv6 has colons; IPv4 has digits and dots
		return f&fColon != 0 || f&(fDigit|fDot) == fDigit|fDot
	case Secret: // URL passwords ':', PEM '-----', JWTs two dots, prefixed
		// tokens '_' or '-', AWS key ids 20 upper-case letters or digits
		return f&(fColon|fDash|fUnder|fDot) != 0 || f&fUpper != 0 && n >= 20
	}
	return true
}
