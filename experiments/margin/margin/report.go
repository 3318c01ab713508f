package margin

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/mhattn/mha/experiments/figure"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/theory"
)

// initNames are the initializations of a result, in the order of the
// first point that measured them.
func initNames(pts []Point) []string {
	var out []string
	for _, p := range pts {
		for _, m := range p.Inits {
			if !slices.Contains(out, m.Init) {
				out = append(out, m.Init)
			}
		}
	}
	return out
}

// value is f of initialization name at point i, NaN where not measured.
func value(pts []Point, name string, f func(InitMargin) float64) func(i int) float64 {
	return func(i int) float64 {
		m, ok := pts[i].Init(name)
		if !ok {
			return math.NaN()
		}
		return f(m)
	}
}

func normalized(m InitMargin) float64 { return float64(m.Normalized) }
func gamma(m InitMargin) float64      { return float64(m.NTK.Gamma) }
func attention(m InitMargin) float64  { return float64(m.RelevantAttention) }

func stats(g runner.Group, v func(i int) float64) runner.Stats {
	var xs []float64
	for _, i := range g.Records {
		xs = append(xs, v(i))
	}
	return runner.NewStats(xs)
}

// separability counts a group's statuses of one initialization.
type separability struct {
	total, separable, notSeparable, undecided, unconverged int
}

func countStatus(pts []Point, g runner.Group, name string) separability {
	var s separability
	for _, i := range g.Records {
		m, ok := pts[i].Init(name)
		if !ok {
			continue
		}
		s.total++
		switch m.NTK.Status {
		case theory.Certified.String():
			s.separable++
		case theory.SeparableNotConverged.String():
			s.separable++
			s.unconverged++
		case theory.NotSeparable.String():
			s.notSeparable++
		default:
			s.undecided++
		}
	}
	return s
}

// cell is "separable/total", with "*" when a separable margin did not
// converge (gamma is then its certified lower bound) and "+k?" for k
// undecided points.
func (s separability) cell() string {
	c := fmt.Sprintf("%d/%d", s.separable, s.total)
	if s.unconverged > 0 {
		c += "*"
	}
	if s.undecided > 0 {
		c += fmt.Sprintf(" +%d?", s.undecided)
	}
	return c
}

// groupNP is n/P of a group, with "!" when n <= P.
func groupNP(pts []Point, g runner.Group) (string, bool) {
	if len(g.Records) == 0 {
		return "-", false
	}
	p := pts[g.Records[0]]
	s := fmt.Sprintf("%d/%d", p.N, p.P)
	if p.DimensionCount {
		s += "!"
	}
	return s, p.DimensionCount
}

// seedNote is res.SeedNote, saying that the initializations' seed is
// the data's when the key seed (which sets both) is swept.
func seedNote(res *runner.Result) string {
	note := res.SeedNote()
	if note != "" && slices.Contains(res.SeedAxes(), "seed") {
		note += "; initialization seed = data.seed"
	}
	return note
}

