package mask

// Detector identifies a value detector within one Masker. The built-in
// detectors have fixed ids (Email ... Secret); custom patterns follow in
// configuration order, from FirstCustom. A Detector indexes Counts.
type Detector uint8

// The built-in detectors. Their names (Name) are the configuration names.
const (
	Email Detector = iota
	Phone
	CreditCard
	SSN
	IBAN
	IP
	Secret
	// FirstCustom is the id of the first custom pattern.
	FirstCustom
)

// MaxCustom bounds the custom patterns of one Masker so that Counts is a
// small fixed array.
const MaxCustom = 32 - int(FirstCustom)

var builtinNames = [FirstCustom]string{"email", "phone", "credit_card", "ssn", "iban", "ip", "secret"}

// builtinLabels are the redact strategy's replacements. None of them holds a
// character any detector can start a match on in a way that completes, so
// masking is idempotent (the fuzz test re-scans every output).
var builtinLabels = [FirstCustom]string{"<EMAIL>", "<PHONE>", "<CREDIT_CARD>", "<SSN>", "<IBAN>", "<IP>", "<SECRET>"}

// priority orders detectors whose matches overlap: the overlapping spans are
// masked as one, with the strategy of the detector with the highest
// priority. Structural, checksummed detectors win over looser ones (an IBAN
// holds digit groups a card scanner may also accept).
var builtinPriority = [FirstCustom]int{
	Secret:     70,
	IBAN:       60,
	CreditCard: 50,
	SSN:        40,
	Email:      30,
	Phone:      20,
	IP:         10,
}

// BuiltinNames returns the configuration names of the built-in detectors in
// id order. The slice is new on each call.
func BuiltinNames() []string { return append([]string(nil), builtinNames[:]...) }

// Counts tallies masked spans per detector (a free-text value with two
// e-mail addresses counts two), indexed by Detector. It holds numbers only,
// never a value. The zero value is empty; it is a plain array, so a caller
// keeps one per result or connection without allocating. Not safe for
// concurrent use.
type Counts [32]int64

// Add adds o into c.
func (c *Counts) Add(o *Counts) {
	for i := range c {
		c[i] += o[i]
	}
}

// Total returns the sum over all detectors.
func (c *Counts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// scanner finds detector matches. next returns the first match [start, end)
// with start >= from in s, or start < 0 when there is none. A scanner may
// look at s before from for context (a match is judged on the whole value,
// never on the slice after from), must not allocate when it finds nothing,
// and must run in time linear in len(s)-from. Implementations are immutable
// and safe for concurrent use.
type scanner interface {
	next(s []byte, from int) (start, end int)
}

// span is one pending match of one detector.
type span struct{ start, end int }
