package experiments

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot size of every PNG.
var (
	PlotWidth  = 16 * vg.Centimeter
	PlotHeight = 11 * vg.Centimeter
)

// palette is Tableau 10: distinct colours, one per point.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

func paletteColor(i int) color.Color { return palette[i%len(palette)] }

var dashed = []vg.Length{vg.Points(4), vg.Points(3)}

// HeadSweepPlots builds the head sweep's plots from a result: loss_vs_step,
// test_vs_heads, distance_vs_heads and relevant_attention.
func HeadSweepPlots(res *Result) ([]NamedPlot, error) {
	var out []NamedPlot
	for _, b := range []struct {
		name  string
		build func(*Result) (*plot.Plot, error)
	}{
		{"loss_vs_step", LossPlot},
		{"test_vs_heads", TestPlot},
		{"distance_vs_heads", DistancePlot},
		{"relevant_attention", AttentionPlot},
	} {
		p, err := b.build(res)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		out = append(out, NamedPlot{Name: b.name, Render: render(p)})
	}
	return out, nil
}

func render(p *plot.Plot) func(io.Writer) error {
	return func(w io.Writer) (err error) {
		defer func() {
			// gonum/plot panics on ranges it cannot draw; a plot is not
			// worth losing a run over.
			if r := recover(); r != nil {
				err = fmt.Errorf("drawing %q: %v", p.Title.Text, r)
			}
		}()
		for _, a := range []*plot.Axis{&p.X, &p.Y} {
			if _, ok := a.Scale.(plot.LogScale); ok && !(a.Min > 0 && a.Max > 0) {
				a.Min, a.Max = 1, 10 // no data yet
			}
			if a.Min == a.Max {
				a.Min, a.Max = a.Min/2, a.Max*2+1
			}
		}
		wt, err := p.WriterTo(PlotWidth, PlotHeight, "png")
		if err != nil {
			return err
		}
		_, err = wt.WriteTo(w)
		return err
	}
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	p.X.Tick.Marker = plainTicks{}
	p.Y.Tick.Marker = plainTicks{}
	return p
}

func logAxis(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = logTicks{}
}

// logTicks labels powers of ten over ranges of several decades and falls
// back to plain ticks over narrow ones, where a log axis would show one
// label or none.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if hi/lo >= 30 {
		return plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	}
	return plainTicks{}.Ticks(lo, hi)
}

// plainTicks are plot.DefaultTicks with labels in the shortest %g form.
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'g', 4, 64)
		}
	}
	return ts
}

// headsAxis is a log axis with a labelled tick at every head count.
func headsAxis(a *plot.Axis, res *Result) {
	a.Scale = plot.LogScale{}
	var ts []plot.Tick
	for _, p := range res.Points {
		ts = append(ts, plot.Tick{Value: float64(p.Heads), Label: strconv.Itoa(p.Heads)})
	}
	a.Tick.Marker = plot.ConstantTicks(ts)
	if len(ts) > 0 {
		// Pad by a factor so the end points are not on the frame.
		a.Min, a.Max = ts[0].Value, ts[0].Value
		for _, t := range ts {
			a.Min, a.Max = math.Min(a.Min, t.Value), math.Max(a.Max, t.Value)
		}
		a.Min /= 1.3
		a.Max *= 1.3
	}
}

