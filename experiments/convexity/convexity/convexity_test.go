package convexity

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mhattn/mha/experiments/internal/exptest"
	"github.com/mhattn/mha/experiments/runner"
)

func tiny(out string) Config {
	c := DefaultConfig()
	exptest.Tiny(&c.Config, out)
	c.SweepHeads(1, 2, 4)
	c.Steps = 30
	c.Convexity.Samples, c.Convexity.Lanczos = 4, 12
	return c
}

func TestEndToEnd(t *testing.T) {
	cfg := tiny(filepath.Join(t.TempDir(), "run"))
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exptest.CheckRun(t, Experiment, res, []string{"weak_convexity_vs_heads", "smoothness_vs_heads", "curvature_path"})
	pts, rows, err := PointsOf(res)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pts {
		if len(rows[i]) != 4 || rows[i][0].Step != 0 || rows[i][3].Step != cfg.Steps {
			t.Errorf("%s: rows at steps %v", p.Label, rows[i])
		}
		for _, r := range rows[i] {
			// The theory's bounds hold for the measurement.
			if !(r.Ratio >= -r.Kappa) || !(r.LambdaMax <= r.L) || !(r.LambdaMin <= r.LambdaMax) {
				t.Errorf("%s step %d: lambda_min/F %v vs -kappa %v, lambda_max %v vs L %v", p.Label, r.Step, r.Ratio, -r.Kappa, r.LambdaMax, r.L)
			}
		}
		if !(p.WorstRatio < 0) {
			t.Errorf("%s: worst lambda_min/F %v, want < 0", p.Label, p.WorstRatio)
		}
	}
	f := FitConvexity(pts)
	if math.IsNaN(f.WorstSlope) || math.IsNaN(f.InitSlope) || !(f.WorstSlope < 0) {
		t.Errorf("fit %+v", f)
	}
}

// TestResume: a second run of a finished experiment keeps every point and
// writes the same files; a run whose point was removed redoes it
// identically.
func TestResume(t *testing.T) {
	cfg := tiny(filepath.Join(t.TempDir(), "run"))
	cfg.SweepHeads(1, 2)
	cfg.CheckpointEvery = 7
	cfg.Convexity.Samples, cfg.Convexity.Lanczos = 3, 8
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(t.TempDir(), "ref")
	if err := os.CopyFS(ref, os.DirFS(cfg.Out)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cfg.Out, "points", res.Records[1].Dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(cfg, runner.Options{}); err != nil {
		t.Fatal(err)
	}
	exptest.SameResults(t, ref, cfg.Out)
}

// TestInterruptResume: a run cancelled mid-path writes checkpoints and
// reports the points interrupted; the rerun resumes them and writes what
// an uninterrupted run writes.
func TestInterruptResume(t *testing.T) {
	dir := t.TempDir()
	cfg := tiny(filepath.Join(dir, "ref"))
	cfg.SweepHeads(1, 2)
	cfg.Steps = 40
	cfg.Workers = 1
	cfg.Convexity.Samples, cfg.Convexity.Lanczos = 4, 8
	if _, err := Run(cfg, runner.Options{}); err != nil {
		t.Fatal(err)
	}
	ref := cfg.Out
	cfg.Out = filepath.Join(dir, "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Run(cfg, runner.Options{Context: ctx, Progress: func(p runner.Progress) {
		if p.Step >= 12 {
			cancel()
		}
	}})
	if !errors.Is(err, runner.ErrInterrupted) || res == nil || res.Status != runner.StatusInterrupted {
		t.Fatalf("err %v, result %v", err, res)
	}
	if m, _ := filepath.Glob(filepath.Join(cfg.Out, "points", "heads2-*", "checkpoint.json")); len(m) != 1 {
		t.Error("no checkpoint for the interrupted point")
	}
	if _, err := Run(cfg, runner.Options{}); err != nil {
		t.Fatal(err)
	}
	exptest.SameResults(t, ref, cfg.Out)
}

// TestOtherKind: the curvature is measured for a model kind the theory
// does not cover; its kappa and L are NaN.
func TestOtherKind(t *testing.T) {
	cfg := tiny(filepath.Join(t.TempDir(), "run"))
	cfg.SweepHeads(1, 2)
	cfg.Model.Kind, cfg.Eta = "relu", 0.1
	cfg.Convexity.Samples, cfg.Convexity.Lanczos = 3, 8
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pts, _, err := PointsOf(res)
	if err != nil || len(pts) != 2 {
		t.Fatal(err)
	}
	for _, p := range pts {
		if !math.IsNaN(float64(p.Kappa)) || !math.IsNaN(float64(p.L)) || math.IsNaN(float64(p.LambdaMax)) || !(p.LambdaMax > 0) {
			t.Errorf("%s: kappa %v, L %v, lambda_max %v", p.Label, p.Kappa, p.L, p.LambdaMax)
		}
	}
}
