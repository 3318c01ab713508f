package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Config is an experiment's configuration: a pointer to a struct that
// embeds Settings (so it has RunSettings) and is plain JSON with
// snake_case names. The runner reads, sets and sweeps it through its JSON
// form only, so any field an experiment adds can be set and swept.
type Config interface {
	RunSettings() *Settings
	// Validate reports every field out of range, each naming the field
	// by its dotted JSON path, its value and the allowed range
	// (*FieldError, joined with errors.Join).
	Validate() error
}

// Resolver is a Config with "0 selects ..." fields: Resolve replaces them
// by what they select, in place. The runner resolves every point's config
// before it hashes or runs it.
type Resolver interface{ Resolve() }

// Settings are the runner's part of every config: where results go, how
// many points run at once, how often running points checkpoint and the
// sweep. None of them changes a result.
type Settings struct {
	// Out is the result directory; not empty.
	Out string `json:"out"`
	// Workers is the number of points run in parallel; 0 selects the
	// number of CPUs. In [0, 1024].
	Workers int `json:"workers"`
	// Threads is the number of goroutines one point's graph ops use
	// (ops.SetThreads); results are the same bits for any count. 0
	// (default) shares the cores: max(1, CPUs / workers running). In
	// [0, 1024]; a value >= 1 is used as given, also when workers x
	// threads exceeds the CPUs.
	Threads int `json:"threads"`
	// CheckpointEvery is the interval in steps between checkpoints of a
	// running point. Default 50; in [1, 100000000].
	CheckpointEvery int `json:"checkpoint_every"`
	// MaxMemory caps the estimated peak memory of the points running at
	// once: bytes, or a number with a unit (K, M, G, T: powers of 1024),
	// e.g. "8G". Empty: the machine's available memory is the only cap.
	MaxMemory string `json:"max_memory"`
	// Sweep is the grid: the product of its axes, the first outermost.
	// Empty: one point, the config itself.
	Sweep Axes `json:"sweep"`
}

// RunSettings returns s; through embedding it makes a struct a Config.
func (s *Settings) RunSettings() *Settings { return s }

// DefaultSettings writes into out with a checkpoint every 50 steps and as
// many workers as CPUs.
func DefaultSettings(out string) Settings {
	return Settings{Out: out, CheckpointEvery: DefaultCheckpointEvery}
}

// Limits of the runner's settings.
const (
	DefaultCheckpointEvery = 50
	MaxWorkers             = 1024
	MaxSteps               = 100_000_000
	// MaxPoints is the largest grid that runs without -allow-large-grid
	// (Options.AllowLargeGrid): a typo such as -sweep data.seed=1,...,10000
	// next to three other axes should not start a million points.
	MaxPoints = 10_000
)

// runnerKeys are the Settings keys; they cannot be swept and are not part
// of a point's identity.
var runnerKeys = []string{"out", "workers", "threads", "checkpoint_every", "max_memory", "sweep"}

func (s *Settings) validate() []error {
	var errs []error
	if s.Out == "" {
		errs = append(errs, &FieldError{Field: "out", Value: s.Out, Want: "a directory path"})
	}
	if s.Workers < 0 || s.Workers > MaxWorkers {
		errs = append(errs, &FieldError{Field: "workers", Value: s.Workers, Want: fmt.Sprintf("an integer in [0, %d] (0: the number of CPUs)", MaxWorkers)})
	}
	if s.Threads < 0 || s.Threads > MaxWorkers {
		errs = append(errs, &FieldError{Field: "threads", Value: s.Threads, Want: fmt.Sprintf("an integer in [0, %d] (0: the CPUs shared among the workers)", MaxWorkers)})
	}
	if s.MaxMemory != "" {
		if _, err := ParseBytes(s.MaxMemory); err != nil {
			errs = append(errs, &FieldError{Field: "max_memory", Value: s.MaxMemory, Want: "a positive size in bytes, e.g. 8G, 512M or 1e9 (empty: no cap but the machine's)"})
		}
	}
	if s.CheckpointEvery < 1 || s.CheckpointEvery > MaxSteps {
		errs = append(errs, &FieldError{Field: "checkpoint_every", Value: s.CheckpointEvery, Want: fmt.Sprintf("an integer in [1, %d]", MaxSteps)})
	}
	return errs
}

