package experiments

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// MarginHeader is the header of the margin experiment's metrics.csv: one
// row per point. gamma is the NTK margin at theta_0 with its certified
// bracket; ideal_gamma is theory.IdealMargin (attention on the relevant
// tokens only, U trained); relevant_attention is the mean attention mass on
// relevant tokens at theta_0 on the training set; initial_loss F(theta_0).
const MarginHeader = "label,heads,zeta,init,seed,gamma,gamma_lower,gamma_upper,ideal_gamma,relevant_attention,initial_loss"

// MarginPoint is a point of the margin experiment (its result.json and
// summary.json entry).
type MarginPoint struct {
	Index  int    `json:"index"`
	Label  string `json:"label"`
	Status string `json:"status"`
	Heads  int    `json:"heads"`
	Zeta   Number `json:"zeta"`
	// Init is "random", "zero-W" or "first-step"; FirstStepEta the step
	// size of the first step (first-step only).
	Init         string `json:"init"`
	FirstStepEta Number `json:"first_step_eta,omitzero"`
	DataSeed     uint64 `json:"data_seed"`
	InitSeed     uint64 `json:"init_seed"`
	// NTK is the NTK margin at theta_0; Ideal the margin of the ideal
	// attention on the same training set.
	NTK               NTKInfo `json:"ntk"`
	Ideal             NTKInfo `json:"ideal"`
	RelevantAttention Number  `json:"relevant_attention"`
	InitialLoss       Number  `json:"initial_loss"`
	WallSeconds       Number  `json:"wall_seconds"`
}

// MarginPoints returns the points of the margin sweep in order: for every
// head count of cfg.Heads, initialization of cfg.Margin.Inits and seed, at
// zeta = cfg.Data.Zeta ("H<h>-zeta<z>-<init>-seed<s>"); then for every zeta
// of cfg.Margin.Zetas (other than cfg.Data.Zeta when ZetaHeads is among
// the heads: that point is already there) at ZetaHeads heads.
func MarginPoints(cfg Config) []Point {
	var pts []Point
	seen := map[string]bool{}
	add := func(h int, zeta float64, init string) {
		for i := range cfg.seeds() {
			c := cfg.withSeed(i)
			c.Heads, c.Data.Zeta, c.Init.Scheme = []int{h}, zeta, init
			c.Steps = 1 // one unit of progress
			label := fmt.Sprintf("H%d-zeta%s-%s-%s", h, formatFloat(zeta), init, seedLabel(c))
			if seen[label] {
				continue
			}
			seen[label] = true
			pts = append(pts, Point{Index: len(pts), Label: label, Cost: float64(h) + 1, Config: c})
		}
	}
	for _, h := range cfg.Heads {
		for _, in := range cfg.Margin.Inits {
			add(h, cfg.Data.Zeta, in)
		}
	}
	for _, z := range cfg.Margin.Zetas {
		for _, in := range cfg.Margin.Inits {
			add(cfg.Margin.ZetaHeads, z, in)
		}
	}
	return pts
}

// Margin computes the NTK margin gamma at theta_0 against H, zeta and the
// initialization over cfg.Seeds seeds, beside the margin of an ideal
// attention, and writes the result directory cfg.Out (default
// results/margin). No GD runs: every point is an NTK Gram matrix and its
// minimum-norm point.
func Margin(cfg Config) (*Result, error) { return MarginWith(cfg, Options{}) }

// MarginWith is Margin with options.
func MarginWith(cfg Config, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	if len(cfg.Margin.Inits) == 0 {
		return nil, &InputError{Err: &FieldError{Field: "margin.inits", Value: "", Want: "at least one initialization scheme"}}
	}
	return Run(cfg, Sweep{Experiment: MarginName, Header: MarginHeader, Points: MarginPoints(cfg.Resolve()),
		Run: marginPoint, Plots: MarginPlots}, opt)
}

