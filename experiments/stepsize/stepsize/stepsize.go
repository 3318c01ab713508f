// Package stepsize is the step-size experiment: for every point of the
// sweep (default H = 1, 4, 16, 64, K = 300), the largest constant step size
// whose K-step GD loss sequence decreases at every step (bisection on a
// log scale), against the theory step size for K steps and the classical
// 2 / lambda_max(Hess F(theta_0)). Its command is experiments/stepsize.
package stepsize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mhattn/mha/experiments/figure"
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/theory"
)

// Name is the experiment's name in config.json and summary.json.
const Name = "stepsize"

// Config is a GD point's config (eta must be 0: the experiment searches
// the step size) with the search's settings.
type Config struct {
	gdpoint.Config
	StepSearch Settings `json:"step_search"`
}

// Settings control the bisection.
type Settings struct {
	// Tolerance: the bisection stops when the largest monotone step and
	// the smallest non-monotone one differ by a factor below
	// 1 + Tolerance; in (0, 1].
	Tolerance float64 `json:"tolerance"`
	// MaxFactor bounds the search: steps up to MaxFactor times the theory
	// step size are tried (finite > 1).
	MaxFactor float64 `json:"max_factor"`
}

// DefaultConfig: H = 1, 4, 16, 64, K = 300 steps per trial, bisection to 2% up
// to 10^6 times the theory step size.
func DefaultConfig() Config {
	c := Config{Config: gdpoint.DefaultConfig("results/" + Name), StepSearch: Settings{Tolerance: 0.02, MaxFactor: 1e6}}
	// The search starts from the theory step: eta is the search's.
	c.Eta = 0
	c.SweepHeads(1, 4, 16, 64)
	return c
}

// Validate checks the GD point's fields and the search's settings.
func (c *Config) Validate() error {
	errs := runner.Unjoin(c.Config.Validate())
	s := c.StepSearch
	if !(s.Tolerance > 0 && s.Tolerance <= 1) {
		errs = append(errs, &runner.FieldError{Field: "step_search.tolerance", Value: s.Tolerance, Want: "a value in (0, 1]"})
	}
	if !(s.MaxFactor > 1 && !math.IsInf(s.MaxFactor, 0)) {
		errs = append(errs, &runner.FieldError{Field: "step_search.max_factor", Value: s.MaxFactor, Want: "a finite value > 1"})
	}
	if c.Eta != 0 && c.IsPaper() {
		errs = append(errs, &runner.FieldError{Field: "eta", Value: c.Eta, Want: "0: the step-size experiment searches the step size, starting from the theory's"})
	}
	return errors.Join(errs...)
}

// Experiment is the step-size experiment for the runner.
var Experiment = runner.Experiment{
	Name:     Name,
	Doc:      "Finds the largest constant step size whose K-step GD loss decreases at every step and compares it with the theory step size.",
	Defaults: func() runner.Config { c := DefaultConfig(); return &c },
	Columns:  Columns,
	Point:    point,
	Units:    gdpoint.Steps,
	Cost:     func(c runner.Config) float64 { return float64(gdpoint.Of(c).Heads) + 1 },
	Table:    Table,
	Plots:    figure.Plots(figure.Builder{Name: "stepsize_vs_heads", Build: StepSizePlot}),
	Flags:    gdpoint.Flags[:3],
	Memory:   gdpoint.Memory,
}

// Run runs the experiment and writes its result directory.
func Run(cfg Config, opt runner.Options) (*runner.Result, error) {
	return runner.Run(Experiment, &cfg, opt)
}

func heads(pts []Point) []int {
	var out []int
	for _, p := range pts {
		if !slices.Contains(out, p.Heads) {
			out = append(out, p.Heads)
		}
	}
	return out
}

// LossFloor is the training loss below which a step that does not
// decrease the loss still counts as monotone: on separable data large
// steps drive F to the floating-point floor (1e-20 and below) within a few
// steps, where it cannot decrease further, and that is not instability.
// F = 1e-10 means every margin y Phi is about 23 or more.
const LossFloor = 1e-10

