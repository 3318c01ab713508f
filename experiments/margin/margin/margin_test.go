package margin

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/internal/exptest"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

func raw(vs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		out[i] = json.RawMessage(v)
	}
	return out
}

// tiny is the default config shrunk to n = 32, T = 4, d = 6 with one
// relevant token per sequence, for data seeds 1 and 2.
func tiny(t *testing.T) Config {
	cfg := DefaultConfig()
	exptest.Tiny(&cfg.Config, filepath.Join(t.TempDir(), "run"))
	cfg.Data.Zeta = 0.25
	cfg.Margin.FirstStepEta = 100
	cfg.Sweep = nil
	cfg.SweepAxis(gdpoint.SeedsAxis(1, 2))
	return cfg
}

func TestEndToEnd(t *testing.T) {
	cfg := tiny(t)
	cfg.SweepHeads(1, 2)
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * 2; len(res.Records) != want {
		t.Fatalf("%d points, want %d", len(res.Records), want)
	}
	exptest.CheckRun(t, Experiment, res, []string{"normalized_margin_vs_heads"})
	pts, err := Points(res)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pts {
		label := res.Records[i].Label
		if len(res.Records[i].Rows) != len(DefaultInits) {
			t.Errorf("%s: %d rows, want one per initialization", label, len(res.Records[i].Rows))
		}
		if want := p.Heads * cfg.Data.Dim; p.P != want || p.N != cfg.Data.Train || p.DimensionCount {
			t.Errorf("%s: n = %d, P = %d (dimension count %v), want n = %d, P = H d = %d", label, p.N, p.P, p.DimensionCount, cfg.Data.Train, want)
		}
		if p.InitSeed != p.DataSeed {
			t.Errorf("%s: init seed %d, want the data seed %d (seed sets both)", label, p.InitSeed, p.DataSeed)
		}
		var names []string
		for _, m := range p.Inits {
			names = append(names, m.Init)
			g, mean := float64(m.NTK.Gamma), float64(m.MeanNorm)
			if !(g >= 0) || m.NTK.Lower > m.NTK.Upper*(1+1e-12) || !(mean > 0) {
				t.Errorf("%s %s: gamma %v in [%v, %v], mean norm %v", label, m.Init, g, m.NTK.Lower, m.NTK.Upper, mean)
			}
			// gamma <= min_i ||psi_i|| <= mean_i ||psi_i||, and the solver
			// starts from the vertex of smallest norm.
			if m.NormalizedUpper > 1+1e-12 {
				t.Errorf("%s %s: normalized upper bound %v above 1", label, m.Init, m.NormalizedUpper)
			}
			if math.Abs(float64(m.Normalized)-g/mean) > 1e-12*(1+g/mean) || m.NormalizedLower > m.Normalized || m.Normalized > m.NormalizedUpper {
				t.Errorf("%s %s: normalized %v in [%v, %v], want gamma / mean norm = %v", label, m.Init, m.Normalized, m.NormalizedLower, m.NormalizedUpper, g/mean)
			}
		}
		if !slices.Equal(names, DefaultInits) {
			t.Errorf("%s: initializations %v, want %v", label, names, DefaultInits)
		}
		uniform := float64(cfg.Data.Relevant()) / float64(cfg.Data.Tokens)
		if z, _ := p.Init(InitZeroW); math.Abs(float64(z.RelevantAttention)-uniform) > 1e-12 {
			t.Errorf("%s: zero-W attention on relevant tokens %v, want uniform %v", label, z.RelevantAttention, uniform)
		}
		ideal, _ := p.Init(InitIdeal)
		if ideal.RelevantAttention != 1 || !math.IsNaN(float64(ideal.Loss)) || ideal.NTK.Status != "certified" {
			t.Errorf("%s: ideal attention %v, loss %v, status %q", label, ideal.RelevantAttention, ideal.Loss, ideal.NTK.Status)
		}
		// Measured, not a theorem: on U features of this data (n > P) no
		// initialization's certified normalized margin exceeds the ideal
		// attention's certified upper bound.
		for _, m := range p.Inits {
			if m.NormalizedLower > ideal.NormalizedUpper {
				t.Errorf("%s %s: normalized margin >= %v above the ideal's <= %v", label, m.Init, m.NormalizedLower, ideal.NormalizedUpper)
			}
		}
	}
	var b bytes.Buffer
	if err := Table(runner.WithTableWidth(&b, 80), res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"mean and 95% interval over 2 seeds (seed)", "gamma/|psi|", "step-U-W", "32/6", "32/12", "Features U"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 80 {
			t.Errorf("table line wider than 80 columns: %q", l)
		}
	}
	if strings.Contains(out, "dimension count") {
		t.Errorf("table flags a dimension count at n > P:\n%s", out)
	}
	if !strings.Contains(out, "initialization seed = data.seed") {
		t.Errorf("table does not say the initializations follow the data seed:\n%s", out)
	}
	claims, err := Claims(res)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(claims, "\n")
	for _, want := range []string{"n > P at every point", "step-U-W: separable", "heads = 2: ", "of the ideal attention's normalized margin"} {
		if !strings.Contains(text, want) {
			t.Errorf("claims lack %q:\n%s", want, text)
		}
	}
}

