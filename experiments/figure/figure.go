// Package figure holds the drawing helpers the experiments share: plot
// size, colours and glyphs, axes with labelled ticks, lines with points and
// confidence bars, and rendering to PNG and SVG for the runner's plots/.
// It knows nothing of experiments; the builders that pick what to draw
// live with each experiment.
//
// Two rules keep a plot honest. Series of means drawn against the same x
// values are shifted sideways by a small, distinct offset each (AddStats),
// so that equal values (e.g. two initializations with the same margin)
// show as separate markers instead of one hiding the other. Points a log
// axis cannot show (values <= 0) are counted, and Plots adds a legend
// line saying how many were left out.
package figure

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mhattn/mha/experiments/runner"
)

// Size of every plot (PNG and SVG).
var (
	Width  = 16 * vg.Centimeter
	Height = 11 * vg.Centimeter
)

// palette is Tableau 10: distinct colours, one per line.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

// Color is the i-th colour of the palette (cycling).
func Color(i int) color.Color { return palette[i%len(palette)] }

// Gray is the colour of reference lines.
var Gray = color.Gray{Y: 90}

// Dashed and Dotted are line dash patterns.
var (
	Dashed = []vg.Length{vg.Points(4), vg.Points(3)}
	Dotted = []vg.Length{vg.Points(1), vg.Points(2)}
)

var glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.PyramidGlyph{}}

// Glyph is the i-th point shape (cycling).
func Glyph(i int) draw.GlyphDrawer { return glyphs[i%len(glyphs)] }

// Builder is one named plot builder.
type Builder struct {
	Name  string
	Build func(*runner.Result) (*plot.Plot, error)
}

// Plots builds each plot (a nil plot is skipped) and renders it as PNG
// and SVG: a runner.PlotFunc. A plot that left out points a log axis
// cannot show gets a legend line saying how many.
func Plots(builders ...Builder) runner.PlotFunc {
	return func(res *runner.Result) ([]runner.NamedPlot, error) {
		var out []runner.NamedPlot
		for _, b := range builders {
			p, err := b.Build(res)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.Name, err)
			}
			if p != nil {
				NoteHidden(p)
				out = append(out, runner.NamedPlot{Name: b.Name, Render: Render(p), SVG: RenderSVG(p)})
			}
		}
		return out, nil
	}
}

// hidden counts, per plot, the points left out because a log axis cannot
// show them; stats counts the series AddStats drew, for their offsets.
var hidden = struct {
	sync.Mutex
	n, stats map[*plot.Plot]int
}{n: map[*plot.Plot]int{}, stats: map[*plot.Plot]int{}}

func addHidden(p *plot.Plot, n int) {
	if n == 0 {
		return
	}
	hidden.Lock()
	hidden.n[p] += n
	hidden.Unlock()
}

// nextSeries returns the number of series AddStats drew on p before.
func nextSeries(p *plot.Plot) int {
	hidden.Lock()
	defer hidden.Unlock()
	j := hidden.stats[p]
	hidden.stats[p]++
	return j
}

// SeriesOffset is the sideways shift of series j, as a fraction of the x
// axis (of its decades on a log axis): 0, -1, +1, -2, +2, ... times it.
const SeriesOffset = 0.015

// offsetX shifts x by series j's offset on axis a.
func offsetX(a *plot.Axis, x float64, j int) float64 {
	k := float64((j + 1) / 2)
	if j%2 == 1 {
		k = -k
	}
	if k == 0 || !(a.Max > a.Min) {
		return x
	}
	if isLog(a) {
		if !(a.Min > 0) {
			return x
		}
		return x * math.Pow(a.Max/a.Min, SeriesOffset*k)
	}
	return x + SeriesOffset*k*(a.Max-a.Min)
}

func isLog(a *plot.Axis) bool {
	_, ok := a.Scale.(plot.LogScale)
	return ok
}