// Columns are the step-size experiment's metric columns:
// one row per trial of the search. A trial runs GD with step size eta for
// K steps from theta_0 and is monotone when F(theta_{k+1}) < F(theta_k) or
// F(theta_{k+1}) <= LossFloor at every step (it stops at the first step that is not, or at divergence:
// steps is how far it got); final_loss is the last loss it computed.
var Columns = []string{"trial", "eta", "monotone", "steps", "final_loss"}

// Point is a point of the step-size experiment.
type Point struct {
	Label  string `json:"-"` // the point's label in the grid
	Status string `json:"status"`
	Heads  int    `json:"heads"`
	Steps  int    `json:"steps"` // K of every trial
	// TheoryEta is the theory step size for K steps (1/L over the ball
	// GD provably stays in, theory.TheoryStepSize) and TheoryL that L.
	TheoryEta      runner.Number `json:"theory_eta"`
	TheoryL        runner.Number `json:"theory_L"`
	TheoryMonotone bool          `json:"theory_monotone"`
	// FoundEta is the largest step size found monotone; Unstable the
	// smallest found not monotone (+Inf if none up to max_factor times
	// the theory's: null in the files, NaN read back); they are within a
	// factor 1 + tolerance.
	FoundEta runner.Number `json:"found_eta"`
	Unstable runner.Number `json:"unstable_eta"`
	// Ratio is FoundEta / TheoryEta: how conservative the theory is.
	Ratio runner.Number `json:"ratio"`
	// LambdaMax0 is the measured lambda_max(Hess F(theta_0)) (Lanczos),
	// and CurvatureEta = 2 / LambdaMax0, the classical stability limit of
	// GD on a quadratic with that curvature.
	LambdaMax0   runner.Number `json:"lambda_max_0"`
	CurvatureEta runner.Number `json:"curvature_eta"`
	// CurvatureRuleEta is the curvature step rule's eta = c /
	// lambda_max_0 with c = step.c (theory.CurvatureStepSize).
	CurvatureRuleEta runner.Number `json:"curvature_rule_eta"`
	// StepRule is the config's step rule (step.rule) and RuleEta the eta
	// it gives: theory_eta, curvature_rule_eta or the config's eta; the
	// search compares every rule, this one is what training would use.
	StepRule    string        `json:"step_rule"`
	RuleEta     runner.Number `json:"rule_eta"`
	Trials      int           `json:"trials"`
	WallSeconds runner.Number `json:"wall_seconds"`
}

// stepSizeLanczos is the number of Lanczos iterations for lambda_max(theta_0).
const stepSizeLanczos = 25

// errNotMonotone stops a trial at the first step whose loss does not fall.
var errNotMonotone = errors.New("loss did not decrease")

