package runner

import (
	"encoding/json"
	"math"
	"testing"
)

// TestMissingValues: values that do not exist (NaN, infinities) are null
// in JSON and empty in metrics rows, never 0 or a string, and read back as
// NaN; finite values round-trip exactly.
func TestMissingValues(t *testing.T) {
	for _, tc := range []struct {
		x         float64
		json, csv string
	}{
		{0.1, "0.1", "0.1"},
		{-2.5e-300, "-2.5e-300", "-2.5e-300"},
		{0, "0", "0"},
		{math.NaN(), "null", ""},
		{math.Inf(1), "null", ""},
		{math.Inf(-1), "null", ""},
	} {
		b, err := json.Marshal(struct {
			V Number `json:"v"`
		}{Number(tc.x)})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"v":` + tc.json + `}`; string(b) != want {
			t.Errorf("%v: JSON %s, want %s", tc.x, b, want)
		}
		var back struct {
			V Number `json:"v"`
		}
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := float64(back.V); !(got == tc.x || math.IsNaN(got) && !isFinite(tc.x)) {
			t.Errorf("%v: read back %v", tc.x, got)
		}
		line := CSVLine(1, tc.x, Number(tc.x))
		if want := "1," + tc.csv + "," + tc.csv; line != want {
			t.Errorf("%v: CSV %q, want %q", tc.x, line, want)
		}
		var k int
		var f float64
		var n Number
		if err := ParseCSV(line, &k, &f, &n); err != nil {
			t.Fatal(err)
		}
		if !(f == tc.x || math.IsNaN(f) && !isFinite(tc.x)) || !(float64(n) == tc.x || math.IsNaN(float64(n)) && !isFinite(tc.x)) {
			t.Errorf("%v: CSV read back %v, %v", tc.x, f, n)
		}
	}
	// Files written before null: the strings still read.
	var old Number
	if err := json.Unmarshal([]byte(`"+Inf"`), &old); err != nil || !math.IsInf(float64(old), 1) {
		t.Errorf(`"+Inf" read as %v, %v`, old, err)
	}
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
