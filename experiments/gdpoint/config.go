package gdpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// Config is the config of a GD point, shared by the experiments that
// train the model: the runner's settings, the data, the model, the
// initialization, the number of heads and GD's settings. An experiment
// embeds it in its own config to add settings; every field can be set
// and swept by its dotted JSON key (heads, data.zeta, init.seed, ...).
type Config struct {
	runner.Settings
	// Data is the tokenized mixture (datasets.MixtureConfig). Default
	// DefaultData: d = 8, T = 8, n = 512, n_test = 1024, zeta = 1/8,
	// S = Z = 1, M = 4, sigma = 0.1, decoy = 0.5, seed 1.
	Data datasets.MixtureConfig `json:"data"`
	// Model fixes the architecture but the number of heads.
	Model ModelConfig `json:"model"`
	// Init is the initialization (layers.Init): scheme "random" (default)
	// or "zero-W", u_norm and w_norm (default 1, finite and >= 0) and
	// seed (default 1). Every head count uses the same seed, so the first
	// h heads of a larger model are the heads of the model with h heads.
	Init layers.Init `json:"init"`
	// Seed, when not 0, is both the data's and the initialization's seed
	// (it replaces data.seed and init.seed): sweep it for repetitions
	// (-sweep seed=1,2,3,4,5), which tables and plots aggregate over.
	// Default 0 (data.seed and init.seed as they are).
	Seed uint64 `json:"seed"`
	// Heads is the number of heads H. Default 1; in [1, 4096]. Sweep it
	// (-heads 1,2,4 or -sweep heads=1,2,4) for several.
	Heads int `json:"heads"`
	// Steps is the number K of GD steps. Default 300; in [1, 100000000].
	Steps int `json:"steps"`
	// LogEvery is the interval in steps between metric rows; the last
	// step is always logged. 0 selects max(1, Steps/50). In [0, Steps].
	LogEvery int `json:"log_every"`
	// Eta is the fixed GD step size of step.rule "fixed". Default 1
	// (DefaultEta); 0 leaves eta to the rule. 0 or finite > 0; > 0 only with rule "fixed"
	// or "" (which it then selects).
	Eta float64 `json:"eta"`
	// Step is the step-size rule (theory.StepRule).
	Step StepConfig `json:"step"`
	// MaxLoss is the divergence threshold: GD stops as "diverged" when
	// the training loss is NaN, infinite or above it. 0 (default) selects
	// graph.DefaultMaxLoss = 1000. 0 or finite > 0.
	MaxLoss float64 `json:"max_loss"`
	// CertEps is the target loss eps of the realizability certificate
	// (theory.Realize). Default 0.05; in (0, 1).
	CertEps float64 `json:"cert_eps"`
	// ChunkSamples is B, the most samples one run of a compiled graph
	// holds (graph.Options.ChunkSamples): the training and test sets are
	// worked through in chunks of B samples, so the graph's buffers grow
	// with min(n, B), not with n. Default graph.DefaultChunkSamples =
	// 1024; an integer >= 1, whose one chunk must fit max_memory.
	// Resolve lowers it to max(data.train, data.test): any B at least
	// that runs every set as one chunk, computing the same bits as the
	// default there (and giving the point the same identity). With B < n
	// the mean loss and gradient are summed chunk by chunk, so results
	// differ from one chunk's in the last bits.
	ChunkSamples int `json:"chunk_samples"`
}

// StepConfig chooses how a point's constant step size eta is derived.
type StepConfig struct {
	// Rule is "theory" (theory.StepSizeFor: 1/L over the ball GD provably
	// stays in, the paper's model only), "curvature" (eta = c /
	// lambda_max(Hess F(theta_0)), Lanczos; any model) or "fixed" (the
	// config's eta, > 0). "" (default) selects "fixed" when eta > 0, else
	// "theory" (Config.StepRule).
	Rule string `json:"rule"`
	// C is the factor c of the curvature rule. Default 1; finite > 0 (on
	// a quadratic, c < 2 is stable).
	C float64 `json:"c"`
}

