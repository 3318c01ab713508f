package experiments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

// Config is everything a run depends on. It is plain JSON (snake_case
// field names); a -config file gives some or all fields, flags override
// them, and fields left out keep the defaults of DefaultConfig. Zero
// values marked "0 selects ..." are resolved by Resolve.
type Config struct {
	// Data is the tokenized mixture (datasets.MixtureConfig; defaults there:
	// d = 16, T = 8, n = 256, zeta = 0.25, S = Z = 1, M = 4, sigma = 0.1,
	// seed 1) except test: 512 here (>= 1), which halves the cost of the
	// test evaluations of the largest models.
	Data datasets.MixtureConfig `json:"data"`
	// Model fixes everything of the architecture but the number of heads.
	Model ModelConfig `json:"model"`
	// Init is the initialization (layers.Init): scheme "random" (default)
	// or "zero-W", u_norm and w_norm (default 1, finite and >= 0) and seed
	// (default 1). Every head count uses the same seed, so the first h heads
	// of a larger model are the heads of the model with h heads.
	Init layers.Init `json:"init"`
	// Heads are the head counts H of the sweep, one sweep point each, in
	// this order. Default 1,2,4,8,16,32,64; each in [1, 4096], no repeats.
	Heads []int `json:"heads"`
	// Steps is the number K of GD steps per point. Default 2000; in
	// [1, 100000000].
	Steps int `json:"steps"`
	// LogEvery is the interval in steps between metric rows; the last step
	// is always logged. 0 selects max(1, Steps/50) (about 50 rows per
	// point). In [0, Steps].
	LogEvery int `json:"log_every"`
	// CheckpointEvery is the interval in steps between checkpoints of a
	// running point. Default 50; in [1, 100000000]. It does not change
	// any result.
	CheckpointEvery int `json:"checkpoint_every"`
	// Eta is a fixed GD step size for every point; 0 (default) derives it
	// per point from the theory (theory.TheoryStepSize). 0 or finite > 0.
	Eta float64 `json:"eta"`
	// MaxLoss is the divergence threshold: a point stops as "diverged" when
	// its training loss is NaN, infinite or above MaxLoss. 0 (default)
	// selects graph.DefaultMaxLoss = 1000. 0 or finite > 0.
	MaxLoss float64 `json:"max_loss"`
	// CertEps is the target loss eps of the realizability certificate
	// (theory.Realize). Default 0.05; finite, in (0, 1).
	CertEps float64 `json:"cert_eps"`
	// Workers is the number of sweep points run in parallel. 0 (default)
	// selects the number of CPUs; in [0, 1024]. It does not change any
	// result.
	Workers int `json:"workers"`
	// Out is the result directory. Default "results/headsweep" ("results/<experiment>"
	// for the others); not empty.
	Out string `json:"out"`

	// The settings below belong to the experiments other than headsweep and
	// are left out of its config (zero, omitted from JSON).

	// Seeds is the number of seeds of the experiments that repeat over
	// seeds (margin, generalization): repetition i = 0..Seeds-1 uses data
	// seed data.seed+i and init seed init.seed+i. 0 means 1.
	Seeds int `json:"seeds,omitzero"`
	// Margin: the NTK margin experiment.
	Margin MarginSettings `json:"margin,omitzero"`
	// Convexity: the weak-convexity experiment.
	Convexity ConvexitySettings `json:"convexity,omitzero"`
	// Sizes are the training-set sizes n of the generalization experiment
	// (nested: the first n sequences of one draw), each in [1, 1000000].
	Sizes []int `json:"sizes,omitzero"`
	// StepSearch: the step-size experiment.
	StepSearch StepSearchSettings `json:"step_search,omitzero"`
}

// MarginSettings are the NTK margin experiment's sweeps beside Heads.
type MarginSettings struct {
	// Inits are the initialization schemes: "random", "zero-W" and
	// "first-step" (zero-W, then one GD step of size first_step_eta).
	Inits []string `json:"inits"`
	// FirstStepEta is the step size of the "first-step" initialization (> 0).
	FirstStepEta float64 `json:"first_step_eta"`
	// Zetas are the fractions of relevant tokens of the zeta sweep, run at
	// ZetaHeads heads (in [1, 4096]); empty: no zeta sweep.
	Zetas     []float64 `json:"zetas"`
	ZetaHeads int       `json:"zeta_heads"`
}

// ConvexitySettings say where and how the curvature is measured along the
// GD path.
type ConvexitySettings struct {
	// Samples is the number of steps at which the curvature is measured,
	// spread log-uniformly over 0..K (0 and K included); in [2, 1000].
	Samples int `json:"samples"`
	// Lanczos is the number of Lanczos iterations per measurement
	// (each two gradient evaluations); in [2, 1000].
	Lanczos int `json:"lanczos"`
}

