package nb

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// table renders rows of tab-separated cells as an aligned text table.
func table(header string, lines []string) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, header)
	for _, l := range lines {
		fmt.Fprintln(tw, l)
	}
	tw.Flush()
	return b.String()
}

func g4(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }

// SweepTheoryTable lists, per point of a head sweep (by its label), the
// theory behind its bound: the NTK margin gamma at theta_0, the
// realizability certificate theta* = theta_0 + lambda v (lambda =
// ||theta* - theta_0||, F(theta*) measured, whether it reached the target
// eps), kappa, whether the bound's condition kappa (2 lambda)^2 <= 1
// holds, and the training and test bounds at K.
func SweepTheoryTable(res *SweepResult) string {
	pts, err := SweepPoints(res)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for i, p := range pts {
		th := p.Theory
		l := fmt.Sprintf("%s\t%d\t%s\t%s\t", res.Records[i].Label, p.Heads, g4(float64(th.NTK.Gamma)), g4(float64(th.WeakConvexity)))
		if c := th.Certificate; c != nil {
			l += fmt.Sprintf("%s\t%s\t%v\t", g4(float64(c.Distance)), g4(float64(c.Loss)), c.Attained)
		} else {
			l += "-\t-\t-\t"
		}
		if b := th.Bound; b != nil {
			l += fmt.Sprintf("%v\t%s\t%s\t", b.Valid, g4(float64(b.TrainAtK)), g4(float64(b.TestAtK)))
		} else {
			l += "-\t-\t-\t"
		}
		lines = append(lines, l+g4(float64(p.TrainLoss))+"\t"+g4(float64(p.TestLoss))+"\t")
	}
	return table("point\tH\tgamma\tkappa\t||theta*-theta_0||\tF(theta*)\treached eps\tvalid\ttrain bound\ttest bound\ttrain loss\ttest loss\t", lines)
}

// MarginTable lists margin rows: H, initialization, the margin gamma over
// the trained blocks, then the margins in units of their features' mean
// norm (MarginRow.Normalized...): over the trained blocks, over U only,
// and the ideal attention's over U only, which is the like-for-like
// comparison with the U-only column.
func MarginTable(rows []MarginRow) string {
	var lines []string
	for _, r := range rows {
		lines = append(lines, fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t", r.Heads, r.Label(), g4(r.Gamma),
			g4(r.Normalized), g4(r.NormalizedU), g4(r.IdealNormalized)))
	}
	return table("H\tinit\tgamma (U,W)\tgamma/mean||psi|| (U,W)\t(U only)\tideal (U only)\t", lines)
}

// BoundTable lists bound rows, measured beside bound.
func BoundTable(rows []BoundRow) string {
	var lines []string
	for _, r := range rows {
		lines = append(lines, fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t", r.Heads, g4(r.Loss),
			g4(r.GradMax), g4(r.Lipschitz), g4(r.LambdaMax), g4(r.Smoothness),
			g4(r.LambdaMin), g4(r.Ratio()), g4(-r.Kappa), r.Holds()))
	}
	return table("H\tF\tmax||grad Phi_i||\tG\tlambda_max\tL\tlambda_min\tlambda_min/F\t-kappa\tholds\t", lines)
}

// headsAxis makes the x axis a log axis with a tick at every head count.
func headsAxis(p *plot.Plot, heads []int) {
	p.X.Label.Text = "number of heads H"
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	lo, hi := math.Inf(1), math.Inf(-1)
	seen := map[int]bool{}
	for _, h := range heads {
		if !seen[h] {
			seen[h] = true
			ticks = append(ticks, plot.Tick{Value: float64(h), Label: strconv.Itoa(h)})
		}
		lo, hi = math.Min(lo, float64(h)), math.Max(hi, float64(h))
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if len(heads) > 0 {
		p.X.Min, p.X.Max = lo/1.25, hi*1.25
	}
}

// addLinePoints draws xy (positive y only when logY) as a line with a
// glyph at every point.
func addLinePoints(p *plot.Plot, name string, xy plotter.XYs, c color.Color, shape int, dashed, logY bool) {
	var keep plotter.XYs
	for _, v := range xy {
		if math.IsNaN(v.Y) || math.IsInf(v.Y, 0) || logY && v.Y <= 0 {
			continue
		}
		keep = append(keep, v)
	}
	if len(keep) == 0 {
		return
	}
	l, pts, err := plotter.NewLinePoints(keep)
	if err != nil {
		panic(fmt.Sprintf("nb: series %q: %v", name, err))
	}
	l.Color, pts.Color = c, c
	l.Width = vg.Points(1.5)
	pts.Shape = plotutil.Shape(shape)
	pts.Radius = vg.Points(3)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l, pts)
	if name != "" {
		p.Legend.Add(name, l, pts)
	}
}