// Axis is one key of a sweep with its values (JSON), in order.
type Axis struct {
	Key    string
	Values []json.RawMessage
}

// Axes are the axes of a sweep, in order. In JSON they are an object
// {"key": [values...], ...} whose key order is kept.
type Axes []Axis

// Keys are the swept keys in order.
func (a Axes) Keys() []string {
	ks := make([]string, len(a))
	for i, x := range a {
		ks[i] = x.Key
	}
	return ks
}

func (a Axes) index(key string) int {
	return slices.IndexFunc(a, func(x Axis) bool { return x.Key == key })
}

// MarshalJSON writes the axes as an object in their order.
func (a Axes) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, x := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(x.Key)
		b.Write(k)
		b.WriteByte(':')
		vs := x.Values
		if vs == nil {
			vs = []json.RawMessage{}
		}
		v, err := json.Marshal(vs)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object of lists, keeping the key order.
func (a *Axes) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t == nil {
		*a = nil
		return nil
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return errors.New(`sweep: want an object {"key": [values...], ...}`)
	}
	var out Axes
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key := t.(string)
		var vs []json.RawMessage
		if err := dec.Decode(&vs); err != nil {
			return fmt.Errorf("sweep %q: want a list of values", key)
		}
		if out.index(key) >= 0 {
			return fmt.Errorf("sweep %q: the key appears twice", key)
		}
		out = append(out, Axis{Key: key, Values: vs})
	}
	*a = out
	return nil
}

// FieldError is a configuration value out of its allowed range.
type FieldError struct {
	Field string // dotted JSON path, e.g. "data.zeta"
	Value any
	Want  string // the allowed range
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s = %s: want %s", e.Field, FormatValue(e.Value), e.Want)
}

// FormatValue formats a config value for messages: strings quoted, floats
// in the shortest form.
func FormatValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []int:
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprint(v)
}

// Unjoin splits an errors.Join error into its parts.
func Unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Set is one -set key=value: a dotted JSON path and a value, JSON or else
// a string.
type Set struct {
	Key   string
	Value json.RawMessage
}

// ParseSet reads "key=value".
func ParseSet(s string) (Set, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return Set{}, fmt.Errorf("-set %q: want key=value, e.g. -set data.zeta=0.125", s)
	}
	return Set{Key: k, Value: jsonValue(strings.TrimSpace(v))}, nil
}

// ParseSweep reads "key=v1,v2,...".
func ParseSweep(s string) (Axis, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return Axis{}, fmt.Errorf("-sweep %q: want key=v1,v2,..., e.g. -sweep data.seed=1,2,3", s)
	}
	a := Axis{Key: k}
	if strings.TrimSpace(v) == "" {
		return a, nil // empty: refused with the other checks
	}
	for _, f := range splitTop(v) {
		a.Values = append(a.Values, jsonValue(strings.TrimSpace(f)))
	}
	return a, nil
}

// splitTop splits s at the commas outside brackets, braces and quotes, so
// that a value may be a JSON list or object: -sweep list=[1,2],[3].
func splitTop(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// jsonValue is s if s is a JSON value, else s as a JSON string.
func jsonValue(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// toMap is the JSON object of v.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("runner: config does not encode: %v", err))
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		panic(err)
	}
	normalizeZeros(m)
	return m
}

// normalizeZeros writes every numeric zero (-0, 0.0, 0e5) as 0, so that
// -0 and 0 are one value in identities, labels and sweeps.
func normalizeZeros(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = normalizeZeros(x)
		}
	case []any:
		for i, x := range v {
			v[i] = normalizeZeros(x)
		}
	case json.Number:
		if f, err := v.Float64(); err == nil && f == 0 {
			return json.Number("0")
		}
	}
	return v
}