func point(ctx context.Context, w *runner.Work) (runner.Outcome, error) {
	c := w.Config.(*Config)
	s, err := gdpoint.NewStart(w)
	if err != nil {
		return runner.Outcome{}, err
	}
	lc, train, p0 := s.Layer, s.Train, s.P0
	// The theory's step whatever Config.Eta says: it is what is compared.
	// The search starts at the theory's step; for model kinds the theory
	// does not cover, at the config's eta (TheoryEta, L and Ratio NaN).
	st := theory.StepSize{Eta: c.Eta, Smoothness: math.NaN()}
	if c.IsPaper() {
		var err error
		if st, err = theory.StepSizeFor(lc, p0, s.R, s.F0, c.Steps); err != nil {
			return runner.Outcome{}, fmt.Errorf("theory step size: %w", err)
		}
	}
	start := st.Eta
	m, err := graph.NewModelOptions(s.Model, p0, train, c.GraphOptions())
	if err != nil {
		return runner.Outcome{}, err
	}
	sp, err := theory.Curvature(m, stepSizeLanczos, 1)
	if err != nil {
		return runner.Outcome{}, err
	}
	res := &Point{Status: runner.StatusOK, Heads: lc.Heads, Steps: c.Steps,
		TheoryEta: runner.Number(st.Eta), TheoryL: runner.Number(st.Smoothness), LambdaMax0: runner.Number(sp.Max), CurvatureEta: runner.Number(2 / sp.Max),
		CurvatureRuleEta: runner.Number(c.Step.C / sp.Max), StepRule: string(c.StepRule())}
	switch c.StepRule() {
	case theory.RuleTheory:
		res.RuleEta = res.TheoryEta
	case theory.RuleCurvature:
		res.RuleEta = res.CurvatureRuleEta
	default:
		res.RuleEta = runner.Number(c.Eta)
	}

	var rows []string
	// Progress: the search takes about expectTrials trials of K steps.
	const expectTrials = 12
	reported := 0
	trial := func(eta float64) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if err := m.SetParams(p0); err != nil {
			return false, err
		}
		prev, steps, final := math.Inf(1), 0, math.NaN()
		gd := graph.GD{StepSize: eta, Steps: c.Steps, MaxLoss: c.MaxLoss}
		_, err := gd.Run(m, graph.RecorderFunc(func(p graph.Progress) error {
			final, steps = p.Loss, p.Step
			if !(p.Loss < prev) && !(p.Loss <= LossFloor) {
				return errNotMonotone
			}
			prev = p.Loss
			return nil
		}))
		var div *graph.DivergedError
		monotone := err == nil
		if err != nil && !errors.Is(err, errNotMonotone) && !errors.As(err, &div) {
			return false, err
		}
		res.Trials++
		rows = append(rows, runner.CSVLine(res.Trials, eta, monotone, steps, final))
		for reported < min(res.Trials*c.Steps/expectTrials, c.Steps-1) {
			reported++
			w.Step(reported)
		}
		return monotone, nil
	}

	lo, hi := start, math.Inf(1)
	ok, err := trial(lo)
	if err != nil {
		return runner.Outcome{}, err
	}
	res.TheoryMonotone = ok
	if !ok {
		// The theory's step is not monotone (it should be): search below.
		hi = lo
		for lo = hi / 4; lo > start/c.StepSearch.MaxFactor; lo /= 4 {
			if ok, err = trial(lo); err != nil {
				return runner.Outcome{}, err
			} else if ok {
				break
			}
			hi = lo
		}
	} else {
		for x := lo * 4; x <= start*c.StepSearch.MaxFactor; x *= 4 {
			if ok, err = trial(x); err != nil {
				return runner.Outcome{}, err
			} else if !ok {
				hi = x
				break
			}
			lo = x
		}
	}
	for !math.IsInf(hi, 1) && hi/lo > 1+c.StepSearch.Tolerance {
		mid := math.Sqrt(lo) * math.Sqrt(hi) // lo*hi may overflow
		if ok, err = trial(mid); err != nil {
			return runner.Outcome{}, err
		} else if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	res.FoundEta, res.Unstable, res.Ratio = runner.Number(lo), runner.Number(hi), runner.Number(lo/st.Eta)
	if !c.IsPaper() {
		res.TheoryEta, res.Ratio = runner.NaN, runner.NaN
	}
	res.WallSeconds = runner.Number(w.Elapsed().Seconds())
	w.Log.WithField("found_eta", runner.FormatFloat(lo)).Info("step size found")
	return runner.Outcome{Status: runner.StatusOK, Rows: rows, Record: res}, nil
}

// PointsOf decodes the step-size records; unfinished points are
// left out.
func PointsOf(res *runner.Result) ([]Point, error) {
	var out []Point
	for _, r := range res.Records {
		if r.Status != runner.StatusOK {
			continue
		}
		var p Point
		if err := r.Decode(&p); err != nil {
			return nil, err
		}
		p.Label = r.Label
		out = append(out, p)
	}
	return out, nil
}

