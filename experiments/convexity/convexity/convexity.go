// Package convexity is the weak-convexity experiment: GD for every point
// of the sweep (default the paper's model, H = 1, 4, 16, 64), measuring the
// Hessian spectrum of F at log-spaced steps along the path with the
// instruments of theory/spectrum, for any model kind:
// lambda_min(Hess F)/F and lambda_max with the k largest and smallest
// eigenvalues and their residuals (Lanczos), Hutchinson's trace, the
// spectral density by stochastic Lanczos quadrature and its negative
// mass; against the theory's -kappa and L for the paper's model. Its
// command is experiments/convexity.
//
// Besides the runner's files, each point writes points/<dir>/slq.csv
// (label, step, start, node, weight: the quadrature nodes and weights,
// which sum to 1 per start and step, for re-broadening) and
// points/<dir>/eigs.csv (label, step, end, rank, value, residual: the
// top-k and bottom-k Ritz values). The density of a step is
// dim/starts sum_l sum_j weight_lj N(t; node_lj, (sigma w)^2), with dim
// the point's "dim" in result.json and w the largest minus the smallest
// node of the step.
package convexity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/mhattn/mha/experiments/figure"
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// Name is the experiment's name in config.json and summary.json.
const Name = "convexity"

// Config is a GD point's config with where and how the curvature is
// measured.
type Config struct {
	gdpoint.Config
	Convexity Settings         `json:"convexity"`
	Spectrum  SpectrumSettings `json:"spectrum"`
}

// Settings say where and how the curvature is measured along the path.
type Settings struct {
	// Samples is the number of steps at which the curvature is measured,
	// spread log-uniformly over 0..K (0 and K included); in [2, 1000].
	Samples int `json:"samples"`
	// Lanczos is the number of Lanczos iterations of the extreme
	// eigenvalues per measurement (each two gradient evaluations); in
	// [max(2, spectrum.k), 1000].
	Lanczos int `json:"lanczos"`
}

// DefaultConfig: GD paths of the head sweep's model and data (K = 300,
// eta = 1) for H = 1, 4, 16, 64, with the curvature measured at 6 steps by
// 20 Lanczos iterations and the
// spectrum by DefaultSpectrum.
func DefaultConfig() Config {
	c := Config{Config: gdpoint.DefaultConfig("results/" + Name), Convexity: Settings{Samples: 6, Lanczos: 20},
		Spectrum: DefaultSpectrum()}
	c.SweepHeads(1, 4, 16, 64)
	return c
}

// Validate checks the GD point's fields and the convexity settings.
func (c *Config) Validate() error {
	errs := runner.Unjoin(c.Config.Validate())
	if cv := c.Convexity; cv.Samples < 2 || cv.Samples > 1000 {
		errs = append(errs, &runner.FieldError{Field: "convexity.samples", Value: cv.Samples, Want: "an integer in [2, 1000]"})
	}
	if cv := c.Convexity; cv.Lanczos < max(2, c.Spectrum.K) || cv.Lanczos > 1000 {
		errs = append(errs, &runner.FieldError{Field: "convexity.lanczos", Value: cv.Lanczos,
			Want: fmt.Sprintf("an integer in [max(2, spectrum.k) = %d, 1000]", max(2, c.Spectrum.K))})
	}
	errs = append(errs, c.Spectrum.validate(c.numTrainable())...)
	return errors.Join(errs...)
}

// Experiment is the convexity experiment for the runner.
var Experiment = runner.Experiment{
	Name:     Name,
	Doc:      "Measures the Hessian spectrum along GD paths (lambda_min/F, lambda_max, top/bottom-k, trace, SLQ density, negative mass) against the theory's -kappa and L.",
	Defaults: func() runner.Config { c := DefaultConfig(); return &c },
	Columns:  Columns,
	Point:    point,
	Units:    gdpoint.Steps,
	Cost:     gdpoint.Cost,
	Table:    Table,
	Plots:    plots,
	Flags:    gdpoint.Flags,
	Memory:   gdpoint.Memory,
}

// Run runs the experiment and writes its result directory.
func Run(cfg Config, opt runner.Options) (*runner.Result, error) {
	return runner.Run(Experiment, &cfg, opt)
}