// Table prints, per group of points (every swept value but the seeds) and
// initialization: n/P, how many seeds' features are separable
// (theory.MarginStatus), the normalized margin gamma / mean ||psi|| (mean
// and 95% interval over the seeds), its ratio to the ideal's, the raw
// gamma and the attention mass on relevant tokens.
func Table(w io.Writer, res *runner.Result) error {
	pts, err := Points(res)
	if err != nil {
		return err
	}
	if note := seedNote(res); note != "" {
		if err := runner.WriteNote(w, "", "", note); err != nil {
			return err
		}
	}
	names := initNames(pts)
	keys := len(res.GroupHeader()) + 1
	tw := runner.NewTable(w, keys)
	head := append(res.GroupHeader(), "init", "n/P", "separable", "gamma/|psi|", "/ideal", "gamma", "rel. attn")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	counted, unconverged, undecided := false, false, false
	for _, g := range res.Groups() {
		np, dim := groupNP(pts, g)
		counted = counted || dim
		ideal := stats(g, value(pts, InitIdeal, normalized))
		for _, name := range names {
			sep := countStatus(pts, g, name)
			unconverged, undecided = unconverged || sep.unconverged > 0, undecided || sep.undecided > 0
			ratio := "-"
			if ideal.N > 0 && name != InitIdeal {
				ratio = fmt.Sprintf("%.3f", stats(g, value(pts, name, normalized)).Mean/ideal.Mean)
			}
			cells := append(res.GroupCells(g), name, np, sep.cell(), res.MeanCI(g, value(pts, name, normalized)), ratio,
				res.MeanCI(g, value(pts, name, gamma)), fmt.Sprintf("%.3f", stats(g, value(pts, name, attention)).Mean))
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
	}
	unfinished := 0
	for _, r := range res.Records {
		if !r.Finished() {
			unfinished++
		}
	}
	if unfinished > 0 {
		fmt.Fprintf(tw, "(%d points not finished)\t\n", unfinished)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	feats := "?"
	if len(pts) > 0 {
		feats = pts[0].Features
	}
	notes := []string{fmt.Sprintf("Features %s (margin.features). separable: seeds whose NTK features are separable, the rest proved not separable (theory.MarginStatus).", feats),
		"gamma/|psi| = gamma / mean_i ||psi_i||, the margin in units of the mean feature norm: free of the features' common scale, so it compares across initializations; /ideal is its ratio to the ideal attention's on the same features. rel. attn: attention mass on relevant tokens (train set)."}
	if unconverged {
		notes = append(notes, "* some separable margins did not converge: gamma is their certified lower bound.")
	}
	if undecided {
		notes = append(notes, "+k?: k seeds undecided (the solver stopped before proving either; gamma 0 there is not a proof).")
	}
	if counted {
		notes = append(notes, "n/P with !: n <= P, so separability is a dimension count (n generic vectors in P >= n dimensions are separable); only the size of the normalized margin says something there.")
	}
	for _, n := range notes {
		if err := runner.WriteNote(w, "", "", n); err != nil {
			return err
		}
	}
	return nil
}

// Plots draws normalized_margin_vs_heads and normalized_margin_vs_zeta
// (PlotAgainst), for the axes swept with more than one value.
func Plots(res *runner.Result) ([]runner.NamedPlot, error) {
	var bs []figure.Builder
	for _, x := range []string{"heads", "data.zeta"} {
		if res.XAxis(x) == x {
			x := x
			bs = append(bs, figure.Builder{Name: "normalized_margin_vs_" + res.AxisName(x), Build: func(r *runner.Result) (*plot.Plot, error) { return PlotAgainst(r, x) }})
		}
	}
	return figure.Plots(bs...)(res)
}

// PlotAgainst is the normalized NTK margin gamma / mean ||psi|| against
// the swept key x (heads or data.zeta), one line per initialization
// (colour; the ideal attention dashed) and value of the other swept keys
// (glyph, with its own legend entry), mean and 95% interval over the
// seeds.
func PlotAgainst(res *runner.Result, x string) (*plot.Plot, error) {
	pts, err := Points(res)
	if err != nil {
		return nil, err
	}
	title := "Normalized NTK margin γ / mean‖ψ‖"
	if len(pts) > 0 {
		title += " (" + pts[0].Features + " features)"
	}
	if n := seedNote(res); n != "" {
		title += "\n(" + n + ")"
	}
	xl := map[string]string{"heads": "number of heads H", "data.zeta": "fraction of relevant tokens ζ"}[x]
	if xl == "" {
		xl = res.AxisName(x)
	}
	p := figure.New(title, xl, "γ / mean‖ψ‖")
	var xs []float64
	for _, r := range res.Records {
		if v, ok := r.Value(x); ok && !slices.Contains(xs, v.Float()) {
			xs = append(xs, v.Float())
		}
	}
	figure.ValueAxis(&p.X, xs)
	_, logX := p.X.Scale.(plot.LogScale)
	p.Y.Min = 0
	series := res.Series(x)
	names := initNames(pts)
	for si, s := range series {
		for _, name := range names {
			var st []runner.Stats
			for _, g := range s.Groups {
				st = append(st, stats(g, value(pts, name, normalized)))
			}
			legend := ""
			if si == 0 {
				legend = name
			}
			var dash []vg.Length
			if name == InitIdeal {
				dash = figure.Dashed
			}
			if err := figure.AddStats(p, s.X, st, figure.Color(slices.Index(Inits, name)), figure.Glyph(si), dash, legend, logX, false); err != nil {
				return nil, err
			}
		}
	}
	entries := len(names)
	if len(series) > 1 {
		for si, s := range series {
			sc, err := plotter.NewScatter(plotter.XYs{{X: xs[0], Y: 0}})
			if err != nil {
				return nil, err
			}
			sc.Color, sc.Shape, sc.Radius = figure.Gray, figure.Glyph(si), vg.Points(3)
			p.Legend.Add(s.Name, sc)
			entries++
		}
	}
	figure.Headroom(p, entries)
	return p, nil
}