// DefaultStepC is the default factor c of the curvature rule.
const DefaultStepC = 1

// ModelConfig is the architecture (layers.Config) without heads, tokens
// and dim, which come from the config's heads and data.
type ModelConfig struct {
	// Kind is the model kind (layers.Kinds): "paper" (default), "kq",
	// "relu", "value", or one a program registered.
	Kind string `json:"kind"`
	// Query is "all-token" (default) or "first-token".
	Query string `json:"query"`
	// Scale is "inv-sqrt" for scale(H) = 1/sqrt(H) (default) or "inv" for 1/H.
	Scale string `json:"scale"`
	// Train names the trainable blocks: "UW" (default), "U" or "W".
	Train string `json:"train"`
	// Engine is "auto" (default), "composed" or "fused" (layers.Config).
	Engine string `json:"engine"`
	// Rank is r of the "kq" model; 0 selects d. In [0, d].
	Rank int `json:"rank"`
}

// Defaults not in the packages Config draws on.
const (
	// DefaultSteps is K: 300 steps at eta = 1 bring the one-head model's
	// training error near 0 on the default data (docs/defaults.md, Section 3).
	DefaultSteps   = 300
	DefaultCertEps = 0.05
	// DefaultEta is the default fixed step size (step.rule "fixed").
	// On the default data lambda_max(Hess F(theta_0)) is 0.70 for every H,
	// so eta = 1 is the curvature rule with c = 0.70; the theory step size
	// (0.004-0.006 at K = 300) moves the parameters too little in K steps
	// for H to change anything (docs/defaults.md, Section 3). Runs with
	// the theory or curvature rule set eta to 0.
	DefaultEta = 1
	// Rows per point aimed at when LogEvery is 0.
	defaultRows = 50
	MaxHeads    = 4096
)

// DefaultHeads are the head counts of the default head sweep.
var DefaultHeads = []int{1, 2, 4, 8, 16, 32, 64}

// DefaultSeeds are the repetitions (seed axis) of the default sweeps:
// five, for 95% intervals.
var DefaultSeeds = []int{1, 2, 3, 4, 5}

// DefaultData is the experiments' default data: the tokenized mixture
// with d = 8, T = 8, n = 512, n_test = 1024, zeta = 1/8 (one relevant
// token), orthogonal signal means and decoy signals of weight 0.5 on the
// noise tokens. It is chosen, from measurements recorded in
// docs/defaults.md, so that the paper's claims are testable: a logistic
// classifier on the mean token (what uniform attention sees) leaves
// 0.24 test error, so attention must find the relevant token, and n is
// well above the number of NTK features of the small models.
// datasets.DefaultMixture (without decoys) is the paper's model.
func DefaultData() datasets.MixtureConfig {
	data := datasets.DefaultMixture()
	data.Dim, data.Tokens, data.Train, data.Test = 8, 8, 512, 1024
	data.Zeta, data.Decoy = 0.125, 0.5
	return data
}

// DefaultConfig is one point: H = 1 on DefaultData, K = 300 steps of
// fixed eta = 1, results in out.
func DefaultConfig(out string) Config {
	return Config{
		Settings: runner.DefaultSettings(out),
		Data:     DefaultData(),
		Model:    ModelConfig{Kind: "paper", Query: layers.AllToken, Scale: layers.InvSqrtHeads, Train: layers.TrainUW, Engine: layers.EngineAuto},
		Init:     layers.DefaultInit(),
		Heads:    1,
		Steps:    DefaultSteps,
		Eta:      DefaultEta,
		Step:     StepConfig{C: DefaultStepC},
		CertEps:  DefaultCertEps,

		ChunkSamples: graph.DefaultChunkSamples,
	}
}

// SeedsAxis is the sweep axis "seed" over ss (Config.Seed).
func SeedsAxis(ss ...int) runner.Axis {
	a := runner.Axis{Key: "seed"}
	for _, s := range ss {
		a.Values = append(a.Values, json.RawMessage(strconv.Itoa(s)))
	}
	return a
}

