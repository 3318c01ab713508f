// Package margin is the NTK margin experiment: the margin gamma at
// initialization (theory.NTK) against H, the initialization scheme and
// the data seed, beside the margin of an ideal attention that attends to
// the relevant tokens only. No GD runs: every point is an NTK Gram matrix
// and its minimum-norm point. Its command is experiments/margin.
package margin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/experiments/figure"
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// Name is the experiment's name in config.json and summary.json.
const Name = "margin"

// InitFirstStep is the "first-step" initialization scheme: zero-W, then
// one GD step of size margin.first_step_eta (graph.FirstStep, in
// chunks of chunk_samples).
const InitFirstStep = "first-step"

// Config is a GD point's config (only its data, model and init matter)
// with the margin's settings; init.scheme may also be "first-step".
type Config struct {
	gdpoint.Config
	Margin Settings `json:"margin"`
}

// Settings are the margin experiment's own settings.
type Settings struct {
	// FirstStepEta is the step size of the "first-step" initialization
	// (finite > 0).
	FirstStepEta float64 `json:"first_step_eta"`
}

// DefaultConfig sweeps H = 1..64, the three initializations and data
// seeds 1, 2, 3 at zeta = 0.25.
func DefaultConfig() Config {
	c := Config{Config: gdpoint.DefaultConfig("results/" + Name), Margin: Settings{FirstStepEta: 100}}
	c.SweepHeads(gdpoint.DefaultHeads...)
	c.SweepAxis(runner.Axis{Key: "init.scheme", Values: raw(`"random"`, `"zero-W"`, `"first-step"`)})
	c.SweepAxis(runner.Axis{Key: "data.seed", Values: raw("1", "2", "3")})
	return c
}

func raw(vs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		out[i] = json.RawMessage(v)
	}
	return out
}

// Validate checks the GD point's fields (init.scheme may be "first-step")
// and the margin's settings.
func (c *Config) Validate() error {
	g := c.Config
	if g.Init.Scheme == InitFirstStep {
		g.Init.Scheme = layers.InitZeroW
	}
	errs := runner.Unjoin(g.Validate())
	for i, e := range errs {
		if strings.HasPrefix(e.Error(), "init.scheme") {
			errs[i] = &runner.FieldError{Field: "init.scheme", Value: c.Init.Scheme,
				Want: fmt.Sprintf("%q, %q or %q", layers.InitRandom, layers.InitZeroW, InitFirstStep)}
		}
	}
	if !(c.Margin.FirstStepEta > 0 && !math.IsInf(c.Margin.FirstStepEta, 0)) {
		errs = append(errs, &runner.FieldError{Field: "margin.first_step_eta", Value: c.Margin.FirstStepEta, Want: "a finite value > 0"})
	}
	return errors.Join(errs...)
}

// Columns of the margin's metrics: one row per point. gamma is the NTK
// margin at theta_0 with its certified bracket; ideal_gamma is
// theory.IdealMargin; relevant_attention the mean attention mass on
// relevant tokens at theta_0 on the training set; initial_loss F(theta_0).
var Columns = []string{"gamma", "gamma_lower", "gamma_upper", "ideal_gamma", "relevant_attention", "initial_loss"}

// Point is the record of a margin point.
type Point struct {
	Status string        `json:"status"`
	Heads  int           `json:"heads"`
	Zeta   runner.Number `json:"zeta"`
	// Init is "random", "zero-W" or "first-step"; FirstStepEta the step
	// size of the first step (first-step only).
	Init         string        `json:"init"`
	FirstStepEta runner.Number `json:"first_step_eta,omitzero"`
	DataSeed     uint64        `json:"data_seed"`
	InitSeed     uint64        `json:"init_seed"`
	// NTK is the NTK margin at theta_0; Ideal the margin of the ideal
	// attention on the same training set.
	NTK               gdpoint.NTKInfo `json:"ntk"`
	Ideal             gdpoint.NTKInfo `json:"ideal"`
	RelevantAttention runner.Number   `json:"relevant_attention"`
	InitialLoss       runner.Number   `json:"initial_loss"`
	WallSeconds       runner.Number   `json:"wall_seconds"`
}

