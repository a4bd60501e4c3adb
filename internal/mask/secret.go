package mask

import "strings"

// secretScanner finds credentials (secret):
//   - AWS access key ids: AKIA, ASIA, ABIA, ACCA, AIDA, AROA, AIPA, ANPA,
//     ANVA, APKA or AGPA and 16 upper-case letters or digits, 20 in all;
//   - GitHub tokens: ghp_, gho_, ghu_, ghs_, ghr_ and 36 or more letters or
//     digits; github_pat_ and 22 or more letters, digits or underscores;
//   - GitLab personal access tokens: glpat- and 20 or more [A-Za-z0-9_.-];
//   - Slack tokens: xoxa-, xoxb-, xoxp-, xoxr-, xoxs- and 10 or more
//     [A-Za-z0-9-];
//   - Stripe secret and restricted keys: sk_live_, rk_live_, sk_test_,
//     rk_test_ and 16 or more letters or digits;
//   - JWTs (jwt.go), PEM private key blocks and passwords in URLs (pem.go).
//
// Token prefixes must start a word (no letter, digit or underscore before
// them); the token runs to the end of its character class. Only the
// password of a URL is masked, the rest of the URL stays.
type secretScanner struct{}

var secretStart = func() (t [256]bool) {
	for _, c := range "Agxsre-:" {
		t[c] = true
	}
	return t
}()

var awsPrefixes = [...]string{"AKIA", "ASIA", "ABIA", "ACCA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "AGPA"}

// tokenRule is a prefix and the characters and minimum length that follow it.
type tokenRule struct {
	prefix string
	min    int
	extra  string // allowed besides ASCII letters and digits
}

var tokenRules = [...]tokenRule{
	{"ghp_", 36, ""}, {"gho_", 36, ""}, {"ghu_", 36, ""}, {"ghs_", 36, ""}, {"ghr_", 36, ""},
	{"github_pat_", 22, "_"},
	{"glpat-", 20, "_.-"},
	{"xoxa-", 10, "-"}, {"xoxb-", 10, "-"}, {"xoxp-", 10, "-"}, {"xoxr-", 10, "-"}, {"xoxs-", 10, "-"},
	{"sk_live_", 16, ""}, {"rk_live_", 16, ""}, {"sk_test_", 16, ""}, {"rk_test_", 16, ""},
}

func (secretScanner) next(s []byte, from int) (int, int) {
	for i := from; i < len(s); i++ {
		c := s[i]
		if !secretStart[c] {
			continue
		}
		switch c {
		case ':':
			if st, end, ok := urlPassword(s, i); ok && st >= from {
				return st, end
			}
			continue
		case '-':
			if end, _, ok := pemAt(s, i); ok {
				return i, end
			}
			continue
		}
		if i > 0 && (isAlnum(s[i-1]) || s[i-1] == '_') {
			continue
		}
		if c == 'e' {
			if end, ok := jwtAt(s, i); ok {
				return i, end
			}
			continue
		}
		if end, ok := tokenAt(s, i); ok {
			return i, end
		}
	}
	return -1, -1
}

// tokenStarts are the first two bytes of every AWS prefix and token rule:
// a cheap filter before comparing prefixes.
var tokenStarts = [...]string{"AK", "AS", "AB", "AC", "AI", "AR", "AN", "AP", "AG", "gh", "gi", "gl", "xo", "sk", "rk"}

// tokenAt matches an AWS key id or a prefixed token at s[i].
func tokenAt(s []byte, i int) (int, bool) {
	rest := s[i:]
	if len(rest) < 16 {
		return 0, false
	}
	known := false
	for _, p := range tokenStarts {
		if rest[0] == p[0] && rest[1] == p[1] {
			known = true
			break
		}
	}
	if !known {
		return 0, false
	}
	if s[i] == 'A' {
		if len(rest) < 20 {
			return 0, false
		}
		for _, p := range awsPrefixes {
			if string(rest[:4]) != p {
				continue
			}
			for k := 4; k < 20; k++ {
				if class[rest[k]]&(cUpper|cDigit) == 0 {
					return 0, false
				}
			}
			return i + 20, boundedRight(s, i+20)
		}
		return 0, false
	}
	for _, r := range tokenRules {
		if !hasPrefix(rest, r.prefix) {
			continue
		}
		k := len(r.prefix)
		for k < len(rest) && (isAlnum(rest[k]) || strings.IndexByte(r.extra, rest[k]) >= 0) {
			k++
		}
		if k-len(r.prefix) < r.min {
			return 0, false
		}
		return i + k, true
	}
	return 0, false
}

// masked reports whether a value is already the output of a strategy: all
// asterisks, a redaction label or a hash token. The credential scanners
// leave such values alone so that masking is idempotent.
func masked(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	if v[0] == '<' && v[len(v)-1] == '>' {
		return true
	}
	if len(v) == len(tokenPrefix)+tokenHexLen && string(v[:len(tokenPrefix)]) == tokenPrefix && allHex(v[len(tokenPrefix):]) {
		return true
	}
	for _, c := range v {
		if c != '*' {
			return false
		}
	}
	return true
}

// hasPrefix is bytes.HasPrefix for a string prefix, without converting it.
func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }
