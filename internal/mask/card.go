package mask

// cardScanner finds payment card numbers (credit_card).
//
// A match is 13 to 19 digits, either one unbroken run or groups joined by
// single spaces, dashes or dots, or two spaces (mixed separators allowed). Grouped, the
// first group has at least 4 digits and every other at least 3 (4-4-4-4,
// 4-6-5, 4-6-4, 4-4-4-4-3), or every group but the last has 4 and the last
// 1 to 4 (a formatter chunking by four: 4-4-4-1, 4-4-4-4-2). A line break
// may join groups when every group is 4 digits (the last one 1 to 4): a
// number wrapped in a text field. The number must start with a major network's prefix (2 for 22-27,
// 30 and 34-39, 4, 5, 6: Visa, Mastercard, Amex, Diners, JCB, Discover,
// UnionPay, Maestro, Mir) and pass the Luhn check. Letters may touch the
// number ("card4111111111111111"). Not matched: an unbroken run that is the
// fraction of a decimal number ("0.4111111111111111"), digits inside a hex
// digest, a UUID or a hash token (exempt), and digits inside an IBAN-shaped
// token (a country code with IBAN length, valid checksum or not:
// "CH47 7992 0150 5274 7582 1" is a mistyped IBAN, not a card).
//
// Within a longer number, the earliest group that starts a valid card wins,
// with the longest valid length from there ("12 4111 1111 1111 1111" masks
// the card and leaves "12").
type cardScanner struct{}

func (cardScanner) next(s []byte, from int) (int, int) {
	var g [maxGroups]group
	for i := from; ; {
		j := nextRunStart(s, i)
		if j < 0 {
			return -1, -1
		}
		n, more := readGroups(s, j, g[:])
		ibanEnd := -1
		if j >= 2 && isLetter(s[j-1]) && isLetter(s[j-2]) && boundedLeft(s, j-2) {
			ibanEnd, _ = ibanShape(s, j-2)
		}
		for a := 0; a < n; a++ {
			if st, en, ok := cardAt(s, g[a:n]); ok && en > ibanEnd {
				return st, en
			}
		}
		if more {
			i = g[n-18].start // every start before it saw a full window
		} else {
			i = g[n-1].end
		}
	}
}

// cardAt returns the longest valid card made of groups g[0:k], k >= 1.
func cardAt(s []byte, g []group) (start, end int, ok bool) {
	digits, best := 0, -1
	newline, all4, short := false, true, false
	for b := range g {
		if b > 0 {
			if !(single(g[b].sep, " -.\n") || g[b].sep == [2]byte{' ', ' '}) || g[0].n < 4 {
				break
			}
			if g[b].sep[0] == '\n' {
				newline = true
			}
			if g[b-1].n != 4 {
				all4 = false
			}
			if short || (!all4 && g[b-1].n < 3) {
				break // a short group only ends a chunked-by-four number
			}
			short = g[b].n < 3
			if short && !all4 {
				break
			}
		}
		digits += g[b].n
		if digits > 19 {
			break
		}
		if digits < 13 || (newline && !all4) || (newline && g[b].n > 4) {
			continue
		}
		if b == 0 && decimalFraction(s, g[0]) {
			break
		}
		var d [19]byte
		nd := digitsOf(s, g[:b+1], d[:])
		if cardPrefix(d[0], d[1]) && luhn(d[:nd]) && !exemptGroups(s, g[0], g[b]) {
			best = b
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	return g[0].start, g[best].end, true
}

// decimalFraction reports whether the unbroken run gr is part of a decimal
// number: "digit." before it or ".digit" after it.
func decimalFraction(s []byte, gr group) bool {
	if gr.start >= 2 && s[gr.start-1] == '.' && digitBefore(s, gr.start-1) {
		return true
	}
	if gr.end+1 < len(s) && s[gr.end] == '.' {
		_, w := digitAt(s, gr.end+1)
		return w > 0
	}
	return false
}

// cardPrefix reports whether a number starting with digits d0 d1 belongs
// to a major card network.
func cardPrefix(d0, d1 byte) bool {
	switch d0 {
	case 4, 5, 6:
		return true
	case 3:
		return d1 == 0 || d1 >= 4
	case 2:
		return d1 >= 2 && d1 <= 7
	}
	return false
}

// luhn reports whether the digits pass the Luhn (mod 10) check.
func luhn(d []byte) bool {
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i])
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}