// Experiment is the margin experiment for the runner.
var Experiment = runner.Experiment{
	Name:     Name,
	Doc:      "Measures the NTK margin gamma at initialization against H, the initialization and the data seed, beside the ideal attention's margin.",
	Defaults: func() runner.Config { c := DefaultConfig(); return &c },
	Columns:  Columns,
	Point:    point,
	Cost:     func(c runner.Config) float64 { return float64(gdpoint.Of(c).Heads) + 1 },
	Table:    Table,
	Plots:    Plots,
	Flags:    gdpoint.Flags[:1],
	Memory:   gdpoint.MemoryNTK,
}

// Run runs the experiment quietly and writes its result directory.
func Run(cfg Config, opt runner.Options) (*runner.Result, error) {
	return runner.Run(Experiment, &cfg, opt)
}

func point(ctx context.Context, w *runner.Work) (runner.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return runner.Outcome{}, err
	}
	c := w.Config.(*Config)
	lc := c.Layer()
	md, err := c.NewModel()
	if err != nil {
		return runner.Outcome{}, err
	}
	train, _, _, err := gdpoint.Data(w, c.Data)
	if err != nil {
		return runner.Outcome{}, err
	}
	in := c.Init
	scheme := in.Scheme
	if scheme == InitFirstStep {
		in.Scheme = layers.InitZeroW
	}
	p0, err := layers.NewParams(md, in)
	if err != nil {
		return runner.Outcome{}, err
	}
	res := &Point{Status: runner.StatusOK, Heads: lc.Heads, Zeta: runner.Number(c.Data.Zeta),
		Init: scheme, DataSeed: c.Data.Seed, InitSeed: c.Init.Seed}
	if scheme == InitFirstStep {
		if p0, err = firstStep(md, p0, train, c.Margin.FirstStepEta, c.GraphOptions()); err != nil {
			return runner.Outcome{}, fmt.Errorf("first step: %w", err)
		}
		res.FirstStepEta = runner.Number(c.Margin.FirstStepEta)
	}
	ev, err := graph.NewEvaluatorOptions(md, train, c.GraphOptions())
	if err != nil {
		return runner.Outcome{}, err
	}
	e0, err := ev.Evaluate(p0)
	if err != nil {
		return runner.Outcome{}, err
	}
	res.InitialLoss, res.RelevantAttention = runner.Number(e0.Loss), runner.Number(ev.RelevantMass())
	ntk, err := theory.NewNTK(md, p0, train)
	if err != nil {
		return runner.Outcome{}, err
	}
	res.NTK = gdpoint.NTKInfoOf(ntk.Margin())
	ideal, err := theory.IdealMargin(lc, train)
	if err != nil {
		return runner.Outcome{}, err
	}
	res.Ideal = gdpoint.NTKInfoOf(ideal)
	res.WallSeconds = runner.Number(w.Elapsed().Seconds())
	w.Step(1)
	row := runner.CSVLine(res.NTK.Gamma, res.NTK.Lower, res.NTK.Upper, res.Ideal.Gamma, res.RelevantAttention, res.InitialLoss)
	return runner.Outcome{Status: runner.StatusOK, Rows: []string{row}, Record: res}, nil
}