// LogSteps returns n steps spread log-uniformly over 0..K: 0, then
// round(K^(j/(n-1))) for j = 1..n-1, without repeats; it always ends at K.
func LogSteps(steps, n int) []int {
	out := []int{0}
	for j := 1; j < n; j++ {
		k := int(math.Round(math.Pow(float64(steps), float64(j)/float64(n-1))))
		k = min(max(k, 1), steps)
		if k > out[len(out)-1] {
			out = append(out, k)
		}
	}
	if out[len(out)-1] != steps {
		out = append(out, steps)
	}
	return out
}

// Columns are the convexity experiment's metric columns:
// one row per measured step k of each point. lambda_min and lambda_max are
// Lanczos estimates of the extreme eigenvalues of Hess F(theta_k)
// (spectrum.Extremes: Ritz values, so |lambda_min| is at most the true
// one; the residuals ||H y - theta y||, measured, bound the distance to an
// eigenvalue); ratio = lambda_min / F(theta_k); kappa and L are the
// theory's weak-convexity and smoothness constants over the ball of
// radius ||theta_k - theta_0|| around theta_0 (NaN for kinds other than
// the paper's), so the theory says ratio >= -kappa and lambda_max <= L.
// trace and trace_se are Hutchinson's estimate of tr Hess F and its
// standard error; neg_fraction is the SLQ estimate of the fraction of the
// eigenvalues below -neg_tol w (w the spectral width) and neg_sum their
// sum, each with its standard error over the starts (NaN for one start).
// The k largest and smallest eigenvalues are in each point's eigs.csv.
var Columns = []string{"step", "train_loss", "lambda_min", "lambda_max", "ratio", "min_resid", "max_resid", "dist_from_init", "kappa", "L",
	"trace", "trace_se", "neg_fraction", "neg_fraction_se", "neg_sum", "neg_sum_se"}

// Point is a point of the convexity experiment.
type Point struct {
	Label  string `json:"-"` // the point's label in the grid
	Status string `json:"status"`
	Heads  int    `json:"heads"`
	Step   int    `json:"step"`
	// DivergedStep and Divergence are set for status "diverged".
	DivergedStep *int          `json:"diverged_step,omitempty"`
	Divergence   string        `json:"divergence,omitempty"`
	Eta          runner.Number `json:"eta"`
	EtaRule      string        `json:"eta_rule"` // "theory" or "fixed"
	// Ratio0 is lambda_min / F at theta_0; WorstRatio the smallest
	// lambda_min / F along the path (the one the theory bounds by -kappa),
	// at step WorstStep.
	Ratio0     runner.Number `json:"ratio_0"`
	WorstRatio runner.Number `json:"worst_ratio"`
	WorstStep  int           `json:"worst_step"`
	// LambdaMax is the largest lambda_max along the path.
	LambdaMax runner.Number `json:"lambda_max"`
	// Kappa and L are the theory's constants over the ball the path stays
	// in (radius ||theta_K - theta_0||); Kappa0 and L0 at theta_0 itself.
	Kappa    runner.Number `json:"kappa"`
	L        runner.Number `json:"L"`
	Kappa0   runner.Number `json:"kappa_0"`
	L0       runner.Number `json:"L_0"`
	Distance runner.Number `json:"dist_from_init"`
	Samples  int           `json:"samples"`
	Lanczos  int           `json:"lanczos"`
	// Dim is the number of trainable parameters, the dimension of the
	// Hessian (the SLQ density integrates to it).
	Dim int `json:"dim"`
	// Trace0 and TraceFinal are the trace estimates at theta_0 and at
	// the last measured step; NegFraction0 the fraction of negative
	// eigenvalues at theta_0 and NegFractionWorst the largest along the
	// path, at step NegWorstStep.
	Trace0           runner.Number `json:"trace_0"`
	TraceFinal       runner.Number `json:"trace_final"`
	NegFraction0     runner.Number `json:"neg_fraction_0"`
	NegFractionWorst runner.Number `json:"neg_fraction_worst"`
	NegWorstStep     int           `json:"neg_worst_step"`
	// Spectrum are the settings the spectrum was measured with.
	Spectrum    SpectrumSettings `json:"spectrum"`
	WallSeconds runner.Number    `json:"wall_seconds"`
}