// checkDuplicateKeys finds a key given twice in one object of a JSON
// document, or twice in spellings that differ only in case ("Steps",
// "STEPS"), which encoding/json would silently merge.
func checkDuplicateKeys(src []byte) error {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var walk func(path string) error
	walk = func(path string) error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := t.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]string{}
			for dec.More() {
				t, err := dec.Token()
				if err != nil {
					return err
				}
				k := t.(string)
				p := k
				if path != "" {
					p = path + "." + k
				}
				if prev, ok := seen[strings.ToLower(k)]; ok {
					if prev == k {
						return fmt.Errorf("key %q is given twice; give it once", p)
					}
					return fmt.Errorf("key %q is given twice, as %q and %q (keys are case-sensitive snake_case); give it once", p, prev, k)
				}
				seen[strings.ToLower(k)] = k
				if err := walk(p); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	return walk("")
}

// leafKeys lists every dotted path of m that can be set: every key at
// every depth.
func leafKeys(m map[string]any, prefix string, out *[]string) {
	for k, v := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		*out = append(*out, p)
		if sub, ok := v.(map[string]any); ok && k != "sweep" {
			leafKeys(sub, p, out)
		}
	}
}

// lookup returns the value at a dotted path of m.
func lookup(m map[string]any, key string) (any, bool) {
	var cur any = m
	for _, part := range strings.Split(key, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// setPath sets the value at a dotted path of m that exists.
func setPath(m map[string]any, key string, v json.RawMessage) {
	parts := strings.Split(key, ".")
	obj := m
	for _, part := range parts[:len(parts)-1] {
		obj = obj[part].(map[string]any)
	}
	obj[parts[len(parts)-1]] = v
}

// UnknownKeyError is a key that names no field of the config.
type UnknownKeyError struct {
	Where   string // "-set", "-sweep", "sweep" (in the file) or "config"
	Key     string
	Nearest []string
}

func (e *UnknownKeyError) Error() string {
	s := fmt.Sprintf("%s: unknown key %q", e.Where, e.Key)
	if len(e.Nearest) > 0 {
		s += "; nearest valid keys: " + strings.Join(e.Nearest, ", ")
	}
	return s + " (print every key with -print-config)"
}

// nearest returns up to three keys closest to key by edit distance.
func nearest(key string, keys []string) []string {
	type kd struct {
		k string
		d int
	}
	var ds []kd
	for _, k := range keys {
		d := editDistance(key, k)
		// The last part alone counts too: "zeta" is near "data.zeta".
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			d = min(d, editDistance(key, k[i+1:])+1)
		}
		ds = append(ds, kd{k, d})
	}
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].d != ds[j].d {
			return ds[i].d < ds[j].d
		}
		return ds[i].k < ds[j].k
	})
	var out []string
	for _, x := range ds[:min(3, len(ds))] {
		out = append(out, x.k)
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// newLike returns a new zero value of c's type.
func newLike(c Config) Config {
	return reflect.New(reflect.TypeOf(c).Elem()).Interface().(Config)
}

// decodeStrict decodes src into a zero value of base's type, rejecting
// unknown fields.
func decodeStrict(base Config, src []byte) (Config, error) {
	c := newLike(base)
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Clone returns a deep copy of c (through JSON).
func Clone(c Config) Config {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	out, err := decodeStrict(c, b)
	if err != nil {
		panic(fmt.Sprintf("runner: config does not read back: %v", err))
	}
	return out
}

// checkKey reports an unknown key (naming the nearest valid ones) or one
// that cannot be swept.
func checkKey(where, key string, m map[string]any, sweep bool) error {
	if sweep && slices.Contains(runnerKeys, key) {
		return fmt.Errorf("%s %s: the runner's settings (%s) cannot be swept", where, key, strings.Join(runnerKeys, ", "))
	}
	if key == "sweep" || strings.HasPrefix(key, "sweep.") {
		return fmt.Errorf("%s %s: give sweeps with -sweep key=v1,v2 or a \"sweep\" object in the config file", where, key)
	}
	if _, ok := lookup(m, key); !ok {
		var keys []string
		leafKeys(m, "", &keys)
		return &UnknownKeyError{Where: where, Key: key, Nearest: nearest(key, keys)}
	}
	return nil
}

// withValue returns c with the value at key replaced (a new config), or
// an error naming the key, the value and what the field takes.
func withValue(c Config, where, key string, v json.RawMessage) (Config, error) {
	m := toMap(c)
	setPath(m, key, v)
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	out, err := decodeStrict(c, b)
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Type.Kind() == reflect.String && len(v) > 0 && v[0] != '"' {
		// A string field given something that reads as another JSON
		// value (-out 2026, -set model.kind=null): take the text.
		q, _ := json.Marshal(string(v))
		return withValue(c, where, key, q)
	}
	if err != nil {
		want := "a value of the field's type"
		if errors.As(err, &typ) {
			want = typeName(typ.Type.String())
		}
		return nil, fmt.Errorf("%s %s = %s: want %s", where, key, string(v), want)
	}
	// The generic map lost the order of the axes.
	out.RunSettings().Sweep = slices.Clone(c.RunSettings().Sweep)
	return out, nil
}

// canonical is the value at key of c as canonical JSON.
func canonical(c Config, key string) string {
	v, _ := lookup(toMap(c), key)
	b, _ := json.Marshal(v)
	return string(b)
}

// ReadConfigFile decodes a JSON config over base: fields the file leaves
// out keep base's values; a "sweep" object replaces base's sweep. Unknown
// keys (named by their dotted path, with the nearest valid ones), wrong
// types and malformed JSON are errors.
func ReadConfigFile(r io.Reader, base Config) (Config, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var fm map[string]any
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	if err := dec.Decode(&fm); err != nil {
		return nil, describeJSONError(src, err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if fm == nil {
		return nil, errors.New("the config is null, not a JSON object; give an object such as {\"steps\": 100}, or {} for the defaults")
	}
	if err := checkDuplicateKeys(src); err != nil {
		return nil, err
	}
	if err := unknownKeys(fm, toMap(base), ""); err != nil {
		return nil, err
	}
	c := Clone(base)
	c.RunSettings().Sweep = nil
	if _, ok := fm["sweep"]; !ok {
		c.RunSettings().Sweep = base.RunSettings().Sweep
	}
	dec = json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, describeJSONError(src, err)
	}
	return c, nil
}

// unknownKeys finds the first key of the file that the config lacks.
func unknownKeys(file, cfg map[string]any, prefix string) error {
	ks := make([]string, 0, len(file))
	for k := range file {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		cv, ok := cfg[k]
		if !ok {
			var keys []string
			leafKeys(cfg, prefix, &keys)
			return &UnknownKeyError{Where: "config", Key: p, Nearest: nearest(p, keys)}
		}
		fsub, fok := file[k].(map[string]any)
		csub, cok := cv.(map[string]any)
		if fok && cok && k != "sweep" {
			if err := unknownKeys(fsub, csub, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// LoadConfigFile reads a config file over base.
func LoadConfigFile(path string, base Config) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ReadConfigFile(f, base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func describeJSONError(src []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(src, syn.Offset)
		return fmt.Errorf("malformed JSON at line %d, column %d: %v", line, col, syn)
	case errors.As(err, &typ):
		line, col := position(src, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("field %s at line %d, column %d: got a JSON %s, want %s", field, line, col, typ.Value, typeName(typ.Type.String()))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: unexpected end of input")
	}
	if s, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown field %s (field names are snake_case; print the defaults with -print-config)", s)
	}
	return err
}

func typeName(t string) string {
	switch t {
	case "int":
		return "an integer"
	case "uint64":
		return "a non-negative integer"
	case "float64", "runner.Number":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "[]int":
		return "a list of integers"
	case "[]float64":
		return "a list of numbers"
	case "[]string":
		return "a list of strings"
	}
	return "a JSON value of type " + t
}

func position(src []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(src)))
	before := src[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
