package experiments

import (
	"fmt"
	"math"
	"slices"

	"github.com/mhattn/mha/layers"
)

// Names of the experiments, as recorded in config.json and summary.json
// and used by DefaultConfigFor.
const (
	MarginName         = "margin"
	ConvexityName      = "convexity"
	GeneralizationName = "generalization"
	StepSizeName       = "stepsize"
	// InitFirstStep is the "first-step" initialization of the margin
	// experiment: zero-W, then one GD step (graph.FirstStep).
	InitFirstStep = "first-step"
	maxSeeds      = 1000
	maxSize       = 1_000_000
)

// DefaultConfigFor returns the default config of an experiment by name;
// unknown names (and "headsweep") get DefaultConfig.
func DefaultConfigFor(name string) Config {
	switch name {
	case MarginName:
		return DefaultMarginConfig()
	case ConvexityName:
		return DefaultConvexityConfig()
	case GeneralizationName:
		return DefaultGeneralizationConfig()
	case StepSizeName:
		return DefaultStepSizeConfig()
	}
	return DefaultConfig()
}

// DefaultMarginConfig: H = 1..64 and zeta in {0.125, 0.25, 0.5, 0.75} at
// H = 8, each for the three initializations and 3 seeds. No GD runs.
func DefaultMarginConfig() Config {
	c := DefaultConfig()
	c.Out = "results/" + MarginName
	c.Seeds = 3
	c.Margin = MarginSettings{Inits: []string{layers.InitRandom, layers.InitZeroW, InitFirstStep}, FirstStepEta: 100,
		Zetas: []float64{0.125, 0.25, 0.5, 0.75}, ZetaHeads: 8}
	return c
}

// DefaultConvexityConfig: the head sweep's GD paths (K = 2000, theory step
// sizes) with the curvature measured at 8 steps by 25 Lanczos iterations.
func DefaultConvexityConfig() Config {
	c := DefaultConfig()
	c.Out = "results/" + ConvexityName
	c.Convexity = ConvexitySettings{Samples: 8, Lanczos: 25}
	return c
}

// DefaultGeneralizationConfig: n in {16, ..., 512} (nested), H in {1, 8},
// 3 seeds, K = 2000 with theory step sizes, n_test = 512.
func DefaultGeneralizationConfig() Config {
	c := DefaultConfig()
	c.Out = "results/" + GeneralizationName
	c.Heads = []int{1, 8}
	c.Seeds = 3
	c.Sizes = []int{16, 32, 64, 128, 256, 512}
	c.Data.Train = 512 // the largest size: data/ holds the nested sets of seed data.seed
	return c
}

// DefaultStepSizeConfig: H = 1..64, K = 100 steps per trial, bisection to
// 2% up to 10^6 times the theory step size.
func DefaultStepSizeConfig() Config {
	c := DefaultConfig()
	c.Out = "results/" + StepSizeName
	c.Steps = 100
	c.StepSearch = StepSearchSettings{Tolerance: 0.02, MaxFactor: 1e6}
	return c
}

// validateSettings checks the experiment settings that are set.
func (c Config) validateSettings() []error {
	var errs []error
	bad := func(field string, value any, want string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Want: want})
	}
	if c.Seeds < 0 || c.Seeds > maxSeeds {
		bad("seeds", c.Seeds, fmt.Sprintf("an integer in [0, %d] (0: one seed)", maxSeeds))
	}
	m := c.Margin
	seen := map[string]bool{}
	for _, s := range m.Inits {
		switch s {
		case layers.InitRandom, layers.InitZeroW, InitFirstStep:
		default:
			bad("margin.inits", s, fmt.Sprintf("%q, %q or %q", layers.InitRandom, layers.InitZeroW, InitFirstStep))
		}
		if seen[s] {
			bad("margin.inits", s, "no scheme twice")
		}
		seen[s] = true
	}
	if seen[InitFirstStep] && !(m.FirstStepEta > 0 && !math.IsInf(m.FirstStepEta, 0)) {
		bad("margin.first_step_eta", m.FirstStepEta, "a finite value > 0")
	}
	for _, z := range m.Zetas {
		if !(z > 0 && z <= 1) {
			bad("margin.zetas", z, "every zeta in (0, 1]")
		}
	}
	if len(m.Zetas) > 0 && (m.ZetaHeads < 1 || m.ZetaHeads > maxHeads) {
		bad("margin.zeta_heads", m.ZetaHeads, fmt.Sprintf("an integer in [1, %d]", maxHeads))
	}
	if cv := c.Convexity; cv != (ConvexitySettings{}) {
		if cv.Samples < 2 || cv.Samples > 1000 {
			bad("convexity.samples", cv.Samples, "an integer in [2, 1000]")
		}
		if cv.Lanczos < 2 || cv.Lanczos > 1000 {
			bad("convexity.lanczos", cv.Lanczos, "an integer in [2, 1000]")
		}
	}
	for _, n := range c.Sizes {
		if n < 1 || n > maxSize {
			bad("sizes", c.Sizes, fmt.Sprintf("every size in [1, %d] (got %d)", maxSize, n))
		}
	}
	if len(c.Sizes) != len(uniqueInts(c.Sizes)) {
		bad("sizes", c.Sizes, "no size twice")
	}
	if s := c.StepSearch; s != (StepSearchSettings{}) {
		if !(s.Tolerance > 0 && s.Tolerance <= 1) {
			bad("step_search.tolerance", s.Tolerance, "a value in (0, 1]")
		}
		if !(s.MaxFactor > 1 && !math.IsInf(s.MaxFactor, 0)) {
			bad("step_search.max_factor", s.MaxFactor, "a finite value > 1")
		}
	}
	return errs
}

func uniqueInts(v []int) []int {
	s := slices.Clone(v)
	slices.Sort(s)
	return slices.Compact(s)
}

// seeds returns the number of repetitions (Seeds, at least 1).
func (c Config) seeds() int { return max(c.Seeds, 1) }

// withSeed returns c for repetition i: data and init seeds offset by i.
func (c Config) withSeed(i int) Config {
	c.Data.Seed += uint64(i)
	c.Init.Seed += uint64(i)
	return c
}
