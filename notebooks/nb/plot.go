package nb

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Size of every PNG.
const (
	Width  = 16 * vg.Centimeter
	Height = 10 * vg.Centimeter
)

// PNG renders p as Width x Height PNG bytes, for display.PNG in a notebook.
// It panics if rendering fails, which only a broken plot can cause.
func PNG(p *plot.Plot) []byte {
	w, err := p.WriterTo(Width, Height, "png")
	if err != nil {
		panic(fmt.Sprintf("nb: rendering PNG: %v", err))
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		panic(fmt.Sprintf("nb: rendering PNG: %v", err))
	}
	return buf.Bytes()
}

// Series is one line of a Lines plot.
type Series struct {
	Name   string // legend label; empty leaves it out of the legend
	X, Y   []float64
	Dashed bool
}

// Lines plots series as lines, in plotutil's colours by order, with a
// log-scale y axis when logY is set (non-positive y values are dropped
// there, since a log axis cannot show them). Series of unequal X and Y
// lengths panic.
func Lines(title, xLabel, yLabel string, logY bool, series ...Series) *plot.Plot {
	p := newPlot(title, xLabel, yLabel, logY)
	for i, s := range series {
		addLine(p, s, i, logY)
	}
	return p
}

// LossPlot draws the training risk of each run against the step (solid)
// and its test risk where recorded (dashed, same colour), on a log scale.
func LossPlot(title string, runs ...*Run) *plot.Plot {
	p := newPlot(title, "GD step k", "logistic risk F", true)
	// Losses fall from the top left: the bottom left is the emptiest corner.
	p.Legend.Top, p.Legend.Left = false, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(8)
	for i, r := range runs {
		name := r.Name
		if name == "" {
			name = "run " + strconv.Itoa(i)
		}
		addLine(p, Series{Name: name + " train", X: r.Steps, Y: r.Loss}, i, true)
		if len(r.TestSteps) > 0 {
			addLine(p, Series{Name: name + " test", X: r.TestSteps, Y: r.TestLoss, Dashed: true}, i, true)
		}
	}
	return p
}

func newPlot(title, xLabel, yLabel string, logY bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, s Series, colour int, logY bool) {
	if len(s.X) != len(s.Y) {
		panic(fmt.Sprintf("nb: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y)))
	}
	xy := make(plotter.XYs, 0, len(s.X))
	for j, y := range s.Y {
		if math.IsNaN(y) || math.IsInf(y, 0) || logY && y <= 0 {
			continue
		}
		xy = append(xy, plotter.XY{X: s.X[j], Y: y})
	}
	if len(xy) == 0 {
		return
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		panic(fmt.Sprintf("nb: series %q: %v", s.Name, err))
	}
	l.Color = plotutil.Color(colour)
	l.Width = vg.Points(1.5)
	if s.Dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l)
	if s.Name != "" {
		p.Legend.Add(s.Name, l)
	}
}

// AttentionMap draws the attention of one head on one sequence, as of the
// evaluator's last Evaluate: one row per query (a single row for
// first-token models), one column per key, colour from 0 (dark) to the
// largest weight rounded up to a tenth (bright, given in the title).
// Relevant (signal) tokens are starred on both axes. c must be the config
// the evaluator was built with.
func AttentionMap(c Config, ev *Evaluator, data *Dataset, seq, head int) (*plot.Plot, error) {
	if seq < 0 || seq >= data.N {
		return nil, fmt.Errorf("nb: sequence %d out of range [0, %d)", seq, data.N)
	}
	if head < 0 || head >= c.Heads {
		return nil, fmt.Errorf("nb: head %d out of range [0, %d)", head, c.Heads)
	}
	rows, tokens := c.Rows(), data.T
	w := ev.Weights()
	if len(w) != data.N*rows*c.Heads*tokens {
		return nil, fmt.Errorf("nb: evaluator holds %d attention weights, want n*Rows*H*T = %d*%d*%d*%d: evaluate it on this data and config first",
			len(w), data.N, rows, c.Heads, tokens)
	}
	g := &attentionGrid{rows: rows, cols: tokens, z: make([]float64, rows*tokens)}
	for r := 0; r < rows; r++ {
		off := ((seq*rows+r)*c.Heads + head) * tokens
		copy(g.z[r*tokens:(r+1)*tokens], w[off:off+tokens])
	}

	top := 0.0
	for _, z := range g.z {
		top = math.Max(top, z)
	}
	top = math.Max(0.1, math.Ceil(top*10-1e-9)/10)

	p := plot.New()
	p.Title.Text = fmt.Sprintf("head %d, sequence %d (y = %+g), colour 0..%.1f, * relevant", head, seq, data.Y[seq], top)
	p.X.Label.Text = "key token s"
	p.Y.Label.Text = "query token t"
	hm := plotter.NewHeatMap(g, moreland.Kindlmann().Palette(256))
	hm.Min, hm.Max = 0, top
	p.Add(hm)

	label := func(t int) string {
		if data.Mask != nil && data.Mask[seq*tokens+t] {
			return strconv.Itoa(t) + "*"
		}
		return strconv.Itoa(t)
	}
	var xTicks, yTicks []plot.Tick
	for s := 0; s < tokens; s++ {
		xTicks = append(xTicks, plot.Tick{Value: float64(s), Label: label(s)})
	}
	for r := 0; r < rows; r++ {
		yTicks = append(yTicks, plot.Tick{Value: g.Y(r), Label: label(r)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xTicks)
	p.Y.Tick.Marker = plot.ConstantTicks(yTicks)
	return p, nil
}

// attentionGrid is a rows x cols matrix as a plotter.GridXYZ, with row 0
// (the first query) drawn at the top.
type attentionGrid struct {
	rows, cols int
	z          []float64
}

func (g *attentionGrid) Dims() (c, r int)   { return g.cols, g.rows }
func (g *attentionGrid) Z(c, r int) float64 { return g.z[r*g.cols+c] }
func (g *attentionGrid) X(c int) float64    { return float64(c) }
func (g *attentionGrid) Y(r int) float64    { return float64(g.rows - 1 - r) }
