package pgwire

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// maxParamText bounds each bind value as recorded in the audit trail.
const maxParamText = 4096

// Type OIDs whose binary format the audit renders as text.
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// renderParams renders bind values as text for the audit trail: text-format
// values as sent (cut to maxParamText), binary values decoded for common
// types and otherwise as \x-prefixed hex. nulls is nil when no value is NULL.
func renderParams(values [][]byte, formats []int16, oids []uint32) ([]string, []bool) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make([]string, len(values))
	var nulls []bool
	for i, v := range values {
		if v == nil {
			if nulls == nil {
				nulls = make([]bool, len(values))
			}
			nulls[i] = true
			continue
		}
		format := int16(0)
		switch {
		case len(formats) == 1:
			format = formats[0]
		case i < len(formats):
			format = formats[i]
		}
		var oid uint32
		if i < len(oids) {
			oid = oids[i]
		}
		if format == 0 {
			out[i] = clip(v)
		} else {
			out[i] = renderBinary(oid, v)
		}
	}
	return out, nulls
}

func clip(v []byte) string {
	if len(v) <= maxParamText {
		return string(v)
	}
	cut := maxParamText
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return string(v[:cut]) + "…"
}

var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func renderBinary(oid uint32, v []byte) string {
	switch oid {
	case oidBool:
		if len(v) == 1 {
			return strconv.FormatBool(v[0] != 0)
		}
	case oidInt2:
		if len(v) == 2 {
			return strconv.Itoa(int(int16(binary.BigEndian.Uint16(v))))
		}
	case oidInt4:
		if len(v) == 4 {
			return strconv.Itoa(int(int32(binary.BigEndian.Uint32(v))))
		}
	case oidOID:
		if len(v) == 4 {
			return strconv.FormatUint(uint64(binary.BigEndian.Uint32(v)), 10)
		}
	case oidInt8:
		if len(v) == 8 {
			return strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10)
		}
	case oidFloat4:
		if len(v) == 4 {
			return strconv.FormatFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(v))), 'g', -1, 32)
		}
	case oidFloat8:
		if len(v) == 8 {
			return strconv.FormatFloat(math.Float64frombits(binary.BigEndian.Uint64(v)), 'g', -1, 64)
		}
	case oidText, oidVarchar, oidBPChar, oidName, oidJSON:
		if utf8.Valid(v) {
			return clip(v)
		}
	case oidJSONB:
		if len(v) > 0 && v[0] == 1 && utf8.Valid(v[1:]) {
			return clip(v[1:])
		}
	case oidNumeric:
		if s, ok := renderNumeric(v); ok {
			return s
		}
	case oidUUID:
		if len(v) == 16 {
			h := hex.EncodeToString(v)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		}
	case oidDate:
		if len(v) == 4 {
			return pgEpoch.AddDate(0, 0, int(int32(binary.BigEndian.Uint32(v)))).Format("2006-01-02")
		}
	case oidTimestamp, oidTimestamptz:
		if len(v) == 8 {
			us := int64(binary.BigEndian.Uint64(v))
			t := pgEpoch.Add(time.Duration(us) * time.Microsecond)
			if oid == oidTimestamp {
				return t.Format("2006-01-02 15:04:05.999999")
			}
			return t.Format("2006-01-02 15:04:05.999999Z07:00")
		}
	}
	if len(v) > maxParamText/2 {
		return `\x` + hex.EncodeToString(v[:maxParamText/2]) + "…"
	}
	return `\x` + hex.EncodeToString(v)
}

// renderNumeric decodes PostgreSQL's binary numeric: ndigits, weight,
// sign and display scale (int16 each), then base-10000 digits; weight is
// the power of 10000 of the first digit.
func renderNumeric(v []byte) (string, bool) {
	if len(v) < 8 {
		return "", false
	}
	ndigits := int(binary.BigEndian.Uint16(v))
	weight := int(int16(binary.BigEndian.Uint16(v[2:])))
	sign := binary.BigEndian.Uint16(v[4:])
	dscale := int(binary.BigEndian.Uint16(v[6:]))
	if len(v) != 8+2*ndigits || dscale > 1000 || ndigits > 1000 || weight < -1000 || weight > 1000 {
		return "", false
	}
	switch sign {
	case 0xC000:
		return "NaN", true
	case 0xD000:
		return "Infinity", true
	case 0xF000:
		return "-Infinity", true
	case 0x0000, 0x4000:
	default:
		return "", false
	}
	digit := func(i int) int {
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(v[8+2*i:]))
	}
	var b []byte
	if sign == 0x4000 {
		b = append(b, '-')
	}
	// Integer part: groups for weights weight..0.
	if weight < 0 {
		b = append(b, '0')
	} else {
		for i := 0; i <= weight; i++ {
			d := digit(i)
			if i == 0 {
				b = strconv.AppendInt(b, int64(d), 10)
			} else {
				b = append(b, fmt.Sprintf("%04d", d)...)
			}
		}
	}
	if dscale > 0 {
		b = append(b, '.')
		var frac []byte
		for i := weight + 1; len(frac) < dscale; i++ {
			frac = append(frac, fmt.Sprintf("%04d", digit(i))...)
		}
		b = append(b, frac[:dscale]...)
	}
	return string(b), true
}
