package stepsize

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/mhattn/mha/experiments/internal/exptest"
	"github.com/mhattn/mha/experiments/runner"
)

func TestEndToEnd(t *testing.T) {
	cfg := DefaultConfig()
	exptest.Tiny(&cfg.Config, filepath.Join(t.TempDir(), "run"))
	cfg.SweepHeads(1, 2)
	cfg.Steps = 20
	cfg.StepSearch.Tolerance = 0.1
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exptest.CheckRun(t, Experiment, res, []string{"stepsize_vs_heads"})
	pts, err := PointsOf(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pts {
		// The theory step size is monotone by construction (descent
		// lemma), so the search finds a step at least as large.
		if !p.TheoryMonotone || !(p.FoundEta >= p.TheoryEta) || !(p.Ratio >= 1) || !(p.Unstable > p.FoundEta || math.IsNaN(float64(p.Unstable))) {
			t.Errorf("%s: %+v", p.Label, p)
		}
		if p.StepRule != "theory" || p.RuleEta != p.TheoryEta || math.Abs(float64(p.CurvatureRuleEta*p.LambdaMax0)-cfg.Step.C) > 1e-12 {
			t.Errorf("%s: rule %q eta %v, curvature rule eta %v", p.Label, p.StepRule, p.RuleEta, p.CurvatureRuleEta)
		}
		if u := float64(p.Unstable); !math.IsNaN(u) && !math.IsInf(u, 1) && float64(p.Unstable/p.FoundEta) > 1+cfg.StepSearch.Tolerance {
			t.Errorf("%s: bracket [%v, %v] wider than the tolerance", p.Label, p.FoundEta, p.Unstable)
		}
	}
	cfg.Eta = 0.1
	if _, err := Run(cfg, runner.Options{}); !errErr(err) {
		t.Errorf("eta set: %v, want an input error", err)
	}
}

func errErr(err error) bool { _, ok := err.(*runner.InputError); return ok }

// TestOtherKind: for a model kind without the theory step size the search
// starts at the config's eta and the theory's columns are NaN.
func TestOtherKind(t *testing.T) {
	cfg := DefaultConfig()
	exptest.Tiny(&cfg.Config, filepath.Join(t.TempDir(), "run"))
	cfg.SweepHeads(1)
	cfg.Model.Kind, cfg.Eta = "kq", 0.05
	cfg.StepSearch.Tolerance = 0.1
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pts, err := PointsOf(res)
	if err != nil || len(pts) != 1 {
		t.Fatal(err)
	}
	if p := pts[0]; !math.IsNaN(float64(p.TheoryEta)) || !math.IsNaN(float64(p.Ratio)) || !(p.FoundEta >= 0.05) || !(p.Unstable > p.FoundEta) {
		t.Errorf("%+v", p)
	}
}