// StepSearchSettings control the bisection of the step-size experiment.
type StepSearchSettings struct {
	// Tolerance: the bisection stops when the largest monotone step and the
	// smallest non-monotone one differ by a factor below 1 + Tolerance;
	// in (0, 1].
	Tolerance float64 `json:"tolerance"`
	// MaxFactor bounds the search: steps up to MaxFactor times the theory
	// step size are tried (> 1).
	MaxFactor float64 `json:"max_factor"`
}

// ModelConfig is the architecture (layers.Config) without heads, tokens
// and dim, which come from the sweep and the data.
type ModelConfig struct {
	// Query is "all-token" (default) or "first-token".
	Query string `json:"query"`
	// Scale is "inv-sqrt" for scale(H) = 1/sqrt(H) (default) or "inv" for 1/H.
	Scale string `json:"scale"`
	// Train names the trainable blocks: "UW" (default), "U" or "W".
	Train string `json:"train"`
}

// Defaults of Config that are not in the packages it draws on.
const (
	DefaultSteps           = 2000
	DefaultCheckpointEvery = 50
	DefaultCertEps         = 0.05
	DefaultTestSamples     = 512
	DefaultOut             = "results/headsweep"
	// Rows per point aimed at when LogEvery is 0.
	defaultRows = 50
	maxHeads    = 4096
	maxSteps    = 100_000_000
	maxWorkers  = 1024
)

// DefaultHeads are the head counts of the default sweep.
var DefaultHeads = []int{1, 2, 4, 8, 16, 32, 64}

// DefaultConfig returns the default headsweep configuration.
func DefaultConfig() Config {
	data := datasets.DefaultMixture()
	data.Test = DefaultTestSamples
	return Config{
		Data:            data,
		Model:           ModelConfig{Query: layers.AllToken, Scale: layers.InvSqrtHeads, Train: layers.TrainUW},
		Init:            layers.DefaultInit(),
		Heads:           slices.Clone(DefaultHeads),
		Steps:           DefaultSteps,
		CheckpointEvery: DefaultCheckpointEvery,
		CertEps:         DefaultCertEps,
		Out:             DefaultOut,
	}
}

// FieldError is a configuration value out of its allowed range.
type FieldError struct {
	Field string // JSON path, e.g. "data.zeta"
	Value any
	Want  string // the allowed range
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s = %s: want %s", e.Field, formatValue(e.Value), e.Want)
}

func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []int:
		return joinInts(v)
	}
	return fmt.Sprint(v)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// Validate reports every field out of range, each as a *FieldError naming