// MarginPlot draws the normalized NTK margin at theta_0 against H: over
// the trained blocks (solid) and over U only (dashed, same colour), one
// colour per initialization (in order of first appearance), and the ideal
// attention's U-only margin (grey, dashed).
func MarginPlot(rows []MarginRow) *plot.Plot {
	p := newPlot("NTK margin at initialization", "", "margin γ / mean ‖ψ_i‖", false)
	p.Legend.Left = true
	var heads []int
	var labels []string
	full, onlyU := map[string]plotter.XYs{}, map[string]plotter.XYs{}
	ideal := map[int]float64{}
	for _, r := range rows {
		heads = append(heads, r.Heads)
		if _, ok := full[r.Label()]; !ok {
			labels = append(labels, r.Label())
		}
		full[r.Label()] = append(full[r.Label()], plotter.XY{X: float64(r.Heads), Y: r.Normalized})
		onlyU[r.Label()] = append(onlyU[r.Label()], plotter.XY{X: float64(r.Heads), Y: r.NormalizedU})
		ideal[r.Heads] = r.IdealNormalized
	}
	headsAxis(p, heads)
	p.Y.Min = 0
	for i, l := range labels {
		addLinePoints(p, l+" (U,W)", full[l], plotutil.Color(i), i, false, false)
		addLinePoints(p, l+" (U only)", onlyU[l], plotutil.Color(i), i, true, false)
	}
	var idealXY plotter.XYs
	for _, h := range heads {
		if len(idealXY) == 0 || idealXY[len(idealXY)-1].X != float64(h) {
			idealXY = append(idealXY, plotter.XY{X: float64(h), Y: ideal[h]})
		}
	}
	addLinePoints(p, "ideal attention (U only)", idealXY, color.Gray{Y: 60}, len(labels), true, false)
	if p.Y.Max > p.Y.Min {
		p.Y.Max += 0.6 * (p.Y.Max - p.Y.Min) // room for the legend
	}
	return p
}

// BoundsPlot draws, against H on log-log axes, each measured quantity
// (solid) beside its bound (dashed, same colour): max_i ||grad Phi_i||
// against G, lambda_max(Hess F) against L, and -lambda_min(Hess F)/F
// against kappa (left out where lambda_min >= 0: F is locally convex
// there and the bound holds trivially).
func BoundsPlot(title string, rows []BoundRow) *plot.Plot {
	p := newPlot(title, "", "measured (solid) / bound (dashed)", true)
	p.Legend.Left = true
	var heads []int
	for _, r := range rows {
		heads = append(heads, r.Heads)
	}
	headsAxis(p, heads)
	series := []struct {
		name            string
		measured, bound func(BoundRow) float64
	}{
		{"max ||grad Φ_i|| vs G", func(r BoundRow) float64 { return r.GradMax }, func(r BoundRow) float64 { return r.Lipschitz }},
		{"λ_max vs L", func(r BoundRow) float64 { return r.LambdaMax }, func(r BoundRow) float64 { return r.Smoothness }},
		{"-λ_min/F vs κ", func(r BoundRow) float64 { return -r.Ratio() }, func(r BoundRow) float64 { return r.Kappa }},
	}
	for i, s := range series {
		var m, b plotter.XYs
		for _, r := range rows {
			m = append(m, plotter.XY{X: float64(r.Heads), Y: s.measured(r)})
			b = append(b, plotter.XY{X: float64(r.Heads), Y: s.bound(r)})
		}
		addLinePoints(p, s.name, m, plotutil.Color(i), i, false, true)
		addLinePoints(p, "", b, plotutil.Color(i), i, true, true)
	}
	if p.Y.Max > p.Y.Min && p.Y.Min > 0 {
		p.Y.Max *= math.Pow(p.Y.Max/p.Y.Min, 0.3) // room for the legend
	}
	return p
}
