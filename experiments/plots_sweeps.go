package experiments

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plots of the margin, convexity, generalization and step-size
// experiments. Each builder takes the Result and returns a gonum plot, so a
// notebook can draw them from LoadResult.

var glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.PyramidGlyph{}}

func glyph(i int) draw.GlyphDrawer { return glyphs[i%len(glyphs)] }

var gray = color.Gray{Y: 90}

// namedPlots builds each plot and renders it.
func namedPlots(res *Result, builders []struct {
	name  string
	build func(*Result) (*plot.Plot, error)
}) ([]NamedPlot, error) {
	var out []NamedPlot
	for _, b := range builders {
		p, err := b.build(res)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		if p != nil {
			out = append(out, NamedPlot{Name: b.name, Render: render(p)})
		}
	}
	return out, nil
}

// intAxis is a log axis with a labelled tick at every value.
func intAxis(a *plot.Axis, vals []int) {
	a.Scale = plot.LogScale{}
	var ts []plot.Tick
	for _, v := range vals {
		ts = append(ts, plot.Tick{Value: float64(v), Label: strconv.Itoa(v)})
	}
	a.Tick.Marker = plot.ConstantTicks(ts)
	if len(vals) > 0 {
		a.Min, a.Max = float64(slices.Min(vals))/1.3, float64(slices.Max(vals))*1.3
	}
}

// errorPoints are points with symmetric error bars.
type errorPoints struct {
	plotter.XYs
	plotter.YErrors
}