// shown keeps the points of xy that p's axes can show, counting in
// Hidden those left out only for being <= 0 on a log axis.
func shown(p *plot.Plot, xy plotter.XYs) plotter.XYs {
	logX, logY := isLog(&p.X), isLog(&p.Y)
	keep := Positive(xy, logX, logY)
	addHidden(p, len(Positive(xy, false, false))-len(keep))
	return keep
}

// Hidden is the number of points AddStats, AddLine and AddLinePoints left
// out of p because a log axis of p cannot show them (values <= 0).
func Hidden(p *plot.Plot) int {
	hidden.Lock()
	defer hidden.Unlock()
	return hidden.n[p]
}

// NoteHidden adds to p's legend a line such as "3 points <= 0 not shown
// (log axis)" if points were left out (see Hidden), once.
func NoteHidden(p *plot.Plot) {
	hidden.Lock()
	n := hidden.n[p]
	delete(hidden.n, p)
	hidden.Unlock()
	if n == 0 {
		return
	}
	what := "points"
	if n == 1 {
		what = "point"
	}
	p.Legend.Add(fmt.Sprintf("%d %s <= 0 not shown (log axis)", n, what))
}

// Render renders p as a Width x Height PNG.
func Render(p *plot.Plot) func(io.Writer) error { return render(p, "png") }

// RenderSVG renders p as a Width x Height SVG.
func RenderSVG(p *plot.Plot) func(io.Writer) error { return render(p, "svg") }

func render(p *plot.Plot, format string) func(io.Writer) error {
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
		wt, err := p.WriterTo(Width, Height, format)
		if err != nil {
			return err
		}
		_, err = wt.WriteTo(w)
		return err
	}
}

// New is a plot with a title, axis labels, a grid and plain ticks.
func New(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	p.X.Tick.Marker = plainTicks{}
	p.Y.Tick.Marker = plainTicks{}
	return p
}

// LogAxis makes a a log axis.
func LogAxis(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = logTicks{}
}

// logTicks labels powers of ten over ranges of several decades and falls
// back to plain ticks over narrow ones.
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

// ValueAxis puts a labelled tick at every value: a log axis (padded by a
// factor) when every value is > 0 and they span more than a factor 3, else
// a linear one (padded by a margin).
func ValueAxis(a *plot.Axis, vals []float64) {
	vals = slices.DeleteFunc(slices.Clone(vals), func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) })
	if len(vals) == 0 {
		return
	}
	var ts []plot.Tick
	for _, v := range vals {
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)})
	}
	a.Tick.Marker = plot.ConstantTicks(ts)
	lo, hi := slices.Min(vals), slices.Max(vals)
	if lo > 0 && hi/lo > 3 {
		a.Scale = plot.LogScale{}
		a.Min, a.Max = lo/1.3, hi*1.3
		return
	}
	pad := 0.08 * (hi - lo)
	if pad == 0 {
		pad = 0.5 * math.Max(math.Abs(lo), 1)
	}
	a.Min, a.Max = lo-pad, hi+pad
}

// IntAxis is ValueAxis for integers.
func IntAxis(a *plot.Axis, vals []int) {
	f := make([]float64, len(vals))
	for i, v := range vals {
		f[i] = float64(v)
	}
	ValueAxis(a, f)
}

