package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mhattn/mha/internal/atomicfile"
)

var nanValue = math.NaN()

// Number is a float64 that survives JSON: finite values are written in the
// shortest form that reads back exactly (strconv 'g', -1); NaN and
// infinities, which JSON lacks, mean a value that does not exist (not
// measured, not finished, undefined or not valid: the record's status or a
// status field beside it says which) and are written as null, which reads
// back as NaN. Strings ("NaN", "+Inf") of files written before are still
// read.
type Number float64

// MarshalJSON implements json.Marshaler.
func (x Number) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if !finite(f) {
		return []byte("null"), nil
	}
	return []byte(FormatFloat(f)), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (x *Number) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*x = Number(math.NaN())
		return nil
	}
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

// NaN is Number(NaN), for fields not measured.
var NaN = Number(math.NaN())

// FormatFloat is the one float format of every result file.
func FormatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// CSVLine joins fields into a metrics row; floats in the one float format,
// except that a float that does not exist (NaN or infinite: not measured,
// not finished, undefined, not valid) is an empty field.
func CSVLine(fields ...any) string {
	s := make([]string, len(fields))
	for i, f := range fields {
		switch f := f.(type) {
		case float64:
			s[i] = csvFloat(f)
		case Number:
			s[i] = csvFloat(float64(f))
		case int:
			s[i] = strconv.Itoa(f)
		case uint64:
			s[i] = strconv.FormatUint(f, 10)
		case bool:
			s[i] = strconv.FormatBool(f)
		case string:
			s[i] = f
		default:
			panic(fmt.Sprintf("CSVLine: %T", f))
		}
	}
	return strings.Join(s, ",")
}

func csvFloat(x float64) string {
	if !finite(x) {
		return ""
	}
	return FormatFloat(x)
}

// ParseCSV splits a metrics row into the pointers' types (*string, *int,
// *uint64, *float64, *Number, *bool), one field each. An empty float field
// reads as NaN.
func ParseCSV(line string, dst ...any) error {
	f := strings.Split(line, ",")
	if len(f) != len(dst) {
		return fmt.Errorf("metrics row %q: %d fields, want %d", line, len(f), len(dst))
	}
	for i, d := range dst {
		var err error
		switch d := d.(type) {
		case *string:
			*d = f[i]
		case *int:
			*d, err = strconv.Atoi(f[i])
		case *uint64:
			*d, err = strconv.ParseUint(f[i], 10, 64)
		case *float64:
			*d, err = parseCSVFloat(f[i])
		case *Number:
			var x float64
			x, err = parseCSVFloat(f[i])
			*d = Number(x)
		case *bool:
			*d, err = strconv.ParseBool(f[i])
		default:
			panic(fmt.Sprintf("ParseCSV: %T", d))
		}
		if err != nil {
			return fmt.Errorf("metrics row %q, field %d: %w", line, i+1, err)
		}
	}
	return nil
}

