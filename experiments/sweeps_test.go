package experiments

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyFor is tinyConfig with an experiment's defaults for its own settings.
func tinyFor(name, out string) Config {
	c := tinyConfig(out)
	d := DefaultConfigFor(name)
	c.Seeds, c.Margin, c.Convexity, c.Sizes, c.StepSearch = d.Seeds, d.Margin, d.Convexity, d.Sizes, d.StepSearch
	return c
}

// checkRun checks the files every experiment writes and the header of its
// metrics, and that the assembled metrics are the points' rows in order.
func checkRun(t *testing.T, res *Result, header string, plots []string) {
	t.Helper()
	out := res.Dir
	if res.Status != StatusOK {
		t.Fatalf("status %q", res.Status)
	}
	for _, f := range []string{"config.json", "metrics.csv", "summary.json", "data/train_X.npy"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	for _, p := range plots {
		if st, err := os.Stat(filepath.Join(out, "plots", p+".png")); err != nil || st.Size() == 0 {
			t.Errorf("plot %s missing or empty: %v", p, err)
		}
	}
	rows, err := readLines(filepath.Join(out, "metrics.csv"), header)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range res.Records {
		if r.Status != StatusOK {
			t.Errorf("%s: status %q", r.Label, r.Status)
		}
		if len(r.Rows) == 0 {
			t.Errorf("%s: no rows", r.Label)
		}
		for _, row := range r.Rows {
			if !strings.HasPrefix(row, r.Label+",") {
				t.Errorf("%s: row %q does not start with the label", r.Label, row)
			}
		}
		want = append(want, r.Rows...)
		if _, err := os.Stat(filepath.Join(out, "points", r.Label, "result.json")); err != nil {
			t.Errorf("%s: %v", r.Label, err)
		}
		if exists(filepath.Join(out, "points", r.Label, "checkpoint.json")) {
			t.Errorf("%s: checkpoint left after the point finished", r.Label)
		}
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Error("metrics.csv is not the points' rows in point order")
	}
	loaded, err := LoadResult(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Records) != len(res.Records) {
		t.Fatalf("LoadResult: %d records, want %d", len(loaded.Records), len(res.Records))
	}
	for i := range res.Records {
		a, b := res.Records[i], loaded.Records[i]
		if a.Label != b.Label || strings.Join(a.Rows, "\n") != strings.Join(b.Rows, "\n") {
			t.Errorf("LoadResult: record %d differs", i)
		}
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "results in "+out) {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestMarginEndToEnd(t *testing.T) {
	cfg := tinyFor(MarginName, filepath.Join(t.TempDir(), "run"))
	cfg.Seeds = 2
	cfg.Margin.Zetas, cfg.Margin.ZetaHeads = []float64{0.25, 0.5}, 2
	cfg.Margin.FirstStepEta = 10
	res, err := Margin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// heads x inits x seeds, plus the zeta sweep at H = 2 without the
	// repeated zeta = 0.25 points.
	if want := 2*3*2 + 1*3*2; len(res.Records) != want {
		t.Fatalf("%d points, want %d", len(res.Records), want)
	}
	checkRun(t, res, MarginHeader, []string{"margin_vs_heads", "margin_vs_zeta"})
	pts, err := MarginPointsOf(res)
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[uint64]bool{}
	for _, p := range pts {
		seeds[p.DataSeed] = true
		if !(p.NTK.Gamma >= 0) || !(p.Ideal.Gamma > 0) || p.NTK.Lower > p.NTK.Upper*(1+1e-12) {
			t.Errorf("%s: gamma %v in [%v, %v], ideal %v", p.Label, p.NTK.Gamma, p.NTK.Lower, p.NTK.Upper, p.Ideal.Gamma)
		}
		// Random and uniform attention see mostly noise tokens: their
		// margin is below the ideal attention's.
		if p.Init != InitFirstStep && !(p.NTK.Gamma < p.Ideal.Gamma) {
			t.Errorf("%s: gamma %v not below the ideal %v", p.Label, p.NTK.Gamma, p.Ideal.Gamma)
		}
		d := cfg.Data
		d.Zeta = float64(p.Zeta)
		if uniform := float64(d.Relevant()) / float64(d.Tokens); p.Init == "zero-W" && math.Abs(float64(p.RelevantAttention)-uniform) > 1e-12 {
			t.Errorf("%s: zero-W attention on relevant tokens %v, want uniform %v", p.Label, p.RelevantAttention, uniform)
		}
	}
	if len(seeds) != 2 {
		t.Errorf("data seeds %v, want 2", seeds)
	}
	if !strings.HasPrefix(res.Records[0].Label, "H1-zeta0.25-random-seed1") {
		t.Errorf("first label %q", res.Records[0].Label)
	}
}

func TestConvexityEndToEnd(t *testing.T) {
	cfg := tinyFor(ConvexityName, filepath.Join(t.TempDir(), "run"))
	cfg.Heads = []int{1, 2, 4}
	cfg.Steps = 30
	cfg.Convexity.Samples, cfg.Convexity.Lanczos = 4, 12
	res, err := Convexity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, res, ConvexityHeader, []string{"weak_convexity_vs_heads", "smoothness_vs_heads", "curvature_path"})
	pts, rows, err := ConvexityPointsOf(res)
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

func TestGeneralizationEndToEnd(t *testing.T) {
	cfg := tinyFor(GeneralizationName, filepath.Join(t.TempDir(), "run"))
	cfg.Heads = []int{1, 2}
	cfg.Sizes = []int{8, 16, 32}
	cfg.Seeds = 2
	cfg.Steps = 30
	cfg.LogEvery = 10
	res, err := Generalization(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 2*3*2 || res.Records[3].Label != "H1-n16-seed2" {
		t.Fatalf("%d points, fourth %q", len(res.Records), res.Records[3].Label)
	}
	checkRun(t, res, GeneralizationHeader, []string{"gap_vs_n", "test_loss_vs_n"})
	pts, err := GeneralizationPointsOf(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pts {
		if p.Step != cfg.Steps || math.Abs(float64(p.Gap)-float64(p.TestLoss-p.TrainLoss)) > 1e-12 {
			t.Errorf("%s: step %d, gap %v, losses %v %v", p.Label, p.Step, p.Gap, p.TestLoss, p.TrainLoss)
		}
	}
	groups, fits := GeneralizationSummary(pts)
	if len(groups) != 6 || len(fits) != 2 || math.IsNaN(fits[0].C) {
		t.Errorf("groups %d, fits %+v", len(groups), fits)
	}
}

func TestStepSizeEndToEnd(t *testing.T) {
	cfg := tinyFor(StepSizeName, filepath.Join(t.TempDir(), "run"))
	cfg.Steps = 20
	cfg.StepSearch.Tolerance = 0.1
	res, err := StepSize(cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, res, StepSizeHeader, []string{"stepsize_vs_heads"})
	pts, err := StepSizePointsOf(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pts {
		// The theory step size is monotone by construction (descent
		// lemma), so the search finds a step at least as large.
		if !p.TheoryMonotone || !(p.FoundEta >= p.TheoryEta) || !(p.Ratio >= 1) || !(p.Unstable > p.FoundEta) {
			t.Errorf("%s: %+v", p.Label, p)
		}
		if !math.IsInf(float64(p.Unstable), 1) && float64(p.Unstable/p.FoundEta) > 1+cfg.StepSearch.Tolerance {
			t.Errorf("%s: bracket [%v, %v] wider than the tolerance", p.Label, p.FoundEta, p.Unstable)
		}
	}
}

// TestExperimentResume: a second run of a finished experiment keeps every
// point and writes the same files; a run whose points were removed redoes
// them identically.
func TestExperimentResume(t *testing.T) {
	cfg := tinyFor(ConvexityName, filepath.Join(t.TempDir(), "run"))
	cfg.Steps = 30
	cfg.CheckpointEvery = 7
	cfg.Convexity.Samples, cfg.Convexity.Lanczos = 3, 8
	if _, err := Convexity(cfg); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(t.TempDir(), "ref")
	if err := os.CopyFS(ref, os.DirFS(cfg.Out)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cfg.Out, "points", "H2")); err != nil {
		t.Fatal(err)
	}
	if _, err := Convexity(cfg); err != nil {
		t.Fatal(err)
	}
	sameResults(t, ref, cfg.Out)
}

// TestExperimentInterruptResume: a convexity run cancelled mid-path writes
// checkpoints and reports the points interrupted; the rerun resumes them
// and writes what an uninterrupted run writes.
func TestExperimentInterruptResume(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyFor(ConvexityName, filepath.Join(dir, "ref"))
	cfg.Steps = 40
	cfg.CheckpointEvery = 5
	cfg.Workers = 1
	cfg.Convexity.Samples, cfg.Convexity.Lanczos = 4, 8
	if _, err := Convexity(cfg); err != nil {
		t.Fatal(err)
	}
	ref := cfg.Out
	cfg.Out = filepath.Join(dir, "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := ConvexityWith(cfg, Options{Context: ctx, Progress: func(p Progress) {
		if p.Step >= 12 {
			cancel()
		}
	}})
	if !errors.Is(err, ErrInterrupted) || res == nil || res.Status != StatusInterrupted {
		t.Fatalf("err %v, result %v", err, res)
	}
	if !exists(filepath.Join(cfg.Out, "points", "H2", "checkpoint.json")) {
		t.Error("no checkpoint for the interrupted point")
	}
	if _, err := Convexity(cfg); err != nil {
		t.Fatal(err)
	}
	sameResults(t, ref, cfg.Out)
}