// addErrorLine draws mean values with +-sd bars, joined by a line.
func addErrorLine(p *plot.Plot, xy plotter.XYs, sd []float64, c color.Color, shape draw.GlyphDrawer, dash []vg.Length, legend string) error {
	var keep plotter.XYs
	var errs plotter.YErrors
	for i, q := range xy {
		if math.IsNaN(q.Y) || math.IsInf(q.Y, 0) {
			continue
		}
		keep = append(keep, q)
		s := finiteOr(sd[i], 0)
		errs = append(errs, struct{ Low, High float64 }{s, s})
	}
	if len(keep) == 0 {
		return nil
	}
	l, s, err := plotter.NewLinePoints(keep)
	if err != nil {
		return err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(1.5), dash
	s.Color, s.Shape, s.Radius = c, shape, vg.Points(3)
	eb, err := plotter.NewYErrorBars(errorPoints{keep, errs})
	if err != nil {
		return err
	}
	eb.Color = c
	p.Add(l, s, eb)
	p.Legend.Add(legend, l, s)
	return nil
}

// logHeadroom puts the legend top right and raises the top of a log y
// axis by factor so that it does not cover the data. Call it after adding
// the data (deferred).
func logHeadroom(p *plot.Plot, factor float64) {
	p.Legend.Top, p.Legend.Left = true, false
	if p.Y.Max > 0 {
		p.Y.Max *= factor
	}
}

// MarginPlots: margin_vs_heads and margin_vs_zeta.
func MarginPlots(res *Result) ([]NamedPlot, error) {
	return namedPlots(res, []struct {
		name  string
		build func(*Result) (*plot.Plot, error)
	}{{"margin_vs_heads", MarginHeadsPlot}, {"margin_vs_zeta", MarginZetaPlot}})
}

// MarginHeadsPlot is the NTK margin gamma at theta_0 against H (mean and
// standard deviation over seeds) per initialization, at the config's zeta,
// with the ideal attention's margin dashed.
func MarginHeadsPlot(res *Result) (*plot.Plot, error) {
	pts, err := MarginPointsOf(res)
	if err != nil {
		return nil, err
	}
	zeta := res.Config.Data.Zeta
	var gs []MarginGroup
	for _, g := range MarginGroups(pts) {
		if g.Zeta == zeta && slices.Contains(res.Config.Heads, g.Heads) {
			gs = append(gs, g)
		}
	}
	p := newPlot(fmt.Sprintf("NTK margin at initialization (ζ = %g, mean ± sd over %d seeds)", zeta, res.Config.seeds()),
		"number of heads H", "margin γ")
	intAxis(&p.X, res.Config.Heads)
	p.Y.Min = 0
	return p, marginLines(p, gs, func(g MarginGroup) float64 { return float64(g.Heads) })
}

func marginLines(p *plot.Plot, gs []MarginGroup, x func(MarginGroup) float64) error {
	for i, in := range marginInits(gs) {
		var xy plotter.XYs
		var sd []float64
		for _, g := range gs {
			if g.Init == in {
				xy, sd = append(xy, plotter.XY{X: x(g), Y: g.Gamma.Mean}), append(sd, g.Gamma.SD)
			}
		}
		if err := addErrorLine(p, xy, sd, paletteColor(i), glyph(i), nil, "γ at θ_0: "+in); err != nil {
			return err
		}
	}
	// The ideal margin depends on the data only: one line.
	var ideal plotter.XYs
	var sd []float64
	seen := map[float64]bool{}
	for _, g := range gs {
		if !seen[x(g)] {
			seen[x(g)] = true
			ideal, sd = append(ideal, plotter.XY{X: x(g), Y: g.Ideal.Mean}), append(sd, g.Ideal.SD)
		}
	}
	if err := addErrorLine(p, ideal, sd, gray, draw.RingGlyph{}, dashed, "ideal attention (relevant tokens)"); err != nil {
		return err
	}
	headroom(p)
	return nil
}

// MarginZetaPlot is the margin against the fraction zeta of relevant
// tokens at margin.zeta_heads heads; nil without a zeta sweep.
func MarginZetaPlot(res *Result) (*plot.Plot, error) {
	m := res.Config.Margin
	if len(m.Zetas) == 0 {
		return nil, nil
	}
	pts, err := MarginPointsOf(res)
	if err != nil {
		return nil, err
	}
	var gs []MarginGroup
	for _, g := range MarginGroups(pts) {
		if g.Heads == m.ZetaHeads && (slices.Contains(m.Zetas, g.Zeta) || g.Zeta == res.Config.Data.Zeta) {
			gs = append(gs, g)
		}
	}
	slices.SortStableFunc(gs, func(a, b MarginGroup) int {
		switch {
		case a.Zeta < b.Zeta:
			return -1
		case a.Zeta > b.Zeta:
			return 1
		}
		return 0
	})
	p := newPlot(fmt.Sprintf("NTK margin vs relevant-token fraction (H = %d, mean ± sd over seeds)", m.ZetaHeads),
		"fraction of relevant tokens ζ", "margin γ")
	p.Y.Min = 0
	return p, marginLines(p, gs, func(g MarginGroup) float64 { return g.Zeta })
}

// ConvexityPlots: weak_convexity_vs_heads, smoothness_vs_heads and
// curvature_path.
func ConvexityPlots(res *Result) ([]NamedPlot, error) {
	return namedPlots(res, []struct {
		name  string
		build func(*Result) (*plot.Plot, error)
	}{{"weak_convexity_vs_heads", WeakConvexityPlot}, {"smoothness_vs_heads", SmoothnessPlot}, {"curvature_path", CurvaturePathPlot}})
}

// WeakConvexityPlot is |lambda_min(Hess F)| / F against H, log-log: the
// worst along the GD path and at theta_0, with the least-squares slope,
// beside the theory's kappa and a 1/sqrt(H) reference through H = 1.
func WeakConvexityPlot(res *Result) (*plot.Plot, error) {
	pts, _, err := ConvexityPointsOf(res)
	if err != nil {
		return nil, err
	}
	f := FitConvexity(pts)
	p := newPlot("Weak convexity: −λ_min(Hess F) / F against H", "number of heads H", "−λ_min / F  (theory: ≤ κ)")
	intAxis(&p.X, res.Config.Heads)
	logAxis(&p.Y)
	defer logHeadroom(p, 30)
	var worst, init, kappa plotter.XYs
	for _, q := range pts {
		h := float64(q.Heads)
		worst = append(worst, plotter.XY{X: h, Y: -float64(q.WorstRatio)})
		init = append(init, plotter.XY{X: h, Y: -float64(q.Ratio0)})
		kappa = append(kappa, plotter.XY{X: h, Y: float64(q.Kappa)})
	}
	if err := addLinePoints(p, positive(worst, true, true), paletteColor(0), draw.CircleGlyph{},
		fmt.Sprintf("measured, worst on the path (slope %.2f)", f.WorstSlope)); err != nil {
		return nil, err
	}
	if err := addLinePoints(p, positive(init, true, true), paletteColor(1), draw.BoxGlyph{},
		fmt.Sprintf("measured at θ_0 (slope %.2f)", f.InitSlope)); err != nil {
		return nil, err
	}
	if err := addLinePoints(p, positive(kappa, true, true), paletteColor(3), draw.TriangleGlyph{},
		fmt.Sprintf("theory κ = max β₂/√H (slope %.2f)", f.KappaSlope)); err != nil {
		return nil, err
	}
	if w := positive(worst, true, true); len(w) > 0 {
		// Reference slope -1/2 through the first measured point.
		var ref plotter.XYs
		for _, q := range w {
			ref = append(ref, plotter.XY{X: q.X, Y: w[0].Y * math.Sqrt(w[0].X/q.X)})
		}
		if err := addLine(p, ref, gray, dashed, "reference ∝ 1/√H"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// SmoothnessPlot is the largest measured lambda_max(Hess F) along the path
// against H beside the theory's L, log-log.
func SmoothnessPlot(res *Result) (*plot.Plot, error) {
	pts, _, err := ConvexityPointsOf(res)
	if err != nil {
		return nil, err
	}
	p := newPlot("Smoothness: λ_max(Hess F) on the GD path against the bound L", "number of heads H", "λ_max  (theory: ≤ L)")
	intAxis(&p.X, res.Config.Heads)
	logAxis(&p.Y)
	defer logHeadroom(p, 30)
	var meas, bound plotter.XYs
	for _, q := range pts {
		meas = append(meas, plotter.XY{X: float64(q.Heads), Y: float64(q.LambdaMax)})
		bound = append(bound, plotter.XY{X: float64(q.Heads), Y: float64(q.L)})
	}
	if err := addLinePoints(p, positive(meas, true, true), paletteColor(0), draw.CircleGlyph{}, "measured λ_max (max on the path)"); err != nil {
		return nil, err
	}
	if err := addLinePoints(p, positive(bound, true, true), paletteColor(3), draw.TriangleGlyph{}, "theory L = G²/4 + κ"); err != nil {
		return nil, err
	}
	return p, nil
}

// CurvaturePathPlot is lambda_min / F against the step k along each
// path (k >= 1, log x).
func CurvaturePathPlot(res *Result) (*plot.Plot, error) {
	pts, rows, err := ConvexityPointsOf(res)
	if err != nil {
		return nil, err
	}
	p := newPlot("λ_min(Hess F(θ_k)) / F(θ_k) along the GD path", "step k", "λ_min / F")
	logAxis(&p.X)
	p.Legend.Top = false
	p.Legend.Left = true
	for i, q := range pts {
		var xy plotter.XYs
		for _, r := range rows[i] {
			xy = append(xy, plotter.XY{X: float64(r.Step), Y: r.Ratio})
		}
		if err := addLinePoints(p, positive(xy, true, false), paletteColor(i), glyph(i), fmt.Sprintf("H = %d", q.Heads)); err != nil {
			return nil, err
		}
	}
	// Room below the curves for the legend.
	if p.Y.Max > p.Y.Min {
		p.Y.Min -= 0.9 * (p.Y.Max - p.Y.Min)
	}
	return p, nil
}

// GeneralizationPlots: gap_vs_n and test_loss_vs_n.
func GeneralizationPlots(res *Result) ([]NamedPlot, error) {
	return namedPlots(res, []struct {
		name  string
		build func(*Result) (*plot.Plot, error)
	}{{"gap_vs_n", GapPlot}, {"test_loss_vs_n", TestLossPlot}})
}

// GapPlot is the generalization gap (test minus training loss) at K
// against n, mean ± sd over seeds per H, log-log, with the fitted C/n
// dashed in the same colour and the theory's generalization term dotted.
func GapPlot(res *Result) (*plot.Plot, error) {
	pts, err := GeneralizationPointsOf(res)
	if err != nil {
		return nil, err
	}
	groups, fits := GeneralizationSummary(pts)
	p := newPlot(fmt.Sprintf("Generalization gap after K = %d steps (dashed: fitted C/n; dotted: theory term)", res.Config.Steps),
		"training-set size n", "test loss − training loss")
	intAxis(&p.X, res.Config.Sizes)
	logAxis(&p.Y)
	defer logHeadroom(p, 30)
	dotted := []vg.Length{vg.Points(1), vg.Points(2)}
	for i, f := range fits {
		var xy, fit, bound plotter.XYs
		var sd []float64
		for _, g := range groups {
			if g.Heads != f.Heads {
				continue
			}
			n := float64(g.N)
			if g.Gap.Mean > 0 {
				xy, sd = append(xy, plotter.XY{X: n, Y: g.Gap.Mean}), append(sd, math.Min(g.Gap.SD, 0.9*g.Gap.Mean))
			}
			fit = append(fit, plotter.XY{X: n, Y: f.C / n})
			bound = append(bound, plotter.XY{X: n, Y: g.BoundGap.Mean})
		}
		c := paletteColor(i)
		if err := addErrorLine(p, xy, sd, c, glyph(i), nil, fmt.Sprintf("H = %d: measured (C = %.3g)", f.Heads, f.C)); err != nil {
			return nil, err
		}
		if err := addLine(p, positive(fit, true, true), c, dashed, ""); err != nil {
			return nil, err
		}
		if err := addLine(p, positive(bound, true, true), c, dotted, ""); err != nil {
			return nil, err
		}
	}
	for _, l := range []struct {
		dash   []vg.Length
		legend string
	}{{dashed, "fitted C/n"}, {dotted, "theory: Test(K, n) − Train(K)"}} {
		ln := &plotter.Line{XYs: plotter.XYs{{X: 1, Y: 1}}, LineStyle: draw.LineStyle{Color: gray, Width: vg.Points(1.5), Dashes: l.dash}}
		p.Legend.Add(l.legend, ln)
	}
	return p, nil
}

// TestLossPlot is the test and training loss at K against n, mean ± sd
// over seeds per H, log x.
func TestLossPlot(res *Result) (*plot.Plot, error) {
	pts, err := GeneralizationPointsOf(res)
	if err != nil {
		return nil, err
	}
	groups, fits := GeneralizationSummary(pts)
	p := newPlot(fmt.Sprintf("Test and training loss after K = %d steps", res.Config.Steps), "training-set size n", "loss")
	intAxis(&p.X, res.Config.Sizes)
	for i, f := range fits {
		var test, train plotter.XYs
		var sdTest, sdTrain []float64
		for _, g := range groups {
			if g.Heads == f.Heads {
				test, sdTest = append(test, plotter.XY{X: float64(g.N), Y: g.TestLoss.Mean}), append(sdTest, g.TestLoss.SD)
				train, sdTrain = append(train, plotter.XY{X: float64(g.N), Y: g.TrainLoss.Mean}), append(sdTrain, g.TrainLoss.SD)
			}
		}
		c := paletteColor(i)
		if err := addErrorLine(p, test, sdTest, c, draw.CircleGlyph{}, nil, fmt.Sprintf("H = %d: test", f.Heads)); err != nil {
			return nil, err
		}
		if err := addErrorLine(p, train, sdTrain, c, draw.BoxGlyph{}, dashed, fmt.Sprintf("H = %d: training", f.Heads)); err != nil {
			return nil, err
		}
	}
	headroom(p)
	return p, nil
}

// StepSizePlots: stepsize_vs_heads.
func StepSizePlots(res *Result) ([]NamedPlot, error) {
	return namedPlots(res, []struct {
		name  string
		build func(*Result) (*plot.Plot, error)
	}{{"stepsize_vs_heads", StepSizePlot}})
}

// StepSizePlot is, against H, the theory step size, the largest monotone
// step found and 2 / lambda_max(Hess F(theta_0)), log-log.
func StepSizePlot(res *Result) (*plot.Plot, error) {
	pts, err := StepSizePointsOf(res)
	if err != nil {
		return nil, err
	}
	var ratios []float64
	for _, q := range pts {
		ratios = append(ratios, float64(q.Ratio))
	}
	found := "largest monotone η (bisection)"
	if len(ratios) > 0 {
		found += fmt.Sprintf(": %.3g–%.3g × theory", slices.Min(ratios), slices.Max(ratios))
	}
	p := newPlot("Step size η against H", "number of heads H", fmt.Sprintf("step size η (K = %d)", res.Config.Steps))
	intAxis(&p.X, res.Config.Heads)
	logAxis(&p.Y)
	defer logHeadroom(p, 100)
	var theoryEta, best, curv plotter.XYs
	for _, q := range pts {
		h := float64(q.Heads)
		theoryEta = append(theoryEta, plotter.XY{X: h, Y: float64(q.TheoryEta)})
		best = append(best, plotter.XY{X: h, Y: float64(q.FoundEta)})
		curv = append(curv, plotter.XY{X: h, Y: float64(q.CurvatureEta)})
	}
	if err := addLinePoints(p, positive(best, true, true), paletteColor(0), draw.CircleGlyph{}, found); err != nil {
		return nil, err
	}
	if err := addLinePoints(p, positive(curv, true, true), paletteColor(2), draw.BoxGlyph{}, "2 / λ_max(Hess F(θ_0))"); err != nil {
		return nil, err
	}
	if err := addLinePoints(p, positive(theoryEta, true, true), paletteColor(3), draw.TriangleGlyph{}, "theory η = 1/L"); err != nil {
		return nil, err
	}
	return p, nil
}
