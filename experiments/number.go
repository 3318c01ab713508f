package experiments

import (
	"math"
	"strconv"
)

// Number is a float64 that survives JSON: finite values are written in the
// shortest form that reads back exactly (strconv 'g', -1), and NaN and
// infinities, which JSON lacks, as the strings "NaN", "+Inf" and "-Inf".
type Number float64

// MarshalJSON implements json.Marshaler.
func (x Number) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte(`"` + formatFloat(f) + `"`), nil
	}
	return []byte(formatFloat(f)), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (x *Number) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*x = Number(f)
	return nil
}

// formatFloat is the one float format of every result file.
func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
