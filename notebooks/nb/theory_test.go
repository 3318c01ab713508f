package nb

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/theory"
	"gonum.org/v1/plot"
)

func TestMargins(t *testing.T) {
	c, train, _ := small(t, AllToken)
	heads := []int{1, 2}
	schemes := []string{InitRandom, InitZeroW, InitFirstStep}
	rows, err := Margins(c, heads, schemes, DefaultInit(), train, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(heads)*len(schemes) {
		t.Fatalf("%d rows, want %d", len(rows), len(heads)*len(schemes))
	}
	for i, r := range rows {
		if r.Heads != heads[i/len(schemes)] || r.Init != schemes[i%len(schemes)] {
			t.Errorf("row %d is H = %d %s, want H = %d %s", i, r.Heads, r.Init, heads[i/len(schemes)], schemes[i%len(schemes)])
		}
		if !(r.Gamma >= 0 && r.Gamma <= r.Upper*(1+1e-9)) || !(r.Ideal > 0) {
			t.Errorf("row %d: gamma %v, upper %v, ideal %v", i, r.Gamma, r.Upper, r.Ideal)
		}
		// A normalized margin is at most 1: the minimum-norm point is no
		// longer than the mean feature.
		for _, g := range []float64{r.Normalized, r.NormalizedU, r.IdealNormalized} {
			if !(g >= 0 && g <= 1+1e-12) {
				t.Errorf("row %d: normalized margins %v %v %v, want in [0, 1]", i, r.Normalized, r.NormalizedU, r.IdealNormalized)
			}
		}
		if (r.Eta != 0) != (r.Init == InitFirstStep) {
			t.Errorf("row %d (%s): eta %v", i, r.Init, r.Eta)
		}
	}
	// The first step from zero-W is one GD step from the zero-W parameters.
	cc := c
	cc.Heads = 2
	zero, err := InitParams(cc, DefaultInit(), InitZeroW, train, 0)
	if err != nil {
		t.Fatal(err)
	}
	first, err := InitParams(cc, DefaultInit(), InitFirstStep, train, 10)
	if err != nil {
		t.Fatal(err)
	}
	want, err := FirstStep(cc, zero, train, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want.Get("W") {
		if first.Get("W")[i] != w {
			t.Fatalf("first-step W[%d] = %v, want %v", i, first.Get("W")[i], w)
		}
	}
	m, err := NTKMargin(cc, first, train)
	if err != nil {
		t.Fatal(err)
	}
	if m.Gamma != rows[5].Gamma {
		t.Errorf("NTKMargin %v, Margins row %v", m.Gamma, rows[5].Gamma)
	}
	// The ideal margin is theory.IdealMargin's.
	if want, err := theory.IdealMargin(cc, train); err != nil || math.Abs(rows[5].Ideal-want.Gamma) > 1e-12*want.Gamma {
		t.Errorf("ideal margin %v, theory.IdealMargin %v (%v)", rows[5].Ideal, want.Gamma, err)
	}
	// The normalized margins are the margins over the mean feature norms
	// of the same features.
	for _, tr := range []string{cc.Train, TrainU} {
		cf := cc
		cf.Train = tr
		mf, err := model(cf)
		if err != nil {
			t.Fatal(err)
		}
		k, err := theory.NewNTK(mf, first, train)
		if err != nil {
			t.Fatal(err)
		}
		want := k.Margin().Gamma / k.MeanNorm()
		got := rows[5].Normalized
		if tr == TrainU {
			got = rows[5].NormalizedU
		}
		if math.Abs(got-want) > 1e-12*want {
			t.Errorf("train %q: normalized margin %v, want gamma/mean norm = %v", tr, got, want)
		}
	}
	if _, err := InitParams(cc, DefaultInit(), "bogus", train, 1); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("unknown scheme: err = %v", err)
	}
	tab := MarginTable(rows)
	if !strings.Contains(tab, "first-step (eta = 10)") || strings.Count(tab, "\n") != len(rows)+1 {
		t.Errorf("MarginTable:\n%s", tab)
	}
	checkPNG(t, PNG(MarginPlot(rows)))
}

func TestMeasureBounds(t *testing.T) {
	for _, query := range []string{AllToken, FirstToken} {
		t.Run(query, func(t *testing.T) {
			c, train, _ := small(t, query)
			var rows []BoundRow
			for _, h := range []int{1, 2, 4} {
				c.Heads = h
				p, err := NewParams(c, DefaultInit())
				if err != nil {
					t.Fatal(err)
				}
				r, err := MeasureBounds(c, p, train, 40, 1)
				if err != nil {
					t.Fatal(err)
				}
				if !r.Holds() {
					t.Errorf("H = %d: a bound fails: %+v", h, r)
				}
				if !(r.GradMax > 0 && r.LambdaMax > 0 && r.Loss > 0 && r.LambdaMin <= r.LambdaMax) {
					t.Errorf("H = %d: implausible measurements %+v", h, r)
				}
				k := ConstantsOverBall(c, p, TokenNorm(train), 0)
				if r.Lipschitz != k.Lipschitz || r.Smoothness != k.Smoothness || r.Kappa != k.WeakConvexity {
					t.Errorf("H = %d: constants %+v, want those of %+v", h, r, k)
				}
				if math.Abs(r.Ratio()-r.LambdaMin/r.Loss) > 0 {
					t.Errorf("Ratio %v", r.Ratio())
				}
				rows = append(rows, r)
			}
			if tab := BoundTable(rows); strings.Count(tab, "true") != len(rows) {
				t.Errorf("BoundTable:\n%s", tab)
			}
			checkPNG(t, PNG(BoundsPlot("bounds", rows)))
		})
	}
}

func TestHeadSweep(t *testing.T) {
	cfg := DefaultSweep()
	cfg.Data.Dim, cfg.Data.Tokens, cfg.Data.Train, cfg.Data.Test = 6, 4, 16, 16
	cfg.Sweep = nil // one seed
	cfg.SweepHeads(1, 2)
	cfg.Steps = 5
	cfg.Out = t.TempDir()
	res, err := HeadSweep(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := SweepPoints(res)
	if err != nil || len(pts) != 2 || pts[1].Heads != 2 || res.Records[1].Label != "heads2" {
		t.Fatalf("points %+v, %v", pts, err)
	}
	loaded, err := LoadSweep(cfg.Out)
	if err != nil || len(loaded.Records) != 2 || len(loaded.Records[1].Rows) != len(res.Records[1].Rows) {
		t.Fatalf("LoadSweep: %v", err)
	}
	tab, err := SweepTable(res)
	if err != nil || !strings.Contains(tab, cfg.Out) {
		t.Errorf("SweepTable = %q, %v", tab, err)
	}
	if th := SweepTheoryTable(res); strings.Count(th, "\n") != 3 {
		t.Errorf("SweepTheoryTable:\n%s", th)
	}
	for name, f := range map[string]func(*SweepResult) (*plot.Plot, error){
		"loss": SweepLossPlot, "test": SweepTestPlot, "distance": SweepDistancePlot, "attention": SweepAttentionPlot,
	} {
		p, err := f(res)
		if err != nil {
			t.Fatalf("%s plot: %v", name, err)
		}
		checkPNG(t, PNG(p))
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, "summary.json")); err != nil {
		t.Error(err)
	}
}

func TestWeakConvexitySlope(t *testing.T) {
	rows := []BoundRow{
		{Heads: 1, Loss: 0.5, LambdaMin: -0.5},
		{Heads: 4, Loss: 0.5, LambdaMin: -0.25},
		{Heads: 16, Loss: 0.5, LambdaMin: -0.125},
		{Heads: 32, Loss: 0.5, LambdaMin: 0.1}, // convex here: left out
	}
	if got := WeakConvexitySlope(rows); math.Abs(got+0.5) > 1e-12 {
		t.Errorf("slope %v, want -0.5", got)
	}
	if got := WeakConvexitySlope(rows[3:]); !math.IsNaN(got) {
		t.Errorf("slope of one convex row %v, want NaN", got)
	}
}