func point(ctx context.Context, w *runner.Work) (runner.Outcome, error) {
	c := w.Config.(*Config)
	s, err := gdpoint.NewStart(w)
	if err != nil {
		return runner.Outcome{}, err
	}
	lc, md, p0, r, eta, rule := s.Layer, s.Model, s.P0, s.R, s.Eta, s.Rule
	res := &Point{Heads: lc.Heads, Eta: runner.Number(eta), EtaRule: rule,
		Samples: c.Convexity.Samples, Lanczos: c.Convexity.Lanczos, Dim: layers.NumTrainable(md), Spectrum: c.Spectrum}
	// The theory's constants exist for the paper's model only: NaN for
	// the other kinds, whose curvature is measured all the same.
	constants := func(radius float64) theory.Constants {
		if !c.IsPaper() {
			return theory.Constants{WeakConvexity: math.NaN(), Smoothness: math.NaN()}
		}
		return theory.ConstantsOverBall(lc, p0, r, radius)
	}
	k0 := constants(0)
	res.Kappa0, res.L0 = runner.Number(k0.WeakConvexity), runner.Number(k0.Smoothness)
	sample := LogSteps(c.Steps, c.Convexity.Samples)
	theta0 := p0.Trainable(md, nil)
	path := gdpoint.PathOf(w, s)
	path.LogAt = func(k int) bool { _, ok := slices.BinarySearch(sample, k); return ok }
	path.At = func(k int, m *graph.Model, p graph.Progress) ([]string, error) {
		// The instruments' seed is the step, so a resumed point
		// measures exactly what an uninterrupted one does.
		ms, err := Measure(m, c.Spectrum, c.Convexity.Lanczos, uint64(k)+1)
		if err != nil {
			return nil, fmt.Errorf("spectrum at step %d: %w", k, err)
		}
		// Hessian-vector products overwrite the model's gradient;
		// GD's next update needs the one at theta_k.
		if _, err := m.Evaluate(); err != nil {
			return nil, err
		}
		dist := gdpoint.Distance(m.Params().Trainable(md, nil), theta0)
		kb := constants(dist)
		lo, hi := ms.Ext.Bottom[0], ms.Ext.Top[0]
		row := runner.CSVLine(k, p.Loss, lo.Value, hi.Value, lo.Value/p.Loss, lo.Residual, hi.Residual,
			dist, kb.WeakConvexity, kb.Smoothness, ms.Trace.Trace, ms.Trace.StdErr,
			ms.Neg.Fraction, ms.Neg.FractionStdErr, ms.Neg.Sum, ms.Neg.SumStdErr)
		return append([]string{row}, ms.extraRows(k)...), nil
	}
	end, err := path.Run(ctx)
	if err != nil {
		return runner.Outcome{}, err
	}
	res.Status, res.Step, res.DivergedStep, res.Divergence = end.Status, end.Step, end.DivergedStep, end.Divergence
	metrics, slq, eigs := splitRows(w.Point.Label, end.Rows)
	if err := writeCSV(filepath.Join(w.Dir, "slq.csv"), SLQHeader, slq); err != nil {
		return runner.Outcome{}, err
	}
	if err := writeCSV(filepath.Join(w.Dir, "eigs.csv"), EigsHeader, eigs); err != nil {
		return runner.Outcome{}, err
	}
	rows, err := parseRows(metrics)
	if err != nil {
		return runner.Outcome{}, err
	}
	res.Ratio0, res.WorstRatio, res.LambdaMax, res.Distance = nan, nan, nan, nan
	res.Kappa, res.L = nan, nan
	res.Trace0, res.TraceFinal, res.NegFraction0, res.NegFractionWorst = nan, nan, nan, nan
	for i, row := range rows {
		if i == 0 && row.Step == 0 {
			res.Ratio0 = runner.Number(row.Ratio)
			res.Trace0, res.NegFraction0 = runner.Number(row.Trace), runner.Number(row.NegFraction)
		}
		if !(float64(res.NegFractionWorst) >= row.NegFraction) {
			res.NegFractionWorst, res.NegWorstStep = runner.Number(row.NegFraction), row.Step
		}
		res.TraceFinal = runner.Number(row.Trace)
		if !(float64(res.WorstRatio) <= row.Ratio) {
			res.WorstRatio, res.WorstStep = runner.Number(row.Ratio), row.Step
		}
		if !(float64(res.LambdaMax) >= row.LambdaMax) {
			res.LambdaMax = runner.Number(row.LambdaMax)
		}
		res.Distance, res.Kappa, res.L = runner.Number(row.Dist), runner.Number(row.Kappa), runner.Number(row.L)
	}
	res.WallSeconds = runner.Number(w.Elapsed().Seconds())
	return runner.Outcome{Status: res.Status, Rows: metrics, Record: res}, nil
}