// Points decodes the records of a margin result (every point; unfinished
// ones have only a status).
func Points(res *runner.Result) ([]Point, error) {
	out := make([]Point, len(res.Records))
	for i, r := range res.Records {
		if err := r.Decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func stats(pts []Point, g runner.Group, f func(Point) float64) runner.Stats {
	var v []float64
	for _, i := range g.Records {
		v = append(v, f(pts[i]))
	}
	return runner.NewStats(v)
}

func gamma(p Point) float64     { return float64(p.NTK.Gamma) }
func idealOf(p Point) float64   { return float64(p.Ideal.Gamma) }
func attention(p Point) float64 { return float64(p.RelevantAttention) }

// Table prints per group of points (every swept value but the seeds) the
// NTK margin's status (theory.MarginStatus: "not separable" only when
// proved), its mean, 95% interval, minimum and maximum over the seeds and
// its largest certified upper bound, the ideal margin with its status,
// their ratio and the attention on relevant tokens.
func Table(w io.Writer, res *runner.Result) error {
	pts, err := Points(res)
	if err != nil {
		return err
	}
	if note := res.SeedNote(); note != "" {
		fmt.Fprintln(w, note)
	}
	tw := runner.NewTable(w, len(res.GroupHeader()))
	head := append(res.GroupHeader(), "NTK status", "gamma mean", "gamma 95% lo", "gamma 95% hi", "gamma min", "gamma max", "upper max", "ideal status", "ideal gamma", "gamma/ideal", "rel. attn")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	unfinished := 0
	for _, g := range res.Groups() {
		gs, is, as := stats(pts, g, gamma), stats(pts, g, idealOf), stats(pts, g, attention)
		us := stats(pts, g, func(p Point) float64 { return float64(p.NTK.Upper) })
		cells := append(res.GroupCells(g), statusCell(pts, g, func(p Point) string { return p.NTK.Status }),
			fmt.Sprintf("%.4g", gs.Mean), fmt.Sprintf("%.4g", gs.Lo), fmt.Sprintf("%.4g", gs.Hi),
			fmt.Sprintf("%.4g", gs.Min), fmt.Sprintf("%.4g", gs.Max), fmt.Sprintf("%.4g", us.Max),
			statusCell(pts, g, func(p Point) string { return p.Ideal.Status }), fmt.Sprintf("%.4g", is.Mean), fmt.Sprintf("%.3f", gs.Mean/is.Mean), fmt.Sprintf("%.3f", as.Mean))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
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
	_, err = fmt.Fprintln(w, "gamma is the certified lower bound of the margin (the margin itself when certified); upper max is the largest certified upper bound; \"not separable\" is proved only by that status (theory.MarginStatus)")
	return err
}

// statusCell is the margin status of a group's points: the status when
// they share it, else the count of each ("2 certified, 1 not separable").
func statusCell(pts []Point, g runner.Group, f func(Point) string) string {
	count := map[string]int{}
	var order []string
	for _, i := range g.Records {
		st := f(pts[i])
		if st == "" {
			st = "-"
		}
		if count[st] == 0 {
			order = append(order, st)
		}
		count[st]++
	}
	if len(order) == 1 {
		return order[0]
	}
	var parts []string
	for _, st := range order {
		parts = append(parts, fmt.Sprintf("%d %s", count[st], st))
	}
	return strings.Join(parts, ", ")
}

// Plots draws margin_vs_<x>: Plot, against heads (else the first numeric
// swept key, e.g. margin_vs_zeta).
func Plots(res *runner.Result) ([]runner.NamedPlot, error) {
	x := res.XAxis("heads", "data.zeta")
	if x == "" {
		return nil, nil
	}
	return figure.Plots(figure.Builder{Name: "margin_vs_" + res.AxisName(x), Build: Plot})(res)
}

// Plot is the NTK margin gamma at theta_0 against heads (else the first
// numeric swept key), one line per value of the other swept keys (e.g.
// the initialization), mean and 95% interval over the seeds, with the
// ideal attention's margin dashed; nil without a numeric swept key.
func Plot(res *runner.Result) (*plot.Plot, error) {
	pts, err := Points(res)
	if err != nil {
		return nil, err
	}
	x := res.XAxis("heads", "data.zeta")
	if x == "" {
		return nil, nil
	}
	title := "NTK margin at initialization"
	if n := res.SeedNote(); n != "" {
		title += "\n(" + n + ")"
	}
	xl := map[string]string{"heads": "number of heads H", "data.zeta": "fraction of relevant tokens ζ"}[x]
	if xl == "" {
		xl = x
	}
	p := figure.New(title, xl, "margin γ")
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
	var ideal []runner.Stats
	var idealX []float64
	for i, s := range series {
		var st []runner.Stats
		for j, g := range s.Groups {
			st = append(st, stats(pts, g, gamma))
			if i == 0 {
				ideal, idealX = append(ideal, stats(pts, g, idealOf)), append(idealX, s.X[j])
			}
		}
		name := "γ at θ_0"
		if s.Name != "" {
			name += ": " + s.Name
		}
		if err := figure.AddStats(p, s.X, st, figure.Color(i), figure.Glyph(i), nil, name, logX, false); err != nil {
			return nil, err
		}
	}
	// The ideal margin depends on the data only.
	if err := figure.AddStats(p, idealX, ideal, figure.Gray, draw.RingGlyph{}, figure.Dashed, "ideal attention (relevant tokens)", logX, false); err != nil {
		return nil, err
	}
	figure.Headroom(p, len(series)+1)
	return p, nil
}

// firstStep is graph.FirstStep with the point's graph options.
func firstStep(md layers.Model, p *layers.Params, train *datasets.Dataset, eta float64, o graph.Options) (*layers.Params, error) {
	m, err := graph.NewModelOptions(md, p, train, o)
	if err != nil {
		return nil, err
	}
	if _, err := m.Step(eta); err != nil {
		return nil, err
	}
	return m.Params(), nil
}
