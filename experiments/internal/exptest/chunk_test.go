package exptest_test

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/convexity/convexity"
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/generalization/generalization"
	"github.com/mhattn/mha/experiments/internal/exptest"
	"github.com/mhattn/mha/experiments/margin/margin"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/experiments/stepsize/stepsize"
)

// TestChunkSamplesEveryExperiment: every GD experiment builds its graphs
// with chunk_samples. With chunks of 5 samples (n = n_test = 32: six
// chunks and a tail of 2) each one's metrics.csv differs from the one
// chunk run's in some last bits (the setting reached the graphs) and
// agrees with it to a relative tol: 1e-12 where the numbers are losses and
// errors; where they come from Hessian-vector products (central
// differences of gradients with h ~ 6e-6, which turn the gradient's
// last-bit changes into relative 1e-11) or Lanczos on them, 1e-7 (and
// Lanczos residual norms, rounding noise of 1e-10, to 1e-8 absolute).
func TestChunkSamplesEveryExperiment(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    runner.Experiment
		cfg  func(out string) runner.Config
		tol  float64
	}{
		{"generalization", generalization.Experiment, func(out string) runner.Config {
			c := generalization.DefaultConfig()
			exptest.Tiny(&c, out)
			c.Sweep, c.Heads = nil, 2
			return &c
		}, 1e-12},
		{"margin", margin.Experiment, func(out string) runner.Config {
			c := margin.DefaultConfig()
			exptest.Tiny(&c.Config, out)
			c.Sweep, c.Heads = nil, 2
			c.Margin.Inits, c.Margin.FirstStepEta = []string{margin.InitFirstStep, "step-U-W"}, 10
			return &c
		}, 1e-9}, // the margin solver's certified bounds amplify 1e-16 changes of the features (measured 2e-12)
		{"stepsize", stepsize.Experiment, func(out string) runner.Config {
			c := stepsize.DefaultConfig()
			exptest.Tiny(&c.Config, out)
			c.Sweep, c.Heads = nil, 2
			c.StepSearch.Tolerance = 0.1
			return &c
		}, 1e-7},
		{"convexity", convexity.Experiment, func(out string) runner.Config {
			c := convexity.DefaultConfig()
			exptest.Tiny(&c.Config, out)
			c.Sweep, c.Heads = nil, 2
			c.Convexity.Samples, c.Convexity.Lanczos = 4, 12
			c.Spectrum = convexity.SpectrumSettings{K: 2, Starts: 3, Iterations: 8, Probes: 3, Sigma: 0.02, NegTol: 1e-3}
			return &c
		}, 1e-7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			run := func(name string, chunk int) []string {
				c := tc.cfg(filepath.Join(dir, name))
				if chunk > 0 {
					gdpoint.Of(c).ChunkSamples = chunk
				}
				if _, err := runner.Run(tc.e, c, runner.Options{}); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				b, err := os.ReadFile(filepath.Join(dir, name, "metrics.csv"))
				if err != nil {
					t.Fatal(err)
				}
				return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			}
			whole, chunked := run("whole", 0), run("chunk5", 5)
			if len(whole) != len(chunked) || len(whole) < 2 {
				t.Fatalf("%d lines in chunks of 5, %d in one chunk", len(chunked), len(whole))
			}
			head := strings.Split(whole[0], ",")
			same, worst := true, 0.0
			for i := 1; i < len(whole); i++ {
				a, b := strings.Split(whole[i], ","), strings.Split(chunked[i], ",")
				if len(a) != len(b) {
					t.Fatalf("line %d: %q vs %q", i+1, chunked[i], whole[i])
				}
				for j := range a {
					if a[j] != b[j] {
						same = false
					}
					if strings.Contains(head[j], "seconds") {
						continue
					}
					x, errx := strconv.ParseFloat(a[j], 64)
					y, erry := strconv.ParseFloat(b[j], 64)
					if errx != nil || erry != nil {
						if a[j] != b[j] {
							t.Errorf("line %d %s: %q, want %q", i+1, head[j], b[j], a[j])
						}
						continue
					}
					rel := 0.0
					if x != y {
						rel = math.Abs(x-y) / math.Max(math.Abs(x), math.Abs(y))
					}
					if strings.HasSuffix(head[j], "_resid") {
						// Lanczos residual norms are rounding noise
						// (1e-10): only their absolute size is meaningful.
						if !(math.Abs(x-y) <= 1e-8) {
							t.Errorf("line %d %s: %v in chunks of 5, %v in one", i+1, head[j], y, x)
						}
						continue
					}
					worst = max(worst, rel)
					if !(rel <= tc.tol) {
						t.Errorf("line %d %s: %v in chunks of 5, %v in one (relative %.3g > %g)", i+1, head[j], y, x, rel, tc.tol)
					}
				}
			}
			if same {
				t.Error("metrics.csv in chunks of 5 is the one chunk run's to the bit: were the chunks used?")
			}
			t.Logf("largest relative difference %.3g (tolerance %g)", worst, tc.tol)
		})
	}
}