var nan = runner.NaN

// Row is a parsed row of the convexity metrics.
type Row struct {
	Step                               int
	Loss, LambdaMin, LambdaMax, Ratio  float64
	MinResid, MaxResid, Dist, Kappa, L float64
	Trace, TraceSE                     float64
	NegFraction, NegFractionSE         float64
	NegSum, NegSumSE                   float64
}

func parseRows(lines []string) ([]Row, error) {
	out := make([]Row, 0, len(lines))
	for _, l := range lines {
		var r Row
		if err := runner.ParseCSV(l, &r.Step, &r.Loss, &r.LambdaMin, &r.LambdaMax, &r.Ratio, &r.MinResid, &r.MaxResid,
			&r.Dist, &r.Kappa, &r.L, &r.Trace, &r.TraceSE, &r.NegFraction, &r.NegFractionSE, &r.NegSum, &r.NegSumSE); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// PointsOf decodes the convexity records with their rows;
// unfinished points are left out.
func PointsOf(res *runner.Result) ([]Point, [][]Row, error) {
	var pts []Point
	var rows [][]Row
	for _, r := range res.Records {
		if !r.Finished() {
			continue
		}
		var p Point
		if err := r.Decode(&p); err != nil {
			return nil, nil, err
		}
		rs, err := parseRows(r.Rows)
		if err != nil {
			return nil, nil, err
		}
		p.Label = r.Label
		pts, rows = append(pts, p), append(rows, rs)
	}
	return pts, rows, nil
}

// ConvexityFit is the least-squares fit of log|lambda_min / F| against
// log H over the points where lambda_min < 0, for the worst ratio along
// the path and for the ratio at theta_0, and of log kappa against log H
// for the theory's bound; and of the spectrum's negative mass (the
// largest fraction of negative eigenvalues along the path, and at
// theta_0) and of its trace (at the last measured step, and at theta_0)
// against log H, over the points where they are positive.
type ConvexityFit struct {
	WorstSlope, WorstIntercept float64
	InitSlope, InitIntercept   float64
	KappaSlope, KappaIntercept float64
	// Negative mass: log NegFractionWorst and log NegFraction0.
	NegSlope, NegIntercept         float64
	NegInitSlope, NegInitIntercept float64
	// Trace: log TraceFinal and log Trace0.
	TraceSlope, TraceIntercept         float64
	TraceInitSlope, TraceInitIntercept float64
	Points                             int
}

// FitConvexity fits the slopes of the convexity experiment.
func FitConvexity(pts []Point) ConvexityFit {
	var h, worst, init, kappa, neg, neg0, tr, tr0 []float64
	for _, p := range pts {
		h = append(h, float64(p.Heads))
		worst = append(worst, -float64(p.WorstRatio))
		init = append(init, -float64(p.Ratio0))
		kappa = append(kappa, float64(p.Kappa))
		neg, neg0 = append(neg, float64(p.NegFractionWorst)), append(neg0, float64(p.NegFraction0))
		tr, tr0 = append(tr, float64(p.TraceFinal)), append(tr0, float64(p.Trace0))
	}
	var f ConvexityFit
	f.WorstSlope, f.WorstIntercept = runner.FitLogLog(h, worst)
	f.InitSlope, f.InitIntercept = runner.FitLogLog(h, init)
	f.KappaSlope, f.KappaIntercept = runner.FitLogLog(h, kappa)
	f.NegSlope, f.NegIntercept = runner.FitLogLog(h, neg)
	f.NegInitSlope, f.NegInitIntercept = runner.FitLogLog(h, neg0)
	f.TraceSlope, f.TraceIntercept = runner.FitLogLog(h, tr)
	f.TraceInitSlope, f.TraceInitIntercept = runner.FitLogLog(h, tr0)
	f.Points = len(pts)
	return f
}

// Table prints one row per group of points (every swept value but the
// seeds; with a seed axis, mean and 95% interval over the seeds) and the
// fitted slopes against H.
func Table(w io.Writer, res *runner.Result) error {
	pts, _, err := PointsOf(res)
	if err != nil {
		return err
	}
	all := make([]Point, len(res.Records))
	for i, r := range res.Records {
		if r.Finished() {
			if err := r.Decode(&all[i]); err != nil {
				return err
			}
		}
	}
	if note := res.SeedNote(); note != "" {
		fmt.Fprintln(w, note)
	}
	tw := runner.NewTable(w, len(res.GroupHeader()))
	head := append(res.GroupHeader(), "status", "eta", "lambda_min/F at 0", "worst lambda_min/F", "-kappa", "max lambda_max", "L", "L/lambda_max",
		"trace at 0", "trace at K", "neg. fraction at 0", "max neg. fraction")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, g := range res.Groups() {
		f := func(v func(Point) float64) string { return res.MeanCI(g, func(i int) float64 { return v(all[i]) }) }
		status := map[string]int{}
		for _, i := range g.Records {
			status[all[i].Status]++
		}
		st := fmt.Sprint(len(g.Records), " finished")
		if len(status) == 1 {
			for k := range status {
				st = k
			}
		}
		cells := append(res.GroupCells(g), st, f(func(p Point) float64 { return float64(p.Eta) }), f(func(p Point) float64 { return float64(p.Ratio0) }),
			f(func(p Point) float64 { return float64(p.WorstRatio) }), f(func(p Point) float64 { return -float64(p.Kappa) }),
			f(func(p Point) float64 { return float64(p.LambdaMax) }), f(func(p Point) float64 { return float64(p.L) }),
			f(func(p Point) float64 { return float64(p.L) / float64(p.LambdaMax) }),
			f(func(p Point) float64 { return float64(p.Trace0) }), f(func(p Point) float64 { return float64(p.TraceFinal) }),
			f(func(p Point) float64 { return float64(p.NegFraction0) }), f(func(p Point) float64 { return float64(p.NegFractionWorst) }))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fit := FitConvexity(pts)
	_, err = fmt.Fprintf(w, "slope of log|lambda_min/F| vs log H: %.3f (worst along the path), %.3f (at theta_0); theory's kappa: %.3f; 1/sqrt(H) is -0.5\n",
		fit.WorstSlope, fit.InitSlope, fit.KappaSlope)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "slope of log(negative fraction) vs log H: %.3f (largest along the path), %.3f (at theta_0); of log trace vs log H: %.3f (at K), %.3f (at theta_0)\n",
		fit.NegSlope, fit.NegInitSlope, fit.TraceSlope, fit.TraceInitSlope)
	return err
}

// byX collects, per line of a plot against the swept key x (one per value
// of the other non-seed swept keys) and per x, the stats over the seeds
// of f for every metric.
func byX(res *runner.Result, x string, fs ...func(Point) float64) ([]runner.Series, [][][]runner.Stats, error) {
	all := make([]Point, len(res.Records))
	for i, r := range res.Records {
		if r.Finished() {
			if err := r.Decode(&all[i]); err != nil {
				return nil, nil, err
			}
		}
	}
	series := res.Series(x)
	out := make([][][]runner.Stats, len(series))
	for si, s := range series {
		out[si] = make([][]runner.Stats, len(fs))
		for fi, f := range fs {
			for _, g := range s.Groups {
				var v []float64
				for _, i := range g.Records {
					v = append(v, f(all[i]))
				}
				out[si][fi] = append(out[si][fi], runner.NewStats(v))
			}
		}
	}
	return series, out, nil
}

// xPlot is a plot against the swept key x with a log y axis; nil without
// a numeric swept key.
func xPlot(res *runner.Result, title, y string) (*plot.Plot, string, bool) {
	x := res.XAxis("heads")
	if x == "" {
		return nil, "", false
	}
	if n := res.SeedNote(); n != "" {
		title += "\n(" + n + ")"
	}
	xl := x
	if x == "heads" {
		xl = "number of heads H"
	}
	p := figure.New(title, xl, y)
	var xs []float64
	for _, r := range res.Records {
		if v, ok := r.Value(x); ok && !slices.Contains(xs, v.Float()) {
			xs = append(xs, v.Float())
		}
	}
	figure.ValueAxis(&p.X, xs)
	_, logX := p.X.Scale.(plot.LogScale)
	figure.LogAxis(&p.Y)
	return p, x, logX
}

// lines draws one line per metric and series.
func lines(p *plot.Plot, series []runner.Series, stats [][][]runner.Stats, names []string, colors []int, logX bool) error {
	for si, s := range series {
		for mi, name := range names {
			c := figure.Color(colors[mi])
			if len(series) > 1 {
				name, c = s.Name+": "+name, figure.Color(len(names)*si+mi)
			}
			if err := figure.AddStats(p, s.X, stats[si][mi], c, figure.Glyph(mi), nil, name, logX, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// WeakConvexityPlot is |lambda_min(Hess F)| / F against heads (else the
// first numeric swept key), log-log: the worst along the GD path and at
// theta_0, beside the theory's kappa; against heads with the
// least-squares slopes and a 1/sqrt(H) reference through the first point.
func WeakConvexityPlot(res *runner.Result) (*plot.Plot, error) {
	pts, _, err := PointsOf(res)
	if err != nil {
		return nil, err
	}
	p, x, logX := xPlot(res, "Weak convexity: −λ_min(Hess F) / F", "−λ_min / F  (theory: ≤ κ)")
	if p == nil {
		return nil, nil
	}
	defer figure.LogHeadroom(p, 30)
	series, stats, err := byX(res, x, func(q Point) float64 { return -float64(q.WorstRatio) },
		func(q Point) float64 { return -float64(q.Ratio0) }, func(q Point) float64 { return float64(q.Kappa) })
	if err != nil {
		return nil, err
	}
	names := []string{"measured, worst on the path", "measured at θ_0", "theory κ = max β₂ scale(H)"}
	if x == "heads" {
		f := FitConvexity(pts)
		names[0] += fmt.Sprintf(" (slope %.2f)", f.WorstSlope)
		names[1] += fmt.Sprintf(" (slope %.2f)", f.InitSlope)
		names[2] += fmt.Sprintf(" (slope %.2f)", f.KappaSlope)
	}
	if err := lines(p, series, stats, names, []int{0, 1, 3}, logX); err != nil {
		return nil, err
	}
	if x == "heads" && len(series) == 1 && len(series[0].X) > 0 {
		// Reference slope -1/2 through the first measured point.
		s, w := series[0], stats[0][0]
		var ref plotter.XYs
		for i := range s.X {
			ref = append(ref, plotter.XY{X: s.X[i], Y: w[0].Mean * math.Sqrt(s.X[0]/s.X[i])})
		}
		if err := figure.AddLine(p, figure.Positive(ref, true, true), figure.Gray, figure.Dashed, "reference ∝ 1/√H"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// SmoothnessPlot is the largest measured lambda_max(Hess F) along the
// path against heads (else the first numeric swept key) beside the
// theory's L, log-log.
func SmoothnessPlot(res *runner.Result) (*plot.Plot, error) {
	p, x, logX := xPlot(res, "Smoothness: λ_max(Hess F) on the GD path against the bound L", "λ_max  (theory: ≤ L)")
	if p == nil {
		return nil, nil
	}
	defer figure.LogHeadroom(p, 30)
	series, stats, err := byX(res, x, func(q Point) float64 { return float64(q.LambdaMax) }, func(q Point) float64 { return float64(q.L) })
	if err != nil {
		return nil, err
	}
	return p, lines(p, series, stats, []string{"measured λ_max (max on the path)", "theory L = G²/4 + κ"}, []int{0, 3}, logX)
}

// CurvaturePathPlot is lambda_min / F against the step k along each
// path (k >= 1, log x).
func CurvaturePathPlot(res *runner.Result) (*plot.Plot, error) {
	pts, rows, err := PointsOf(res)
	if err != nil {
		return nil, err
	}
	p := figure.New("λ_min(Hess F(θ_k)) / F(θ_k) along the GD path", "step k", "λ_min / F")
	figure.LogAxis(&p.X)
	p.Legend.Top = false
	p.Legend.Left = true
	for i, q := range pts {
		var xy plotter.XYs
		for _, r := range rows[i] {
			xy = append(xy, plotter.XY{X: float64(r.Step), Y: r.Ratio})
		}
		if err := figure.AddLinePoints(p, figure.Positive(xy, true, false), figure.Color(i), figure.Glyph(i), q.Label); err != nil {
			return nil, err
		}
	}
	// Room below the curves for the legend.
	if p.Y.Max > p.Y.Min {
		p.Y.Min -= 0.9 * (p.Y.Max - p.Y.Min)
	}
	return p, nil
}