// TestDimensionCount: on UW features with n <= P the table says that
// separability is a dimension count.
func TestDimensionCount(t *testing.T) {
	cfg := tiny(t)
	cfg.Margin.Features = FeaturesUW
	cfg.Margin.Inits = []string{InitZeroW, InitIdeal}
	cfg.Sweep = nil
	cfg.Heads, cfg.Seed = 1, 5
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pts, err := Points(res)
	if err != nil {
		t.Fatal(err)
	}
	if p := pts[0]; p.P != cfg.Data.Dim+cfg.Data.Dim*cfg.Data.Dim || !p.DimensionCount {
		t.Errorf("P = %d, dimension count %v; want P = d + d^2 = %d >= n = %d", p.P, p.DimensionCount, cfg.Data.Dim*(cfg.Data.Dim+1), p.N)
	}
	var b bytes.Buffer
	if err := Table(runner.WithTableWidth(&b, 80), res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "32/42!") || !strings.Contains(b.String(), "dimension count") {
		t.Errorf("table does not flag n <= P:\n%s", b.String())
	}
	if claims, err := Claims(res); err != nil || !strings.Contains(strings.Join(claims, " "), "n <= P at") {
		t.Errorf("claims %q (%v) do not flag n <= P", claims, err)
	}
	if pts[0].InitSeed != 5 || pts[0].DataSeed != 5 {
		t.Errorf("init seed %d, data seed %d, want seed = 5 for both", pts[0].InitSeed, pts[0].DataSeed)
	}
	// Without seed the initialization keeps init.seed.
	cfg.Seed = 0
	cfg.Data.Seed, cfg.Init.Seed = 3, 7
	cfg.Out = filepath.Join(t.TempDir(), "run2")
	if res, err = Run(cfg, runner.Options{}); err != nil {
		t.Fatal(err)
	}
	if pts, _ := Points(res); pts[0].InitSeed != 7 || pts[0].DataSeed != 3 {
		t.Errorf("seeds: init %d, data %d; want 7, 3", pts[0].InitSeed, pts[0].DataSeed)
	}
}

// TestZetaAxis: the margins against zeta at fixed H, as a sweep.
func TestZetaAxis(t *testing.T) {
	cfg := tiny(t)
	cfg.Sweep = nil
	cfg.SweepAxis(runner.Axis{Key: "data.zeta", Values: raw("0.25", "0.5", "1")})
	cfg.Heads = 2
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exptest.CheckRun(t, Experiment, res, []string{"normalized_margin_vs_zeta"})
	pts, _ := Points(res)
	for i, p := range pts {
		if z, _ := res.Records[i].Value("data.zeta"); float64(p.Zeta) != z.Float() || p.Heads != 2 {
			t.Errorf("point %d: zeta %v (swept %s), H %d", i, p.Zeta, z.Text(), p.Heads)
		}
	}
}

func tinyData(t *testing.T) (layers.Config, layers.Init, *datasets.Dataset) {
	t.Helper()
	cfg := tiny(t)
	cfg.Heads = 3
	train, _, err := cfg.Data.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Layer(), cfg.Init, train
}