// positive keeps the points both coordinates of which are > 0 and finite,
// which a log-log plot can show.
func positive(xy plotter.XYs, logX, logY bool) plotter.XYs {
	var out plotter.XYs
	for _, p := range xy {
		if math.IsNaN(p.Y) || math.IsInf(p.Y, 0) || (logX && !(p.X > 0)) || (logY && !(p.Y > 0)) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func addLine(p *plot.Plot, xy plotter.XYs, c color.Color, dash []vg.Length, legend string) error {
	if len(xy) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return err
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	l.Dashes = dash
	p.Add(l)
	if legend != "" {
		p.Legend.Add(legend, l)
	}
	return nil
}

func addLinePoints(p *plot.Plot, xy plotter.XYs, c color.Color, shape draw.GlyphDrawer, legend string) error {
	if len(xy) == 0 {
		return nil
	}
	l, s, err := plotter.NewLinePoints(xy)
	if err != nil {
		return err
	}
	l.Color, l.Width = c, vg.Points(1.5)
	s.Color, s.Shape, s.Radius = c, shape, vg.Points(3)
	p.Add(l, s)
	p.Legend.Add(legend, l, s)
	return nil
}

// headroom raises the top of a linear y axis so that a legend in the top
// right corner does not cover the data.
func headroom(p *plot.Plot) {
	p.Legend.Top = true
	if p.Y.Max > p.Y.Min {
		p.Y.Max += 0.45 * (p.Y.Max - p.Y.Min)
	}
}

// LossPlot is the training loss F(theta_k) against the step k, log-log,
// one solid curve per H and the theory's training bound
// 2 F(theta*) + ||theta* - theta_0||^2 / (eta k) dashed in the same colour.
func LossPlot(res *Result) (*plot.Plot, error) {
	p := newPlot("Training loss under GD (dashed: theory bound)", "step k", "training loss F(θ_k)")
	logAxis(&p.X)
	logAxis(&p.Y)
	p.Legend.Top = false
	p.Legend.Left = true
	for i, pt := range res.Points {
		var xy, bound plotter.XYs
		for _, r := range pt.Rows {
			xy = append(xy, plotter.XY{X: float64(r.Step), Y: r.TrainLoss})
			if b := pt.Theory.Bound; b != nil && r.Step > 0 {
				bound = append(bound, plotter.XY{X: float64(r.Step), Y: b.TrainBound(r.Step)})
			}
		}
		c := paletteColor(i)
		if err := addLine(p, positive(xy, true, true), c, nil, fmt.Sprintf("H = %d", pt.Heads)); err != nil {
			return nil, err
		}
		if err := addLine(p, positive(bound, true, true), c, dashed, ""); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// byHeads collects one value per point against H.
func byHeads(res *Result, f func(PointResult) float64) plotter.XYs {
	var xy plotter.XYs
	for _, pt := range res.Points {
		if pt.Status != StatusOK && pt.Status != StatusDiverged {
			continue
		}
		xy = append(xy, plotter.XY{X: float64(pt.Heads), Y: f(pt)})
	}
	return positive(xy, true, false)
}

// TestPlot is the final test loss and test 0-1 error (and, for reference,
// the final training loss) against H, log x.
func TestPlot(res *Result) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Test risk after K = %d steps", res.Config.Steps), "number of heads H", "loss / error")
	headsAxis(&p.X, res)
	p.Y.Min = 0
	for i, s := range []struct {
		name  string
		f     func(PointResult) float64
		shape draw.GlyphDrawer
	}{
		{"test loss", func(p PointResult) float64 { return float64(p.TestLoss) }, draw.CircleGlyph{}},
		{"test 0-1 error", func(p PointResult) float64 { return float64(p.TestErr) }, draw.BoxGlyph{}},
		{"training loss", func(p PointResult) float64 { return float64(p.TrainLoss) }, draw.TriangleGlyph{}},
	} {
		if err := addLinePoints(p, byHeads(res, s.f), paletteColor(i), s.shape, s.name); err != nil {
			return nil, err
		}
	}
	headroom(p)
	return p, nil
}

// DistancePlot is ||theta_K - theta_0|| against H, log x, with the
// certificate's distance ||theta* - theta_0|| for comparison.
func DistancePlot(res *Result) (*plot.Plot, error) {
	p := newPlot("Distance travelled by GD", "number of heads H", "‖θ_K − θ_0‖")
	headsAxis(&p.X, res)
	p.Y.Min = 0
	if err := addLinePoints(p, byHeads(res, func(p PointResult) float64 { return float64(p.DistFromInit) }), paletteColor(0), draw.CircleGlyph{}, "GD: ‖θ_K − θ_0‖"); err != nil {
		return nil, err
	}
	cert := byHeads(res, func(p PointResult) float64 {
		if p.Theory.Certificate == nil {
			return math.NaN()
		}
		return float64(p.Theory.Certificate.Distance)
	})
	if err := addLinePoints(p, positive(cert, true, false), paletteColor(1), draw.BoxGlyph{}, "certificate: ‖θ* − θ_0‖"); err != nil {
		return nil, err
	}
	headroom(p)
	return p, nil
}

// AttentionPlot is the mean attention mass on relevant tokens of the test
// set against the step k, one curve per H, with the fraction of relevant
// tokens (the mass of uniform attention) dashed.
func AttentionPlot(res *Result) (*plot.Plot, error) {
	p := newPlot("Attention on relevant tokens (test set)", "step k", "mean attention mass on relevant tokens")
	p.Legend.Top = true
	p.Legend.Left = true
	maxStep := 0
	for i, pt := range res.Points {
		var xy plotter.XYs
		for _, r := range pt.Rows {
			xy = append(xy, plotter.XY{X: float64(r.Step), Y: r.RelevantAttention})
			maxStep = max(maxStep, r.Step)
		}
		if err := addLine(p, positive(xy, false, false), paletteColor(i), nil, fmt.Sprintf("H = %d", pt.Heads)); err != nil {
			return nil, err
		}
	}
	d := res.Config.Data
	uniform := float64(d.Relevant()) / float64(d.Tokens)
	if err := addLine(p, plotter.XYs{{X: 0, Y: uniform}, {X: float64(max(maxStep, 1)), Y: uniform}}, color.Gray{Y: 90}, dashed,
		fmt.Sprintf("uniform attention (%d/%d)", d.Relevant(), d.Tokens)); err != nil {
		return nil, err
	}
	return p, nil
}