// Table prints one row per group of points (every swept value but the
// seeds; with a seed axis, mean and 95% interval over the seeds): the
// config's step rule and its eta, the theory step, the largest monotone
// step found, the curvature rule's c / lambda_max and 2 / lambda_max.
func Table(w io.Writer, res *runner.Result) error {
	all := make([]Point, len(res.Records))
	for i, r := range res.Records {
		if r.Status == runner.StatusOK {
			if err := r.Decode(&all[i]); err != nil {
				return err
			}
		}
	}
	if note := res.SeedNote(); note != "" {
		fmt.Fprintln(w, note)
	}
	tw := runner.NewTable(w, len(res.GroupHeader()))
	head := append(res.GroupHeader(), "K", "step_rule", "rule eta", "theory eta", "monotone", "found eta", "unstable eta", "ratio", "c/lambda_max(0)", "2/lambda_max(0)", "trials")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, g := range res.Groups() {
		f := func(v func(Point) float64) string { return res.MeanCI(g, func(i int) float64 { return v(all[i]) }) }
		mono, k, rule := 0, 0, ""
		for _, i := range g.Records {
			k, rule = all[i].Steps, all[i].StepRule
			if all[i].TheoryMonotone {
				mono++
			}
		}
		cells := append(res.GroupCells(g), fmt.Sprint(k), rule, f(func(p Point) float64 { return float64(p.RuleEta) }),
			f(func(p Point) float64 { return float64(p.TheoryEta) }), fmt.Sprintf("%d/%d", mono, len(g.Records)),
			f(func(p Point) float64 { return float64(p.FoundEta) }), f(func(p Point) float64 { return float64(p.Unstable) }),
			f(func(p Point) float64 { return float64(p.Ratio) }), f(func(p Point) float64 { return float64(p.CurvatureRuleEta) }),
			f(func(p Point) float64 { return float64(p.CurvatureEta) }),
			f(func(p Point) float64 { return float64(p.Trials) }))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}

// StepSizePlot is, against heads (else the first numeric swept key), the
// largest monotone step found, 2 / lambda_max(Hess F(theta_0)) and the
// theory step size, log-log, one set of lines per value of the other
// swept keys, with a seed axis the mean and 95% interval over the seeds;
// nil without a numeric swept key.
func StepSizePlot(res *runner.Result) (*plot.Plot, error) {
	all := make([]Point, len(res.Records))
	var ratios []float64
	for i, r := range res.Records {
		if r.Status != runner.StatusOK {
			continue
		}
		if err := r.Decode(&all[i]); err != nil {
			return nil, err
		}
		ratios = append(ratios, float64(all[i].Ratio))
	}
	x := res.XAxis("heads")
	if x == "" {
		return nil, nil
	}
	found := "largest monotone η (bisection)"
	if len(ratios) > 0 {
		found += fmt.Sprintf(": %.3g–%.3g × theory", slices.Min(ratios), slices.Max(ratios))
	}
	title := "Step size η against " + res.AxisName(x)
	if n := res.SeedNote(); n != "" {
		title += "\n(" + n + ")"
	}
	xl := x
	if x == "heads" {
		xl = "number of heads H"
	}
	p := figure.New(title, xl, fmt.Sprintf("step size η (K = %d)", gdpoint.Of(res.Config).Steps))
	var xs []float64
	for _, r := range res.Records {
		if v, ok := r.Value(x); ok && !slices.Contains(xs, v.Float()) {
			xs = append(xs, v.Float())
		}
	}
	figure.ValueAxis(&p.X, xs)
	_, logX := p.X.Scale.(plot.LogScale)
	figure.LogAxis(&p.Y)
	defer figure.LogHeadroom(p, 100)
	series := res.Series(x)
	for si, s := range series {
		for mi, m := range []struct {
			name  string
			f     func(Point) float64
			shape draw.GlyphDrawer
			color int
		}{
			{found, func(q Point) float64 { return float64(q.FoundEta) }, draw.CircleGlyph{}, 0},
			{"2 / λ_max(Hess F(θ_0))", func(q Point) float64 { return float64(q.CurvatureEta) }, draw.BoxGlyph{}, 2},
			{fmt.Sprintf("curvature rule c / λ_max (c = %g)", gdpoint.Of(res.Config).Step.C), func(q Point) float64 { return float64(q.CurvatureRuleEta) }, draw.PlusGlyph{}, 4},
			{"theory η = 1/L", func(q Point) float64 { return float64(q.TheoryEta) }, draw.TriangleGlyph{}, 3},
		} {
			var st []runner.Stats
			for _, g := range s.Groups {
				var v []float64
				for _, i := range g.Records {
					if res.Records[i].Status == runner.StatusOK {
						v = append(v, m.f(all[i]))
					}
				}
				st = append(st, runner.NewStats(v))
			}
			name, c := m.name, figure.Color(m.color)
			if len(series) > 1 {
				name, c = s.Name+": "+name, figure.Color(4*si+mi)
			}
			if err := figure.AddStats(p, s.X, st, c, m.shape, nil, name, logX, true); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}