func start(t *testing.T, c layers.Config, in layers.Init, name string, data *datasets.Dataset, eta float64) *layers.Params {
	t.Helper()
	p, err := Start(c, in, name, data, eta, graph.Options{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func maxAbsDiff(a, b []float64) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

func maxAbs(a []float64) float64 { return maxAbsDiff(a, make([]float64, len(a))) }

// TestStepW: a W-only step from zero-W leaves U at U0 and sets W to
// -eta grad_W F(U0, 0), linear in eta; a joint step moves W alike.
func TestStepW(t *testing.T) {
	c, in, data := tinyData(t)
	zero := start(t, c, in, InitZeroW, data, 1)
	if maxAbs(zero.Get("W")) != 0 {
		t.Fatal("zero-W has W != 0")
	}
	w1 := start(t, c, in, InitStepW, data, 10)
	w2 := start(t, c, in, InitStepW, data, 20)
	if !slices.Equal(w1.Get("U"), zero.Get("U")) {
		t.Error("step-W changed U")
	}
	if maxAbs(w1.Get("W")) == 0 {
		t.Fatal("step-W left W = 0")
	}
	for i, v := range w1.Get("W") {
		if d := math.Abs(w2.Get("W")[i] - 2*v); d > 1e-12*(1+math.Abs(v)) {
			t.Fatalf("W[%d]: %v at eta 20, want twice %v at eta 10 (a step from W = 0 is linear in eta)", i, w2.Get("W")[i], v)
		}
	}
	c.Train = layers.TrainUW
	joint := start(t, c, in, InitFirstStep, data, 10)
	if d := maxAbsDiff(joint.Get("W"), w1.Get("W")); d > 1e-12*maxAbs(w1.Get("W")) {
		t.Errorf("a joint first step moves W by %v from the W-only step", d)
	}
	if slices.Equal(joint.Get("U"), zero.Get("U")) {
		t.Error("a joint first step left U unchanged")
	}
}

// TestStepUW: the U step from zero-W moves every head's U by the same
// amount (at W = 0 each head's gradient is scale(H) times the labelled
// mean tokens), and the W step that follows starts from W = 0 at U1, not
// at U0.
func TestStepUW(t *testing.T) {
	c, in, data := tinyData(t)
	zero := start(t, c, in, InitZeroW, data, 1)
	uw := start(t, c, in, InitStepUW, data, 10)
	stepW := start(t, c, in, InitStepW, data, 10)
	u0, u1 := zero.Get("U"), uw.Get("U")
	d := c.Dim
	du := make([]float64, len(u0))
	for i := range u0 {
		du[i] = u1[i] - u0[i]
	}
	if maxAbs(du) == 0 {
		t.Fatal("step-U-W left U unchanged")
	}
	for h := 1; h < c.Heads; h++ {
		if e := maxAbsDiff(du[h*d:(h+1)*d], du[:d]); e > 1e-12*maxAbs(du) {
			t.Errorf("head %d: U moved by %v, head 0 by %v", h, du[h*d:(h+1)*d], du[:d])
		}
	}
	if maxAbs(uw.Get("W")) == 0 || maxAbsDiff(uw.Get("W"), stepW.Get("W")) == 0 {
		t.Error("step-U-W's W is 0 or the step-W one: its W step did not act at U1")
	}
}

// TestValidate: every bad value of the margin's fields is an error naming
// the field; the command exits 2 and writes nothing.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"features", func(c *Config) { c.Margin.Features = "W" }, "margin.features"},
		{"features empty", func(c *Config) { c.Margin.Features = "" }, "margin.features"},
		{"no inits", func(c *Config) { c.Margin.Inits = nil }, "margin.inits"},
		{"unknown init", func(c *Config) { c.Margin.Inits = []string{InitZeroW, "step-X"} }, "margin.inits[1]"},
		{"duplicate init", func(c *Config) { c.Margin.Inits = []string{InitIdeal, InitZeroW, InitIdeal} }, "margin.inits[2]"},
		{"eta 0", func(c *Config) { c.Margin.FirstStepEta = 0 }, "margin.first_step_eta"},
		{"eta < 0", func(c *Config) { c.Margin.FirstStepEta = -1 }, "margin.first_step_eta"},
		{"eta NaN", func(c *Config) { c.Margin.FirstStepEta = math.NaN() }, "margin.first_step_eta"},
		{"eta Inf", func(c *Config) { c.Margin.FirstStepEta = math.Inf(1) }, "margin.first_step_eta"},
		{"kind", func(c *Config) { c.Model.Kind = "kq" }, "model.kind"},
		{"init scheme", func(c *Config) { c.Init.Scheme = InitStepW }, "init.scheme"},
	} {
		c := DefaultConfig()
		if err := c.Validate(); err != nil {
			t.Fatalf("defaults: %v", err)
		}
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field+" = ") {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.field)
		}
	}
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := runner.Main(Experiment, []string{"-out", out, "-quiet", "-set", "margin.features=X"}, &stdout, &stderr)
	if code != runner.ExitInput || !strings.Contains(stderr.String(), "margin.features") {
		t.Errorf("exit %d, stderr %q; want %d naming margin.features", code, stderr.String(), runner.ExitInput)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written for a bad config", out)
	}
}

// TestDefaults are docs/defaults.md's recommended margin configuration.
func TestDefaults(t *testing.T) {
	c := DefaultConfig()
	d := c.Data
	if d.Dim != 8 || d.Tokens != 8 || d.Train != 512 || d.Test != 1024 || d.Zeta != 0.125 || d.Decoy != 0.5 || d.Clusters != 4 || d.Sigma != 0.1 || d.Antipodal ||
		c.Model.Query != layers.FirstToken || c.Margin.Features != FeaturesU || c.Margin.FirstStepEta != 1000 || !slices.Equal(c.Margin.Inits, DefaultInits) {
		t.Errorf("defaults %+v, margin %+v", c.Config, c.Margin)
	}
	if got := c.Sweep.Keys(); !slices.Equal(got, []string{"heads", "data.zeta", "seed"}) || len(c.Sweep[0].Values) != 3 || len(c.Sweep[1].Values) != 3 || len(c.Sweep[2].Values) != 5 {
		t.Errorf("sweep %v", c.Sweep)
	}
}
