package convexity

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
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
	c.Spectrum = SpectrumSettings{K: 2, Starts: 3, Iterations: 8, Probes: 3, Sigma: 0.02, NegTol: 1e-3}
	return c
}

func TestEndToEnd(t *testing.T) {
	cfg := tiny(filepath.Join(t.TempDir(), "run"))
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exptest.CheckRun(t, Experiment, res, []string{"weak_convexity_vs_heads", "smoothness_vs_heads", "curvature_path",
		"negative_mass_vs_heads", "trace_vs_heads", "spectral_density"})
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
		checkSpectrum(t, cfg, res.Records[i], p, rows[i])
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
	cfg.Spectrum.Starts, cfg.Spectrum.Probes = 1, 1
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
	sameSpectrumFiles(t, ref, cfg.Out)
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
	sameSpectrumFiles(t, ref, cfg.Out)
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

// checkSpectrum checks the spectrum columns of a point's rows against its
// slq.csv and eigs.csv: the SLQ weights sum to 1 per step and start, the
// extreme Ritz values are those of the metric rows, the negative mass is
// a fraction and the trace estimates are finite.
func checkSpectrum(t *testing.T, cfg Config, rec runner.Record, p Point, rows []Row) {
	t.Helper()
	sp := cfg.Spectrum
	if p.Dim < 1 || p.Spectrum != sp {
		t.Errorf("%s: dim %d, spectrum %+v", p.Label, p.Dim, p.Spectrum)
	}
	for _, r := range rows {
		if math.IsNaN(r.Trace) || !(r.TraceSE >= 0) || !(r.NegFraction >= 0 && r.NegFraction <= 1) || !(r.NegFractionSE >= 0) ||
			!(r.NegSum <= 0) || !(r.NegSumSE >= 0) {
			t.Errorf("%s step %d: trace %v ±%v, neg fraction %v ±%v, neg sum %v ±%v", p.Label, r.Step,
				r.Trace, r.TraceSE, r.NegFraction, r.NegFractionSE, r.NegSum, r.NegSumSE)
		}
		// The trace lies between dim lambda_min and dim lambda_max, up to
		// the estimator's error.
		d := float64(p.Dim)
		if r.Trace < d*r.LambdaMin-5*r.TraceSE || r.Trace > d*r.LambdaMax+5*r.TraceSE {
			t.Errorf("%s step %d: trace %v outside dim [lambda_min, lambda_max] = [%v, %v]", p.Label, r.Step, r.Trace, d*r.LambdaMin, d*r.LambdaMax)
		}
	}
	if p.Trace0 != runner.Number(rows[0].Trace) || p.TraceFinal != runner.Number(rows[len(rows)-1].Trace) ||
		p.NegFraction0 != runner.Number(rows[0].NegFraction) || !(p.NegFractionWorst >= p.NegFraction0) {
		t.Errorf("%s: summary trace %v..%v, neg fraction %v, worst %v", p.Label, p.Trace0, p.TraceFinal, p.NegFraction0, p.NegFractionWorst)
	}
	dir := filepath.Join(cfg.Out, "points", rec.Dir)
	slq, err := ReadSLQ(filepath.Join(dir, "slq.csv"))
	if err != nil {
		t.Fatal(err)
	}
	steps, quads, err := Quadratures(slq, p.Dim)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != len(rows) {
		t.Fatalf("%s: slq.csv has steps %v, metrics %d rows", p.Label, steps, len(rows))
	}
	for i, q := range quads {
		if steps[i] != rows[i].Step || len(q.Nodes) != sp.Starts {
			t.Errorf("%s: slq step %d (want %d) with %d starts", p.Label, steps[i], rows[i].Step, len(q.Nodes))
		}
		for l, w := range q.Weights {
			var s float64
			for _, x := range w {
				s += x
			}
			if math.Abs(s-1) > 1e-12 || len(w) > sp.Iterations {
				t.Errorf("%s step %d start %d: %d weights summing to %v", p.Label, steps[i], l, len(w), s)
			}
		}
		// The SLQ estimates of the row are those of the file's quadrature.
		neg, err := q.Negative(0)
		if err != nil {
			t.Fatal(err)
		}
		if rows[i].NegFraction > neg.Fraction {
			t.Errorf("%s step %d: neg fraction %v above the fraction below 0, %v", p.Label, steps[i], rows[i].NegFraction, neg.Fraction)
		}
		lo, hi := q.Range()
		if want, _ := q.Negative(sp.NegTol * (hi - lo)); want.Fraction != rows[i].NegFraction || want.Sum != rows[i].NegSum {
			t.Errorf("%s step %d: neg fraction, sum %v, %v; from slq.csv %v, %v", p.Label, steps[i], rows[i].NegFraction, rows[i].NegSum, want.Fraction, want.Sum)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "eigs.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != EigsHeader || len(lines) != 1+2*sp.K*len(rows) {
		t.Fatalf("%s: eigs.csv header %q, %d lines", p.Label, lines[0], len(lines))
	}
	for _, l := range lines[1:] {
		var label, end string
		var step, rank int
		var value, resid float64
		if err := runner.ParseCSV(l, &label, &step, &end, &rank, &value, &resid); err != nil {
			t.Fatal(err)
		}
		var r Row
		for _, x := range rows {
			if x.Step == step {
				r = x
			}
		}
		switch {
		case label != rec.Label || rank < 1 || rank > sp.K || !(resid >= 0) || value < r.LambdaMin || value > r.LambdaMax:
			t.Errorf("%s: eigs.csv row %q against lambda in [%v, %v]", p.Label, l, r.LambdaMin, r.LambdaMax)
		case rank == 1 && end == "top" && (value != r.LambdaMax || resid != r.MaxResid),
			rank == 1 && end == "bottom" && (value != r.LambdaMin || resid != r.MinResid):
			t.Errorf("%s: eigs.csv row %q is not the metrics row's %v (%v), %v (%v)", p.Label, l, r.LambdaMin, r.MinResid, r.LambdaMax, r.MaxResid)
		}
	}
}

// sameSpectrumFiles fails unless every point of two result directories
// wrote the same slq.csv and eigs.csv.
func sameSpectrumFiles(t *testing.T, a, b string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(a, "points", "*", "*.csv"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no point files in %s: %v", a, err)
	}
	n := 0
	for _, f := range files {
		name := filepath.Base(f)
		if name != "slq.csv" && name != "eigs.csv" {
			continue
		}
		n++
		rel, _ := filepath.Rel(a, f)
		x, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between %s and %s (%v)", rel, a, b, err)
		}
	}
	if n == 0 {
		t.Errorf("no slq.csv or eigs.csv in %s", a)
	}
}

// TestBadSpectrumSettings: a spectrum setting out of range exits 2 naming
// the field and its range, and writes nothing.
func TestBadSpectrumSettings(t *testing.T) {
	for _, tc := range []struct {
		set, want string
	}{
		{"spectrum.k=0", "spectrum.k = 0: must be in [1, dim="},
		{"spectrum.k=100000", "spectrum.k = 100000: must be in [1, dim="},
		{"spectrum.starts=0", "spectrum.starts = 0: must be >= 1"},
		{"spectrum.probes=-1", "spectrum.probes = -1: must be >= 1"},
		{"spectrum.sigma=0", "spectrum.sigma = 0: must be in (0, inf)"},
		{"spectrum.sigma=-0.5", "spectrum.sigma = -0.5: must be in (0, inf)"},
		{"spectrum.iterations=1", "spectrum.iterations = 1: must be >= k = 3"},
		{"spectrum.neg_tol=-1", "spectrum.neg_tol = -1: want a finite value >= 0"},
		{"convexity.lanczos=2", "convexity.lanczos = 2: want an integer in [max(2, spectrum.k) = 3, 1000]"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			var stdout, stderr bytes.Buffer
			code := runner.Main(Experiment, []string{"-out", out, "-quiet", "-heads", "1,2", "-steps", "5", "-set", tc.set}, &stdout, &stderr)
			if code != runner.ExitInput || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, runner.ExitInput, stderr.String())
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s written: %v", out, err)
			}
		})
	}
}
