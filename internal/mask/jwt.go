package mask

// JSON Web Tokens: three base64url parts joined by dots (five for an
// encrypted JWE), the first of which decodes to a JSON object with an "alg"
// member. The scanner only tests the header, so that any base64 text with
// two dots is not a token: "eyJub3QiOiJqd3QifQ.e30.sig" (a header without
// "alg") is left alone. The signature part may be empty (alg "none").

// b64url maps a base64url character to its 6-bit value, or 0xFF.
var b64url = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// maxHeader bounds the header bytes decoded to look for "alg"; headers
// carrying a certificate chain (x5c) are longer, and "alg" comes first in
// every issuer's output we know of.
const maxHeader = 384

// jwtAt matches a JWT at s[i] (s[i] == 'e').
func jwtAt(s []byte, i int) (int, bool) {
	if i+1 >= len(s) || s[i+1] != 'y' {
		return 0, false
	}
	p1 := b64run(s, i)
	if p1-i < 8 || p1 >= len(s) || s[p1] != '.' {
		return 0, false
	}
	p2 := b64run(s, p1+1)
	if p2 == p1+1 || p2 >= len(s) || s[p2] != '.' {
		return 0, false
	}
	end := b64run(s, p2+1)
	if !jwtHeader(s[i:p1]) {
		return 0, false
	}
	// JWE: two more parts.
	if end+1 < len(s) && s[end] == '.' {
		p4 := b64run(s, end+1)
		if p4 < len(s) && s[p4] == '.' {
			if p5 := b64run(s, p4+1); p5 > p4+1 {
				end = p5
			}
		}
	}
	return end, true
}

// b64run returns the end of the run of base64url characters at s[i].
func b64run(s []byte, i int) int {
	for i < len(s) && b64url[s[i]] != 0xFF {
		i++
	}
	return i
}

// jwtHeader reports whether the base64url text decodes to a JSON object
// that names "alg" within its first maxHeader bytes.
func jwtHeader(enc []byte) bool {
	var buf [maxHeader]byte
	n := 0
	for k := 0; k+1 < len(enc) && n+3 <= len(buf); k += 4 {
		var v uint32
		m := 0
		for ; m < 4 && k+m < len(enc); m++ {
			v = v<<6 | uint32(b64url[enc[k+m]])
		}
		v <<= 6 * uint32(4-m)
		buf[n], buf[n+1], buf[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += m - 1
	}
	h := buf[:n]
	for len(h) > 0 && (h[0] == ' ' || h[0] == '\t' || h[0] == '\r' || h[0] == '\n') {
		h = h[1:]
	}
	if len(h) == 0 || h[0] != '{' {
		return false
	}
	for k := 0; k+5 <= len(h); k++ {
		if h[k] == '"' && string(h[k:k+5]) == `"alg"` {
			return true
		}
	}
	return false
}
