package mask

import "encoding/hex"

// The hash strategy's token: tokenPrefix and the first 8 bytes of
// HMAC-SHA256(key, canonical value) in lower-case hex. 64 bits keep
// collisions out of reach for any result a gateway relays (birthday bound
// ~4e9 distinct values), while staying short in an LLM's context.
const (
	tokenPrefix = "tok_"
	tokenHexLen = 16
)

// apply appends the masked form of the span v found by detector id.
func (m *Masker) apply(dst []byte, id Detector, s Strategy, v []byte) []byte {
	switch s {
	case Partial:
		return m.partial(dst, id, v)
	case Hash:
		return m.token(dst, id, v)
	}
	return append(dst, m.labels[id]...)
}

// token appends the hash token of v. Values are canonicalised per detector
// before hashing, so that one card, phone or IBAN written two ways (or in a
// column and in free text) gets one token: digits only for credit_card, ssn
// and phone; upper-case letters and digits for iban; lower case for email.
// Other values are hashed as they are. id == noDetector hashes v as is.
func (m *Masker) token(dst []byte, id Detector, v []byte) []byte {
	st := m.macs.Get().(*macState)
	st.h.Reset()
	buf := st.buf[:]
	n := 0
	flush := func() {
		st.h.Write(buf[:n])
		n = 0
	}
	switch id {
	case CreditCard, SSN, Phone:
		for i := 0; i < len(v); {
			d, w := digitAt(v, i)
			if w == 0 {
				i++
				continue
			}
			if n == len(buf) {
				flush()
			}
			buf[n] = '0' + d
			n++
			i += w
		}
	case IBAN:
		for _, c := range v {
			if isAlnum(c) {
				if n == len(buf) {
					flush()
				}
				buf[n] = upper(c)
				n++
			}
		}
	case Email:
		for _, c := range v {
			if n == len(buf) {
				flush()
			}
			buf[n] = lower(c)
			n++
		}
	default:
		st.h.Write(v)
	}
	flush()
	sum := st.h.Sum(st.sum[:0])
	dst = append(dst, tokenPrefix...)
	var hx [tokenHexLen]byte
	hex.Encode(hx[:], sum[:tokenHexLen/2])
	dst = append(dst, hx[:]...)
	m.macs.Put(st)
	return dst
}