func marginPoint(ctx context.Context, w *Work) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	c := w.Config
	lc := c.Layer(c.Heads[0])
	train, _, err := w.Data(c.Data)
	if err != nil {
		return Outcome{}, err
	}
	in := c.Init
	scheme := in.Scheme
	if scheme == InitFirstStep {
		in.Scheme = layers.InitZeroW
	}
	p0, err := layers.NewParams(lc, in)
	if err != nil {
		return Outcome{}, err
	}
	res := &MarginPoint{Index: w.Point.Index, Label: w.Point.Label, Status: StatusOK, Heads: lc.Heads, Zeta: Number(c.Data.Zeta),
		Init: scheme, DataSeed: c.Data.Seed, InitSeed: c.Init.Seed}
	if scheme == InitFirstStep {
		if p0, err = graph.FirstStep(lc, p0, train, c.Margin.FirstStepEta); err != nil {
			return Outcome{}, fmt.Errorf("first step: %w", err)
		}
		res.FirstStepEta = Number(c.Margin.FirstStepEta)
	}
	ev, err := graph.NewEvaluator(lc, train)
	if err != nil {
		return Outcome{}, err
	}
	e0, err := ev.Evaluate(p0)
	if err != nil {
		return Outcome{}, err
	}
	res.InitialLoss, res.RelevantAttention = Number(e0.Loss), Number(ev.RelevantMass())
	ntk, err := theory.NewNTK(lc, p0, train)
	if err != nil {
		return Outcome{}, err
	}
	res.NTK = ntkInfo(ntk.Margin())
	ideal, err := theory.IdealMargin(lc, train)
	if err != nil {
		return Outcome{}, err
	}
	res.Ideal = ntkInfo(ideal)
	res.WallSeconds = Number(w.Elapsed().Seconds())
	w.Step(1)
	row := csvLine(res.Label, res.Heads, res.Zeta, res.Init, res.DataSeed, res.NTK.Gamma, res.NTK.Lower, res.NTK.Upper,
		res.Ideal.Gamma, res.RelevantAttention, res.InitialLoss)
	return Outcome{Status: StatusOK, Rows: []string{row}, Record: res}, nil
}

func ntkInfo(m theory.Margin) NTKInfo {
	return NTKInfo{Gamma: Number(m.Gamma), Lower: Number(m.Lower), Upper: Number(m.Upper), Gap: Number(m.Gap()),
		Separable: m.Separable, Converged: m.Converged}
}

// MarginPointsOf decodes the margin experiment's records; unfinished
// points are left out.
func MarginPointsOf(res *Result) ([]MarginPoint, error) {
	var out []MarginPoint
	for _, r := range res.Records {
		if r.Status != StatusOK {
			continue
		}
		var p MarginPoint
		if err := r.Decode(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// MarginGroup is the margin over the seeds of one (H, zeta, init).
type MarginGroup struct {
	Heads int
	Zeta  float64
	Init  string
	Gamma Stats // NTK margin at theta_0
	Ideal Stats // margin of the ideal attention
	// Attention is the attention mass on relevant tokens at theta_0.
	Attention Stats
}

// MarginGroups aggregates the points over seeds, in order of first
// appearance.
func MarginGroups(points []MarginPoint) []MarginGroup {
	type key struct {
		h    int
		z    float64
		init string
	}
	var keys []key
	vals := map[key][3][]float64{}
	for _, p := range points {
		k := key{p.Heads, float64(p.Zeta), p.Init}
		v, ok := vals[k]
		if !ok {
			keys = append(keys, k)
		}
		v[0], v[1], v[2] = append(v[0], float64(p.NTK.Gamma)), append(v[1], float64(p.Ideal.Gamma)), append(v[2], float64(p.RelevantAttention))
		vals[k] = v
	}
	out := make([]MarginGroup, len(keys))
	for i, k := range keys {
		v := vals[k]
		out[i] = MarginGroup{Heads: k.h, Zeta: k.z, Init: k.init, Gamma: newStats(v[0]), Ideal: newStats(v[1]), Attention: newStats(v[2])}
	}
	return out
}

func writeMarginTable(w io.Writer, res *Result) error {
	pts, err := MarginPointsOf(res)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "H\tzeta\tinit\tseeds\tgamma mean\tgamma sd\tgamma min\tgamma max\tideal gamma\tgamma/ideal\trel. attn\t")
	for _, g := range MarginGroups(pts) {
		fmt.Fprintf(tw, "%d\t%g\t%s\t%d\t%.4g\t%.2g\t%.4g\t%.4g\t%.4g\t%.3f\t%.3f\t\n", g.Heads, g.Zeta, g.Init, g.Gamma.N, g.Gamma.Mean, g.Gamma.SD,
			g.Gamma.Min, g.Gamma.Max, g.Ideal.Mean, g.Gamma.Mean/g.Ideal.Mean, g.Attention.Mean)
	}
	if n := len(res.Records) - len(pts); n > 0 {
		fmt.Fprintf(tw, "(%d points not finished)\t\n", n)
	}
	return tw.Flush()
}

// marginInits returns the schemes of the groups in order of appearance.
func marginInits(gs []MarginGroup) []string {
	var out []string
	for _, g := range gs {
		if !slices.Contains(out, g.Init) {
			out = append(out, g.Init)
		}
	}
	return out
}

// finiteOr returns x, or alt when x is NaN or infinite.
func finiteOr(x, alt float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return alt
	}
	return x
}