func parseCSVFloat(s string) (float64, error) {
	if s == "" {
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// WriteJSON writes v as indented JSON atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(b, '\n'))
}

// ReadJSON decodes path into v, rejecting unknown fields.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LoadResult reads a result directory of experiment e written by a run
// (finished or not): config.json, summary.json and each point's rows
// from metrics.csv. A notebook can pass it to the experiment's table and
// plot builders.
func LoadResult(e Experiment, dir string) (*Result, error) {
	var rf RunFile
	if err := readRunFile(filepath.Join(dir, "config.json"), &rf); err != nil {
		return nil, err
	}
	if rf.Experiment != e.Name {
		return nil, fmt.Errorf("%s holds a run of experiment %q, not %q", dir, rf.Experiment, e.Name)
	}
	cfg, err := decodeStrict(e.Defaults(), rf.Config)
	if err != nil {
		return nil, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	var sf summaryFile
	if err := ReadJSON(filepath.Join(dir, "summary.json"), &sf); err != nil {
		return nil, err
	}
	rows, err := readLines(filepath.Join(dir, "metrics.csv"), Header(e, sf.Axes))
	if err != nil {
		return nil, err
	}
	byLabel := map[string][]string{}
	for _, l := range rows {
		f := strings.SplitN(l, ",", 2+len(sf.Axes))
		if len(f) < 2+len(sf.Axes) {
			return nil, fmt.Errorf("%s/metrics.csv: row %q has too few fields", dir, l)
		}
		byLabel[f[0]] = append(byLabel[f[0]], f[len(f)-1])
	}
	res := &Result{Experiment: rf.Experiment, Dir: dir, Config: cfg, Axes: sf.Axes, Status: sf.Status}
	for _, en := range sf.Points {
		var vals Axes
		if err := vals.UnmarshalJSON(wrapLists(en.Point)); err != nil {
			return nil, fmt.Errorf("summary.json point %d: %w", en.Index, err)
		}
		r := Record{Index: en.Index, Label: en.Label, Dir: en.Dir, Status: en.Status, Rows: byLabel[en.Label]}
		for _, a := range vals {
			r.Values = append(r.Values, Value{Key: a.Key, JSON: a.Values[0]})
		}
		var ind bytes.Buffer
		if err := json.Indent(&ind, en.Result, "", "  "); err != nil {
			return nil, err
		}
		r.JSON = ind.Bytes()
		res.Records = append(res.Records, r)
	}
	return res, nil
}

// wrapLists turns {"k": v, ...} into {"k": [v], ...}, for Axes to read
// in order.
func wrapLists(obj json.RawMessage) []byte {
	dec := json.NewDecoder(bytes.NewReader(obj))
	var b bytes.Buffer
	b.WriteByte('{')
	if _, err := dec.Token(); err != nil {
		return []byte("{}")
	}
	first := true
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(t)
		b.Write(k)
		b.WriteString(":[")
		b.Write(v)
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// Stats are the mean of repetitions (over seeds) with its 95% confidence
// interval [Lo, Hi] (Student's t with N-1 degrees of freedom; Lo = Hi =
// Mean for one repetition), the sample standard deviation, minimum and
// maximum. NaN values are left out.
type Stats struct {
	N                int
	Mean, SD         float64
	Lo, Hi, Min, Max float64
}

// NewStats summarizes v.
func NewStats(v []float64) Stats {
	v = slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	s := Stats{N: len(v), Mean: nanValue, SD: nanValue, Lo: nanValue, Hi: nanValue, Min: nanValue, Max: nanValue}
	if len(v) == 0 {
		return s
	}
	s.Min, s.Max, s.Mean, s.SD = slices.Min(v), slices.Max(v), 0, 0
	for _, x := range v {
		s.Mean += x / float64(len(v))
	}
	s.Lo, s.Hi = s.Mean, s.Mean
	if len(v) > 1 {
		for _, x := range v {
			s.SD += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(s.SD / float64(len(v)-1))
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(v) - 1)}.Quantile(0.975)
		h := t * s.SD / math.Sqrt(float64(len(v)))
		s.Lo, s.Hi = s.Mean-h, s.Mean+h
	}
	return s
}

// IsSeedKey reports whether a swept key is a seed (its last part is
// "seed", e.g. data.seed or init.seed): tables and plots aggregate over
// seed axes.
func IsSeedKey(key string) bool { return key == "seed" || strings.HasSuffix(key, ".seed") }

// SeedAxes are the swept seed keys of the result.
func (r *Result) SeedAxes() []string {
	var out []string
	for _, k := range r.Axes {
		if IsSeedKey(k) {
			out = append(out, k)
		}
	}
	return out
}

// Group is the points of a result that share every swept value but the
// seeds: one repetition per seed.
type Group struct {
	// Values are the non-seed swept values; Name spells them out, e.g.
	// "heads = 2, zeta = 0.125" ("" without non-seed axes).
	Values []Value
	Name   string
	// Records are the group's points (indices into Result.Records) that
	// finished (ok or diverged), in grid order.
	Records []int
}

// Value returns the group's value of a swept key.
func (g Group) Value(key string) (Value, bool) {
	for _, v := range g.Values {
		if v.Key == key {
			return v, true
		}
	}
	return Value{}, false
}

// Groups splits the points by their non-seed swept values, in grid order
// of first appearance. Groups without a finished point are kept (with no
// Records).
func (r *Result) Groups() []Group {
	var keys []string
	for _, k := range r.Axes {
		if !IsSeedKey(k) {
			keys = append(keys, k)
		}
	}
	return r.groupBy(keys)
}

func (r *Result) groupBy(keys []string) []Group {
	names := labelNames(r.Axes)
	nameOf := map[string]string{}
	for i, k := range r.Axes {
		nameOf[k] = names[i]
	}
	var out []Group
	index := map[string]int{}
	for i, rec := range r.Records {
		var vals []Value
		var parts []string
		for _, k := range keys {
			if v, ok := rec.Value(k); ok {
				vals = append(vals, v)
				parts = append(parts, nameOf[k]+" = "+v.Text())
			}
		}
		name := strings.Join(parts, ", ")
		j, ok := index[name]
		if !ok {
			j = len(out)
			index[name] = j
			out = append(out, Group{Values: vals, Name: name})
		}
		if rec.Finished() {
			out[j].Records = append(out[j].Records, i)
		}
	}
	return out
}

// Series is one line of a plot against a swept key x: the groups that
// share every other non-seed swept value, in order of x.
type Series struct {
	Name   string // the other values, e.g. "zeta = 0.125"; "" if none
	X      []float64
	Groups []Group
}

// Series splits the groups into lines against the swept key x.
func (r *Result) Series(x string) []Series {
	var others []string
	for _, k := range r.Axes {
		if k != x && !IsSeedKey(k) {
			others = append(others, k)
		}
	}
	lines := r.groupBy(others)
	groups := r.Groups()
	var out []Series
	for _, l := range lines {
		s := Series{Name: l.Name}
		for _, g := range groups {
			if !sameOthers(g, l.Values) {
				continue
			}
			v, _ := g.Value(x)
			s.X = append(s.X, v.Float())
			s.Groups = append(s.Groups, g)
		}
		// In order of x.
		idx := make([]int, len(s.X))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case s.X[a] < s.X[b]:
				return -1
			case s.X[a] > s.X[b]:
				return 1
			}
			return 0
		})
		xs, gs := make([]float64, len(idx)), make([]Group, len(idx))
		for i, j := range idx {
			xs[i], gs[i] = s.X[j], s.Groups[j]
		}
		s.X, s.Groups = xs, gs
		out = append(out, s)
	}
	return out
}