// the field, its value and the allowed range, joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, value any, want string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Want: want})
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

	if err := c.Data.Validate(); err != nil {
		// MixtureConfig names fields by their JSON names: prefix the path.
		for _, e := range unjoin(err) {
			errs = append(errs, errors.New("data."+strings.TrimPrefix(e.Error(), "mixture config: ")))
		}
	}
	switch c.Model.Query {
	case layers.AllToken, layers.FirstToken:
	default:
		bad("model.query", c.Model.Query, fmt.Sprintf("%q or %q", layers.AllToken, layers.FirstToken))
	}
	switch c.Model.Scale {
	case layers.InvSqrtHeads, layers.InvHeads:
	default:
		bad("model.scale", c.Model.Scale, fmt.Sprintf("%q (1/sqrt(H)) or %q (1/H)", layers.InvSqrtHeads, layers.InvHeads))
	}
	switch c.Model.Train {
	case layers.TrainUW, layers.TrainU, layers.TrainW:
	default:
		bad("model.train", c.Model.Train, fmt.Sprintf("%q, %q or %q", layers.TrainUW, layers.TrainU, layers.TrainW))
	}
	switch c.Init.Scheme {
	case layers.InitRandom, layers.InitZeroW:
	default:
		bad("init.scheme", c.Init.Scheme, fmt.Sprintf("%q or %q", layers.InitRandom, layers.InitZeroW))
	}
	if !(c.Init.UNorm >= 0 && finite(c.Init.UNorm)) {
		bad("init.u_norm", c.Init.UNorm, "a finite value >= 0")
	}
	if !(c.Init.WNorm >= 0 && finite(c.Init.WNorm)) {
		bad("init.w_norm", c.Init.WNorm, "a finite value >= 0")
	}
	if len(c.Heads) == 0 {
		bad("heads", c.Heads, "a non-empty list of head counts")
	}
	seen := map[int]bool{}
	for _, h := range c.Heads {
		if h < 1 || h > maxHeads {
			bad("heads", c.Heads, fmt.Sprintf("every head count in [1, %d] (got %d)", maxHeads, h))
		} else if seen[h] {
			bad("heads", c.Heads, fmt.Sprintf("no head count twice (%d repeats)", h))
		}
		seen[h] = true
	}
	if c.Steps < 1 || c.Steps > maxSteps {
		bad("steps", c.Steps, fmt.Sprintf("an integer in [1, %d]", maxSteps))
	}
	if c.LogEvery < 0 || (c.Steps >= 1 && c.LogEvery > c.Steps) {
		bad("log_every", c.LogEvery, fmt.Sprintf("an integer in [0, steps = %d] (0: about %d rows)", c.Steps, defaultRows))
	}
	if c.CheckpointEvery < 1 || c.CheckpointEvery > maxSteps {
		bad("checkpoint_every", c.CheckpointEvery, fmt.Sprintf("an integer in [1, %d]", maxSteps))
	}
	if !(c.Eta >= 0 && finite(c.Eta)) {
		bad("eta", c.Eta, "0 (theory step size) or a finite value > 0")
	}
	if !(c.MaxLoss >= 0 && finite(c.MaxLoss)) {
		bad("max_loss", c.MaxLoss, fmt.Sprintf("0 (selects %g) or a finite value > 0", float64(graph.DefaultMaxLoss)))
	}
	if !(c.CertEps > 0 && c.CertEps < 1) {
		bad("cert_eps", c.CertEps, "a value in (0, 1)")
	}
	if c.Workers < 0 || c.Workers > maxWorkers {
		bad("workers", c.Workers, fmt.Sprintf("an integer in [0, %d] (0: the number of CPUs)", maxWorkers))
	}
	if c.Out == "" {
		bad("out", c.Out, "a directory path")
	}
	errs = append(errs, c.validateSettings()...)
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Resolve returns c with every "0 selects ..." field replaced by the value
// it selects. It does not validate.
func (c Config) Resolve() Config {
	c.Heads = slices.Clone(c.Heads)
	c.Sizes, c.Margin.Inits, c.Margin.Zetas = slices.Clone(c.Sizes), slices.Clone(c.Margin.Inits), slices.Clone(c.Margin.Zetas)
	if c.LogEvery == 0 {
		c.LogEvery = max(1, c.Steps/defaultRows)
	}
	if c.MaxLoss == 0 {
		c.MaxLoss = graph.DefaultMaxLoss
	}
	if c.Workers == 0 {
		c.Workers = runtime.NumCPU()
	}
	return c
}

// Identity is the part of the config that results depend on, as canonical
// JSON: the resolved config without workers, checkpoint_every and out. Two
// runs with the same identity write the same metrics and summary.
func (c Config) Identity() []byte {
	c = c.Resolve()
	c.Workers, c.CheckpointEvery, c.Out = 0, 0, ""
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // Config holds only plain values
	}
	return b
}

// Layer returns the architecture for h heads.
func (c Config) Layer(heads int) layers.Config {
	return layers.Config{Heads: heads, Tokens: c.Data.Tokens, Dim: c.Data.Dim,
		Query: c.Model.Query, Scale: c.Model.Scale, Train: c.Model.Train}
}

// ReadConfig decodes a JSON config over base: fields the JSON leaves out
// keep base's values. Unknown fields, wrong types and malformed JSON are
// errors naming the field (or line and column) and the offending value.
func ReadConfig(r io.Reader, base Config) (Config, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return base, err
	}
	c := base
	c.Sizes, c.Margin.Inits, c.Margin.Zetas = slices.Clone(c.Sizes), slices.Clone(c.Margin.Inits), slices.Clone(c.Margin.Zetas)
	c.Heads = nil // a list in the file replaces the default list
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return base, describeJSONError(src, err)
	}
	if dec.More() {
		return base, errors.New("trailing data after the JSON object")
	}
	if c.Heads == nil {
		c.Heads = slices.Clone(base.Heads)
	}
	return c, nil
}

// LoadConfig reads a config file over DefaultConfig.
func LoadConfig(path string) (Config, error) { return LoadConfigOver(path, DefaultConfig()) }

// LoadConfigOver reads a config file over base (an experiment's defaults,
// DefaultConfigFor).
func LoadConfigOver(path string, base Config) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	c, err := ReadConfig(f, base)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
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
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "[]int":
		return "a list of integers"
	}
	return "a JSON object (" + t + ")"
}

func position(src []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(src)))
	before := src[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}
