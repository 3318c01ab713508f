package margin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/layers"
)

// Name is the experiment's name in config.json and summary.json.
const Name = "margin"

// Config is a GD point's config (its data, model and init; no GD runs)
// with the margin's settings. init.scheme is not used: margin.inits lists
// the initializations; init.u_norm, init.w_norm and init.seed (or seed,
// which sets data.seed and init.seed together) draw them.
// model.train is used only by the "first-step" initialization: the
// features are margin.features.
type Config struct {
	gdpoint.Config
	Margin Settings `json:"margin"`
}

// Settings are the margin experiment's own settings.
type Settings struct {
	// Features are the NTK feature blocks: "U" (default; grad_U Phi,
	// which depends on the attention only) or "UW" (every parameter of
	// the paper's model).
	Features string `json:"features"`
	// Inits are the initializations measured at every point, each once
	// (Inits): "random", "zero-W", "first-step", "step-W", "step-U-W",
	// "ideal". Not empty.
	Inits []string `json:"inits"`
	// FirstStepEta is the step size of the step initializations (finite
	// > 0). From W = 0 it sets ||W1|| only; the default 1000 moves the
	// attention measurably (docs/defaults.md, Section 4).
	FirstStepEta float64 `json:"first_step_eta"`
}

// Defaults of the margin's settings (docs/defaults.md, Section 6).
const (
	DefaultFirstStepEta = 1000
	DefaultSeeds        = 5
)

// DefaultInits are the default initializations.
var DefaultInits = []string{InitRandom, InitZeroW, InitStepW, InitStepUW, InitIdeal}

// DefaultHeads are the default head counts.
var DefaultHeads = []int{1, 4, 16}

// DefaultConfig is the recommended margin configuration of
// docs/defaults.md: data d = 8, T = 8, n = 512, n_test = 1024, zeta =
// 1/8, decoy 0.5, M = 4, sigma = 0.1, orthogonal means; the first-token
// model; H = 1, 4, 16; zeta = 1/8, 1/4, 1/2; seeds 1..5 (seed: data and
// initialization); U features; the initializations random, zero-W,
// step-W, step-U-W and ideal, first steps of size 1000.
func DefaultConfig() Config {
	g := gdpoint.DefaultConfig("results/" + Name)
	g.Data.Dim, g.Data.Tokens, g.Data.Train, g.Data.Test = 8, 8, 512, 1024
	g.Data.Zeta, g.Data.Signal, g.Data.Noise, g.Data.Clusters, g.Data.Sigma = 0.125, 1, 1, 4, 0.1
	g.Data.Antipodal, g.Data.Decoy = false, 0.5
	g.Model.Query = layers.FirstToken
	c := Config{Config: g, Margin: Settings{Features: FeaturesU, Inits: slices.Clone(DefaultInits), FirstStepEta: DefaultFirstStepEta}}
	c.SweepHeads(DefaultHeads...)
	// The data's dependence: zeta = 1/8, 1/4, 1/2.
	c.SweepAxis(runner.Axis{Key: "data.zeta", Values: []json.RawMessage{json.RawMessage("0.125"), json.RawMessage("0.25"), json.RawMessage("0.5")}})
	// seed sets the data and init seeds together.
	seeds := make([]int, DefaultSeeds)
	for i := range seeds {
		seeds[i] = i + 1
	}
	c.SweepAxis(gdpoint.SeedsAxis(seeds...))
	return c
}

// Validate checks the GD point's fields and the margin's settings; the
// model must be the paper's (kind "paper"), for which the ideal features
// are defined.
func (c *Config) Validate() error {
	errs := runner.Unjoin(c.Config.Validate())
	for i, e := range errs {
		var fe *runner.FieldError
		if errors.As(e, &fe) && fe.Field == "init.scheme" {
			errs[i] = &runner.FieldError{Field: "init.scheme", Value: c.Init.Scheme,
				Want: fmt.Sprintf("%q or %q (not used by margin: list its initializations in margin.inits)", layers.InitRandom, layers.InitZeroW)}
		}
	}
	bad := func(field string, value any, want string) {
		errs = append(errs, &runner.FieldError{Field: field, Value: value, Want: want})
	}
	if k := c.Layer().KindName(); k != layers.KindPaper {
		bad("model.kind", c.Model.Kind, fmt.Sprintf("%q: the margin's U features and ideal attention are defined for the paper's model", layers.KindPaper))
	}
	if !slices.Contains(Features, c.Margin.Features) {
		bad("margin.features", c.Margin.Features, fmt.Sprintf("%q (grad_U Phi, the attention's features) or %q (every parameter)", FeaturesU, FeaturesUW))
	}
	if len(c.Margin.Inits) == 0 {
		bad("margin.inits", c.Margin.Inits, "a non-empty list of "+quoted(Inits))
	}
	for i, name := range c.Margin.Inits {
		field := fmt.Sprintf("margin.inits[%d]", i)
		switch {
		case !slices.Contains(Inits, name):
			bad(field, name, "one of "+quoted(Inits))
		case slices.Index(c.Margin.Inits, name) < i:
			bad(field, name, "each initialization once ("+strconv.Quote(name)+" is listed twice)")
		}
	}
	if !(c.Margin.FirstStepEta > 0 && !math.IsInf(c.Margin.FirstStepEta, 0)) {
		bad("margin.first_step_eta", c.Margin.FirstStepEta, "a finite value > 0")
	}
	return errors.Join(errs...)
}