// Positive keeps the points that a plot with the given log axes can show:
// finite y, and x, y > 0 on log axes.
func Positive(xy plotter.XYs, logX, logY bool) plotter.XYs {
	var out plotter.XYs
	for _, p := range xy {
		if math.IsNaN(p.Y) || math.IsInf(p.Y, 0) || math.IsNaN(p.X) || (logX && !(p.X > 0)) || (logY && !(p.Y > 0)) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// AddLine draws xy as a line; legend "" leaves it out of the legend.
// Points p's axes cannot show are left out (see Hidden).
func AddLine(p *plot.Plot, xy plotter.XYs, c color.Color, dash []vg.Length, legend string) error {
	xy = shown(p, xy)
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

// AddLinePoints draws xy as a line with a glyph at every point. Points
// p's axes cannot show are left out (see Hidden).
func AddLinePoints(p *plot.Plot, xy plotter.XYs, c color.Color, shape draw.GlyphDrawer, legend string) error {
	xy = shown(p, xy)
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
	if legend != "" {
		p.Legend.Add(legend, l, s)
	}
	return nil
}

type errorPoints struct {
	plotter.XYs
	plotter.YErrors
}

// AddStats draws the means of stats at xs joined by a line, with a bar
// over each 95% interval where there is more than one repetition. With
// logY, points whose mean is not > 0 are left out (counted in Hidden) and
// bars clipped above 0. Each series AddStats draws on p is shifted
// sideways by its own small offset (SeriesOffset) and drawn a little
// thinner than the one before, so that series with equal values stay
// apart; call it after setting the x axis's range (ValueAxis, IntAxis).
func AddStats(p *plot.Plot, xs []float64, stats []runner.Stats, c color.Color, shape draw.GlyphDrawer, dash []vg.Length, legend string, logX, logY bool) error {
	var keep plotter.XYs
	var errs plotter.YErrors
	bars := false
	j := nextSeries(p)
	for i, s := range stats {
		q := plotter.XY{X: xs[i], Y: s.Mean}
		if len(Positive(plotter.XYs{q}, logX, logY)) == 0 {
			if len(Positive(plotter.XYs{q}, false, false)) == 1 {
				addHidden(p, 1)
			}
			continue
		}
		q.X = offsetX(&p.X, q.X, j)
		lo, hi := s.Mean-s.Lo, s.Hi-s.Mean
		if math.IsNaN(lo) || math.IsNaN(hi) {
			lo, hi = 0, 0
		}
		if logY && s.Mean-lo <= 0 {
			lo = 0.9 * s.Mean
		}
		bars = bars || s.N > 1
		keep = append(keep, q)
		errs = append(errs, struct{ Low, High float64 }{lo, hi})
	}
	if len(keep) == 0 {
		return nil
	}
	l, sc, err := plotter.NewLinePoints(keep)
	if err != nil {
		return err
	}
	// Earlier series are drawn wider, so that one drawn over another with
	// equal values still shows around it.
	l.Color, l.Width, l.Dashes = c, vg.Points(max(2.2-0.3*float64(j), 1.2)), dash
	sc.Color, sc.Shape, sc.Radius = c, shape, vg.Points(max(3.6-0.3*float64(j), 2.4))
	p.Add(l, sc)
	if bars {
		eb, err := plotter.NewYErrorBars(errorPoints{keep, errs})
		if err != nil {
			return err
		}
		eb.Color = c
		p.Add(eb)
	}
	if legend != "" {
		p.Legend.Add(legend, l, sc)
	}
	return nil
}

// Headroom puts the legend at the top and raises the top of a linear y
// axis so that a legend of the given number of entries does not cover the
// data. Call it after adding the data.
func Headroom(p *plot.Plot, entries int) {
	p.Legend.Top = true
	f := math.Min(0.05+0.06*float64(entries), 0.8)
	if p.Y.Max > p.Y.Min {
		p.Y.Max = (p.Y.Max - f*p.Y.Min) / (1 - f)
	}
}

// LogHeadroom puts the legend top right and raises the top of a log y
// axis by factor. Call it after adding the data.
func LogHeadroom(p *plot.Plot, factor float64) {
	p.Legend.Top, p.Legend.Left = true, false
	if p.Y.Max > 0 {
		p.Y.Max *= factor
	}
}

// LegendEntry adds a legend line without data (for a style key).
func LegendEntry(p *plot.Plot, dash []vg.Length, legend string) {
	ln := &plotter.Line{XYs: plotter.XYs{{X: 1, Y: 1}}, LineStyle: draw.LineStyle{Color: Gray, Width: vg.Points(1.5), Dashes: dash}}
	p.Legend.Add(legend, ln)
}