// HeadsAxis is the sweep axis of the head counts hs.
func HeadsAxis(hs ...int) runner.Axis {
	a := runner.Axis{Key: "heads"}
	for _, h := range hs {
		a.Values = append(a.Values, json.RawMessage(strconv.Itoa(h)))
	}
	return a
}

// SweepHeads sweeps the head counts hs (replacing a heads axis, or adding
// one at the end).
func (c *Config) SweepHeads(hs ...int) { c.SweepAxis(HeadsAxis(hs...)) }

// SweepAxis sets an axis of the sweep: it replaces the axis of its key or
// is added at the end.
func (c *Config) SweepAxis(a runner.Axis) {
	for i, x := range c.Sweep {
		if x.Key == a.Key {
			c.Sweep[i] = a
			return
		}
	}
	c.Sweep = append(c.Sweep, a)
}

// Validate reports every field out of range, each as a *runner.FieldError
// naming the field, its value and the allowed range.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field string, value any, want string) {
		errs = append(errs, &runner.FieldError{Field: field, Value: value, Want: want})
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	if err := c.Data.Validate(); err != nil {
		// MixtureConfig names fields by their JSON names: prefix the path.
		for _, e := range runner.Unjoin(err) {
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
	lc := c.Layer()
	lc.Heads = max(lc.Heads, 1)
	if err := lc.Validate(); err != nil {
		// layers names kind, engine and rank by their JSON names (the
		// fields checked above are valid or reported already).
		for _, e := range runner.Unjoin(err) {
			for _, k := range []string{"kind", "engine", "rank"} {
				if strings.HasPrefix(e.Error(), k+" =") {
					errs = append(errs, errors.New("model."+e.Error()))
				}
			}
		}
	} else if _, err := layers.New(lc); err != nil {
		errs = append(errs, fmt.Errorf("model: %v", err))
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
	if c.Heads < 1 || c.Heads > MaxHeads {
		bad("heads", c.Heads, fmt.Sprintf("an integer in [1, %d]", MaxHeads))
	}
	if c.Steps < 1 || c.Steps > runner.MaxSteps {
		bad("steps", c.Steps, fmt.Sprintf("an integer in [1, %d]", runner.MaxSteps))
	}
	if c.LogEvery < 0 || (c.Steps >= 1 && c.LogEvery > c.Steps) {
		bad("log_every", c.LogEvery, fmt.Sprintf("an integer in [0, steps = %d] (0: about %d rows)", c.Steps, defaultRows))
	}
	if !(c.Eta >= 0 && finite(c.Eta)) {
		bad("eta", c.Eta, "0 (the step rule derives eta) or a finite value > 0")
	}
	errs = append(errs, c.validateStep()...)
	errs = append(errs, c.validateSeed()...)
	if !(c.MaxLoss >= 0 && finite(c.MaxLoss)) {
		bad("max_loss", c.MaxLoss, fmt.Sprintf("0 (selects %g) or a finite value > 0", float64(graph.DefaultMaxLoss)))
	}
	if !(c.CertEps > 0 && c.CertEps < 1) {
		bad("cert_eps", c.CertEps, "a value in (0, 1)")
	}
	errs = append(errs, c.validateChunk()...)
	return errors.Join(errs...)
}

// StepRule is the point's step-size rule: Step.Rule, or for "" "fixed"
// when eta > 0 and "theory" otherwise.
func (c *Config) StepRule() theory.StepRule {
	switch {
	case c.Step.Rule != "":
		return theory.StepRule(c.Step.Rule)
	case c.Eta > 0:
		return theory.RuleFixed
	}
	return theory.RuleTheory
}

// validateStep checks step.rule and step.c against the model and eta.
// validateSeed refuses a seed that would silently replace a data or init
// seed set or swept beside it.
func (c *Config) validateSeed() []error {
	var errs []error
	swept := func(key string) bool { return slices.Contains(c.Sweep.Keys(), key) }
	if c.Seed == 0 && !swept("seed") {
		return nil
	}
	for _, k := range []struct {
		key  string
		seed uint64
	}{{"data.seed", c.Data.Seed}, {"init.seed", c.Init.Seed}} {
		if swept(k.key) || (k.seed != 1 && k.seed != c.Seed) {
			errs = append(errs, &runner.FieldError{Field: k.key, Value: k.seed,
				Want: fmt.Sprintf("the value of seed (seed = %d, or swept, replaces data.seed and init.seed): set or sweep one of them; -set seed=0 keeps %s", c.Seed, k.key)})
		}
	}
	return errs
}

func (c *Config) validateStep() []error {
	var errs []error
	bad := func(field string, value any, want string) {
		errs = append(errs, &runner.FieldError{Field: field, Value: value, Want: want})
	}
	if !(c.Step.C > 0) || math.IsInf(c.Step.C, 0) {
		bad("step.c", c.Step.C, "a finite value > 0 (eta = c / lambda_max for step.rule \"curvature\")")
	}
	if c.Step.Rule != "" {
		if _, err := theory.ParseStepRule(c.Step.Rule); err != nil {
			bad("step.rule", c.Step.Rule, fmt.Sprintf("%q (default: %q, or %q when eta > 0), %q, %q or %q", "", theory.RuleTheory, theory.RuleFixed,
				theory.RuleTheory, theory.RuleCurvature, theory.RuleFixed))
			return errs
		}
	}
	switch rule := c.StepRule(); rule {
	case theory.RuleTheory:
		if !c.IsPaper() {
			if c.Step.Rule == "" {
				bad("eta", c.Eta, fmt.Sprintf("a finite value > 0, or step.rule %q: the theory step size is not defined for model kind %q", theory.RuleCurvature, c.Model.Kind))
			} else {
				bad("step.rule", c.Step.Rule, fmt.Sprintf("%q or %q: the theory step size is not defined for model kind %q", theory.RuleCurvature, theory.RuleFixed, c.Model.Kind))
			}
		} else if c.Model.Train == layers.TrainW && c.Init.UNorm == 0 {
			bad("step.rule", string(rule), fmt.Sprintf("%q or %q: with only W trainable and init.u_norm = 0 the model's output is 0, its smoothness bound 0 and the theory step size not defined", theory.RuleCurvature, theory.RuleFixed))
		}
		if c.Eta != 0 {
			bad("eta", c.Eta, fmt.Sprintf("0 with step.rule %q (eta > 0 is the %q rule's; the default is eta = %v: add -set eta=0)", rule, theory.RuleFixed, float64(DefaultEta)))
		}
	case theory.RuleCurvature:
		if c.Eta != 0 {
			bad("eta", c.Eta, fmt.Sprintf("0 with step.rule %q (eta > 0 is the %q rule's; the default is eta = %v: add -set eta=0)", rule, theory.RuleFixed, float64(DefaultEta)))
		}
	case theory.RuleFixed:
		if !(c.Eta > 0) {
			bad("eta", c.Eta, fmt.Sprintf("a finite value > 0 with step.rule %q", rule))
		}
	}
	return errs
}

// validateChunk checks chunk_samples: >= 1, and one chunk's graph
// buffers (ChunkMemory) within max_memory.
func (c *Config) validateChunk() []error {
	if c.ChunkSamples < 1 {
		return []error{&runner.FieldError{Field: "chunk_samples", Value: c.ChunkSamples,
			Want: fmt.Sprintf("an integer >= 1 (samples per run of the graph; default %d)", graph.DefaultChunkSamples)}}
	}
	limit, err := runner.ParseBytes(c.MaxMemory)
	if c.MaxMemory == "" || err != nil { // a bad max_memory is the runner's to report
		return nil
	}
	need, b := c.ChunkMemory()
	if need <= limit {
		return nil
	}
	from := fmt.Sprintf("data.tokens = %d, data.dim = %d, heads = %d", c.Data.Tokens, c.Data.Dim, c.Heads)
	fits := int(limit / c.chunkBytes(1))
	want := fmt.Sprintf("an integer in [1, %d], whose chunk fits max_memory = %s: one chunk of %d samples needs about %s of graph buffers (%s)",
		fits, c.MaxMemory, b, runner.FormatBytes(need), from)
	if fits < 1 {
		want = fmt.Sprintf("a chunk that fits max_memory = %s, but one sample needs about %s of graph buffers (%s): raise max_memory or lower those fields",
			c.MaxMemory, runner.FormatBytes(c.chunkBytes(1)), from)
	}
	return []error{&runner.FieldError{Field: "chunk_samples", Value: c.ChunkSamples, Want: want}}
}

// Resolve replaces log_every 0 and max_loss 0 by what they select, the
// data and init seeds by seed (when not 0), and lowers chunk_samples to max(data.train, data.test) (the same
// computation: every set is one chunk either way).
func (c *Config) Resolve() {
	if c.Seed != 0 {
		c.Data.Seed, c.Init.Seed = c.Seed, c.Seed
	}
	if c.LogEvery == 0 {
		c.LogEvery = max(1, c.Steps/defaultRows)
	}
	if c.MaxLoss == 0 {
		c.MaxLoss = graph.DefaultMaxLoss
	}
	if n := max(c.Data.Train, c.Data.Test); n >= 1 && c.ChunkSamples > n {
		c.ChunkSamples = n
	}
}

// GraphOptions are the options of the point's graphs (graph.NewModelOptions,
// graph.NewEvaluatorOptions).
func (c *Config) GraphOptions() graph.Options {
	return graph.Options{ChunkSamples: c.ChunkSamples}
}

// Layer is the architecture of the point.
func (c *Config) Layer() layers.Config {
	return layers.Config{Heads: c.Heads, Tokens: c.Data.Tokens, Dim: c.Data.Dim,
		Query: c.Model.Query, Scale: c.Model.Scale, Train: c.Model.Train, Kind: c.Model.Kind, Engine: c.Model.Engine, Rank: c.Model.Rank}
}

// IsPaper reports whether the model is the paper's, the one the theory's
// constants, step size, certificate and bounds are derived for.
func (c *Config) IsPaper() bool { return c.Layer().KindName() == "paper" }

// NewModel is the model of the point (layers.New).
func (c *Config) NewModel() (layers.Model, error) { return layers.New(c.Layer()) }

// Flags are the command-line shorthands of a GD point's config.
var Flags = []runner.Flag{
	{Name: "heads", Key: "heads", Usage: "comma-separated head counts H", Sweep: true},
	{Name: "steps", Key: "steps", Usage: "GD steps K per point"},
	{Name: "eta", Key: "eta", Usage: "fixed step size (step.rule fixed); 0 leaves eta to step.rule (default 1; -eta 0 with step.rule theory or curvature)"},
	{Name: "log-every", Key: "log_every", Usage: "steps between metric rows; 0 gives about 50 rows"},
}

// GD is the Config of a point of any experiment built on it: an
// experiment's config embeds Config, so its pointer has this method.
func (c *Config) GD() *Config { return c }

// Of returns the GD part of a point's config.
func Of(c runner.Config) *Config {
	g, ok := c.(interface{ GD() *Config })
	if !ok {
		panic(fmt.Sprintf("gdpoint: %T does not embed gdpoint.Config", c))
	}
	return g.GD()
}

// Steps is the number of GD steps of a point (runner.Experiment.Units).
func Steps(c runner.Config) int { return Of(c).Steps }

// Cost is a point's relative cost: a GD step costs about linearly in H
// and in n + n_test / log_every (runner.Experiment.Cost).
func Cost(c runner.Config) float64 {
	g := Of(c)
	return float64(g.Heads) * float64(g.Data.Train+g.Data.Test/max(g.LogEvery, 1)) / 256
}