// Columns of the margin's metrics: one row per point and initialization.
// features and P are the feature blocks and their number, n the training
// sequences and dimension_count n <= P (separability then follows from
// counting dimensions); gamma is the NTK margin with its certified bracket
// [gamma_lower, gamma_upper] and status (theory.MarginStatus as one
// word); mean_norm = mean_i ||psi_i||; normalized = gamma / mean_norm
// with its bracket; relevant_attention the attention mass on relevant
// tokens (train set); loss F at the initialization (empty for ideal).
var Columns = []string{"init", "features", "n", "P", "dimension_count", "status", "gamma", "gamma_lower", "gamma_upper",
	"mean_norm", "normalized", "normalized_lower", "normalized_upper", "relevant_attention", "loss"}

// Point is the record of a margin point.
type Point struct {
	Status   string        `json:"status"`
	Heads    int           `json:"heads"`
	Zeta     runner.Number `json:"zeta"`
	DataSeed uint64        `json:"data_seed"`
	// InitSeed is the seed the initializations were drawn with.
	InitSeed uint64 `json:"init_seed"`
	// Features are the NTK feature blocks ("U" or "UW"); N the training
	// sequences; P the number of features; DimensionCount N <= P.
	Features       string `json:"features"`
	N              int    `json:"n"`
	P              int    `json:"P"`
	DimensionCount bool   `json:"dimension_count"`
	// FirstStepEta is the step size of the step initializations.
	FirstStepEta runner.Number `json:"first_step_eta"`
	// Inits are the initializations' margins in margin.inits order.
	Inits       []InitMargin  `json:"inits"`
	WallSeconds runner.Number `json:"wall_seconds"`
}

// Init returns the margin of initialization name, and whether the point
// measured it.
func (p Point) Init(name string) (InitMargin, bool) {
	for _, m := range p.Inits {
		if m.Init == name {
			return m, true
		}
	}
	return InitMargin{}, false
}

// Experiment is the margin experiment for the runner.
var Experiment = runner.Experiment{
	Name:     Name,
	Doc:      "Measures NTK separability and the normalized NTK margin of several initializations (random, uniform attention, first steps that isolate the attention) beside the ideal attention's, on the same features, against H and the data.",
	Defaults: func() runner.Config { c := DefaultConfig(); return &c },
	Columns:  Columns,
	Point:    point,
	Units:    func(c runner.Config) int { return len(c.(*Config).Margin.Inits) },
	Cost:     func(c runner.Config) float64 { return float64(gdpoint.Of(c).Heads) + 1 },
	Table:    Table,
	Plots:    Plots,
	Flags:    gdpoint.Flags[:1],
	Memory:   gdpoint.MemoryNTK,
}

// Run runs the experiment quietly and writes its result directory.
func Run(cfg Config, opt runner.Options) (*runner.Result, error) {
	return runner.Run(Experiment, &cfg, opt)
}

func point(ctx context.Context, w *runner.Work) (runner.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return runner.Outcome{}, err
	}
	c := w.Config.(*Config)
	train, _, _, err := gdpoint.Data(w, c.Data)
	if err != nil {
		return runner.Outcome{}, err
	}
	lc := c.Layer()
	m, err := Measure(ctx, lc, c.Init, c.Margin.Features, c.Margin.Inits, c.Margin.FirstStepEta, train, c.GraphOptions(), w.Step)
	if err != nil {
		return runner.Outcome{}, err
	}
	if err := ctx.Err(); err != nil {
		return runner.Outcome{}, err
	}
	res := &Point{Status: runner.StatusOK, Heads: lc.Heads, Zeta: runner.Number(c.Data.Zeta), DataSeed: c.Data.Seed, InitSeed: c.Init.Seed,
		Features: c.Margin.Features, N: m.N, P: m.P, DimensionCount: m.DimensionCount, FirstStepEta: runner.Number(c.Margin.FirstStepEta),
		Inits: m.Inits, WallSeconds: runner.Number(w.Elapsed().Seconds())}
	var rows []string
	for _, r := range m.Inits {
		rows = append(rows, runner.CSVLine(r.Init, res.Features, res.N, res.P, res.DimensionCount, statusWord(r.NTK.Status),
			r.NTK.Gamma, r.NTK.Lower, r.NTK.Upper, r.MeanNorm, r.Normalized, r.NormalizedLower, r.NormalizedUpper, r.RelevantAttention, r.Loss))
	}
	return runner.Outcome{Status: runner.StatusOK, Rows: rows, Record: res}, nil
}

// Points decodes the records of a margin result (every point; unfinished
// ones have only a status).
func Points(res *runner.Result) ([]Point, error) {
	out := make([]Point, len(res.Records))
	for i, r := range res.Records {
		if err := r.Decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