func sameOthers(g Group, others []Value) bool {
	for _, o := range others {
		v, ok := g.Value(o.Key)
		if !ok || string(v.JSON) != string(o.JSON) {
			return false
		}
	}
	return true
}

// XAxis picks the swept key to plot against: the first of prefer that is
// swept with more than one value, else the first numeric non-seed key
// swept with more than one value, else "".
func (r *Result) XAxis(prefer ...string) string {
	count := map[string]map[string]bool{}
	numeric := map[string]bool{}
	for _, k := range r.Axes {
		count[k] = map[string]bool{}
		numeric[k] = true
	}
	for _, rec := range r.Records {
		for _, v := range rec.Values {
			count[v.Key][string(v.JSON)] = true
			if math.IsNaN(v.Float()) {
				numeric[v.Key] = false
			}
		}
	}
	for _, k := range prefer {
		if len(count[k]) > 1 && numeric[k] {
			return k
		}
	}
	for _, k := range r.Axes {
		if !IsSeedKey(k) && len(count[k]) > 1 && numeric[k] {
			return k
		}
	}
	return ""
}

// AxisName is the short name of a swept key in labels and legends.
func (r *Result) AxisName(key string) string {
	names := labelNames(r.Axes)
	for i, k := range r.Axes {
		if k == key {
			return names[i]
		}
	}
	return key
}

// SeedNote says how a table or plot aggregates over seeds: "" without a
// seed axis, else e.g. "mean and 95% interval over 3 values of data.seed".
func (r *Result) SeedNote() string {
	seeds := r.SeedAxes()
	if len(seeds) == 0 {
		return ""
	}
	n := 1
	for _, k := range seeds {
		vals := map[string]bool{}
		for _, rec := range r.Records {
			if v, ok := rec.Value(k); ok {
				vals[string(v.JSON)] = true
			}
		}
		n *= len(vals)
	}
	return fmt.Sprintf("mean and 95%% interval over %d seeds (%s)", n, strings.Join(seeds, " x "))
}

// GroupHeader are the first cells of a table with one row per group: the
// short names of the non-seed swept keys, then "seeds" if a seed key is
// swept.
func (r *Result) GroupHeader() []string {
	var out []string
	for _, k := range r.Axes {
		if !IsSeedKey(k) {
			out = append(out, r.AxisName(k))
		}
	}
	if len(r.SeedAxes()) > 0 {
		out = append(out, "seeds")
	}
	return out
}

// GroupCells are the cells of GroupHeader for a group: its values and
// its number of finished points.
func (r *Result) GroupCells(g Group) []string {
	var out []string
	for _, v := range g.Values {
		out = append(out, v.Text())
	}
	if len(r.SeedAxes()) > 0 {
		out = append(out, strconv.Itoa(len(g.Records)))
	}
	return out
}

// FitLogLog fits log y = a + b log x by least squares and returns the
// slope b and intercept a, over the pairs with x, y > 0 and y finite; NaN
// with fewer than two such points or a single distinct x.
func FitLogLog(x, y []float64) (slope, intercept float64) {
	var lx, ly []float64
	for i := range x {
		if x[i] > 0 && y[i] > 0 && !math.IsInf(y[i], 0) {
			lx, ly = append(lx, math.Log(x[i])), append(ly, math.Log(y[i]))
		}
	}
	n := float64(len(lx))
	if n < 2 {
		return math.NaN(), math.NaN()
	}
	var mx, my float64
	for i := range lx {
		mx += lx[i] / n
		my += ly[i] / n
	}
	var sxy, sxx float64
	for i := range lx {
		sxy += (lx[i] - mx) * (ly[i] - my)
		sxx += (lx[i] - mx) * (lx[i] - mx)
	}
	if sxx == 0 {
		return math.NaN(), math.NaN()
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}

// MeanCI formats, over a group's finished points, the values v(i) (i
// indexes Records): "mean" for one point, "mean ±h" with h the half-width
// of the 95% interval for several, "-" for none (NaN values, which do not
// exist, are left out). Values print with 4
// significant digits.
func (r *Result) MeanCI(g Group, v func(i int) float64) string {
	var xs []float64
	for _, i := range g.Records {
		xs = append(xs, v(i))
	}
	s := NewStats(xs)
	if s.N == 0 {
		return "-"
	}
	if s.N <= 1 || math.IsNaN(s.Hi) {
		return strconv.FormatFloat(s.Mean, 'g', 4, 64)
	}
	return strconv.FormatFloat(s.Mean, 'g', 4, 64) + " ±" + strconv.FormatFloat((s.Hi-s.Lo)/2, 'g', 2, 64)
}
