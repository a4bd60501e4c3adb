package mask

import (
	"bytes"
	"unicode/utf8"
)

// The partial strategy, one form per detector. Each keeps the span's layout
// (separators, '+', parentheses) and a hint, and replaces the rest with
// '*', so that an analyst or a model can still tell values apart a little
// without learning them:
//
//	credit_card  4111 1111-1111 1111   -> **** ****-**** 1111   (last 4 digits)
//	ssn          123-45-6789           -> ***-**-6789           (last 4 digits)
//	phone        +1 (415) 555-2671     -> +* (***) ***-2671     (last 4 digits)
//	email        alice@example.org     -> a***@example.org      (first character, domain; 3 stars whatever the length)
//	iban         DE89 3704 0044 0532 0130 00 -> DE** **** **** **** **30 00 (country, last 4)
//	ip           192.168.10.20         -> 192.168.*.*           (the /16)
//	ip           2001:db8:85a3::7334   -> 2001:db8:*:*:*:*:*:*  (the /32)
//	secret       ghp_xxxx..., AKIA...  -> ghp_****, AKIA****   (the well-known prefix)
//	secret       URL password          -> ****
//	secret       PEM private key       -> -----BEGIN RSA PRIVATE KEY-----****-----END RSA PRIVATE KEY-----
//	custom and whole values of no known kind: letters and digits masked but the
//	last 4 when there are at least 8 of them ("EMP-123456" -> "***-**3456").
//
// A number directly followed by more digit groups ("4111 1111 1111 1111
// 2025") keeps no digits: its last four would join the next group.
// Masking a partial form again never reveals more; it usually yields the
// same text, but kept characters can combine with the text around them
// into a new match (the last digits of a card and a following ":0::" read
// as an IPv6 address), which is then masked too.
// Full-width digits become '*' like ASCII ones.

// partial appends the partial form of the span v found by detector id
// (noDetector for a value of no known kind).
func (m *Masker) partial(dst []byte, id Detector, v []byte) []byte {
	switch id {
	case Email:
		return partialEmail(dst, v)
	case CreditCard, SSN, Phone:
		return keepLastDigits(dst, v, 4)
	case IBAN:
		return partialIBAN(dst, v)
	case IP:
		return partialIP(dst, v)
	case Secret:
		return partialSecret(dst, v)
	}
	return partialGeneric(dst, v)
}

// partialNoHint is the partial form of a number followed by more digits
// (MaskText checks): no digit is kept, so that kept digits cannot join the
// digits after them into a number the detectors would flag. An IBAN keeps
// its country code.
func (m *Masker) partialNoHint(dst []byte, id Detector, v []byte) []byte {
	if id == IBAN {
		dst = append(dst, v[:2]...)
		v = v[2:]
	}
	return keepLastDigits(dst, v, 0)
}

func partialEmail(dst, v []byte) []byte {
	at := bytes.LastIndexByte(v, '@')
	if at <= 0 {
		return partialGeneric(dst, v)
	}
	_, w := utf8.DecodeRune(v)
	if w > at {
		w = at
	}
	dst = append(dst, v[:w]...)
	dst = append(dst, "***"...)
	return append(dst, v[at:]...)
}

// keepLastDigits masks every digit but the last keep ones.
func keepLastDigits(dst, v []byte, keep int) []byte {
	total := 0
	for i := 0; i < len(v); {
		if _, w := digitAt(v, i); w > 0 {
			total++
			i += w
		} else {
			i++
		}
	}
	if total <= keep {
		keep = 0
	}
	k := 0
	for i := 0; i < len(v); {
		_, w := digitAt(v, i)
		if w == 0 {
			dst = append(dst, v[i])
			i++
			continue
		}
		if k < total-keep {
			dst = append(dst, '*')
		} else {
			dst = append(dst, v[i:i+w]...)
		}
		k++
		i += w
	}
	return dst
}

func partialIBAN(dst, v []byte) []byte {
	total := 0
	for _, c := range v {
		if isAlnum(c) {
			total++
		}
	}
	k := 0
	for _, c := range v {
		if !isAlnum(c) {
			dst = append(dst, c)
			continue
		}
		if k < 2 || k >= total-4 {
			dst = append(dst, c)
		} else {
			dst = append(dst, '*')
		}
		k++
	}
	return dst
}

func partialIP(dst, v []byte) []byte {
	if bytes.IndexByte(v, ':') < 0 {
		d1 := bytes.IndexByte(v, '.')
		if d1 < 0 {
			return partialGeneric(dst, v)
		}
		d2 := bytes.IndexByte(v[d1+1:], '.')
		if d2 < 0 {
			return partialGeneric(dst, v)
		}
		dst = append(dst, v[:d1+1+d2+1]...)
		return append(dst, "*.*"...)
	}
	// Keep up to two leading groups written before any "::".
	kept, i := 0, 0
	for kept < 2 && i < len(v) && isHex(v[i]) {
		j := i
		for j < len(v) && isHex(v[j]) {
			j++
		}
		if j >= len(v) || v[j] != ':' {
			break // the last group, or an IPv4 tail
		}
		if kept > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, v[i:j]...)
		kept++
		if j+1 < len(v) && v[j+1] == ':' {
			break
		}
		i = j + 1
	}
	for k := kept; k < 8; k++ {
		if k > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, '*')
	}
	return dst
}

func partialSecret(dst, v []byte) []byte {
	if bytes.HasPrefix(v, pemBegin) {
		k := bytes.Index(v[len(pemBegin):], pemDash)
		if k >= 0 {
			label := v[len(pemBegin) : len(pemBegin)+k]
			dst = append(dst, pemBegin...)
			dst = append(dst, label...)
			dst = append(dst, "-----****-----END "...)
			dst = append(dst, label...)
			return append(dst, pemDash...)
		}
	}
	if len(v) > 3 && v[0] == 'e' && v[1] == 'y' && bytes.IndexByte(v, '.') > 0 {
		return append(append(dst, v[:3]...), "****"...)
	}
	if len(v) == 20 && v[0] == 'A' {
		for _, p := range awsPrefixes {
			if string(v[:4]) == p {
				return append(append(dst, p...), "****"...)
			}
		}
	}
	for _, r := range tokenRules {
		if hasPrefix(v, r.prefix) {
			return append(append(dst, r.prefix...), "****"...)
		}
	}
	return append(dst, "****"...)
}

// partialGeneric masks every letter and digit (and every non-ASCII
// character) but the last four, when there are at least eight of them; all
// of them otherwise.
func partialGeneric(dst, v []byte) []byte {
	total := 0
	for i := 0; i < len(v); {
		r, w := utf8.DecodeRune(v[i:])
		if r >= utf8.RuneSelf || isAlnum(byte(r)) {
			total++
		}
		i += w
	}
	keep := 4
	if total < 8 {
		keep = 0
	}
	k := 0
	for i := 0; i < len(v); {
		r, w := utf8.DecodeRune(v[i:])
		if r < utf8.RuneSelf && !isAlnum(byte(r)) {
			dst = append(dst, v[i])
		} else {
			if k < total-keep {
				dst = append(dst, '*')
			} else {
				dst = append(dst, v[i:i+w]...)
			}
			k++
		}
		i += w
	}
	return dst
}
