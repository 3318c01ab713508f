// Package generalization is the generalization experiment: GD on nested
// training sets of growing size n (the first n sequences of one draw), for
// every point of the sweep (default H in {1, 4, 16}, n = 64..1024, seeds
// 1..5), measuring the test loss and the generalization gap against n
// beside the theory's c/n term. Its command is experiments/generalization.
package generalization

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
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
const Name = "generalization"

// Config is a GD point's config; the training-set size is data.train.
type Config = gdpoint.Config

// SizeKey is the swept key of the training-set size.
const SizeKey = "data.train"

// DefaultConfig: n in {64, ..., 1024} (data.train), H in {1, 4, 16},
// seeds 1..5 (data and init), K = 300 steps of eta = 1, n_test = 1024.
func DefaultConfig() Config {
	c := gdpoint.DefaultConfig("results/" + Name)
	c.SweepHeads(1, 4, 16)
	c.SweepAxis(runner.Axis{Key: SizeKey, Values: raw("64", "128", "256", "512", "1024")})
	c.SweepAxis(gdpoint.SeedsAxis(gdpoint.DefaultSeeds...))
	return c
}

func raw(vs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		out[i] = json.RawMessage(v)
	}
	return out
}

// Columns of the generalization metrics: rows every log_every steps,
// losses and 0-1 errors on the point's n training sequences and on the
// n_test test sequences, gap = test_loss - train_loss.
var Columns = []string{"step", "train_loss", "test_loss", "gap", "train_err", "test_err"}

// Point is the record of a generalization point: GD for K steps on the
// first n sequences of the data seed's training draw.
type Point struct {
	Status       string        `json:"status"`
	Heads        int           `json:"heads"`
	N            int           `json:"n"`
	DataSeed     uint64        `json:"data_seed"`
	InitSeed     uint64        `json:"init_seed"`
	Step         int           `json:"step"`
	DivergedStep *int          `json:"diverged_step,omitempty"`
	Divergence   string        `json:"divergence,omitempty"`
	Eta          runner.Number `json:"eta"`
	EtaRule      string        `json:"eta_rule"`
	StepRule     string        `json:"step_rule"` // = EtaRule: "theory", "curvature" or "fixed"
	// Losses and errors at the last logged step (K when ok).
	TrainLoss runner.Number `json:"train_loss"`
	TestLoss  runner.Number `json:"test_loss"`
	Gap       runner.Number `json:"gap"`
	TrainErr  runner.Number `json:"train_err"`
	TestErr   runner.Number `json:"test_err"`
	// BoundGap is the theory's generalization term at K,
	// theory.Prediction.Gap(K, n), from the realizability certificate at
	// theta_0 (NaN without one). BoundValid says whether every hypothesis
	// of the test bound holds for this run (decided after GD, with the
	// measured path and the test set's token norms); BoundReason names the
	// first that does not; Bound lists them all.
	BoundGap    runner.Number      `json:"bound_gap"`
	BoundValid  bool               `json:"bound_valid"`
	BoundReason string             `json:"bound_reason,omitempty"`
	BoundError  string             `json:"bound_error,omitempty"`
	Bound       *gdpoint.BoundInfo `json:"bound,omitempty"`
	WallSeconds runner.Number      `json:"wall_seconds"`
}

// Experiment is the generalization experiment for the runner.
var Experiment = runner.Experiment{
	Name:     Name,
	Doc:      "Trains on nested training sets of growing size n and measures the test loss and the generalization gap against n beside the theory's c/n term.",
	Defaults: func() runner.Config { c := DefaultConfig(); return &c },
	Columns:  Columns,
	Point:    point,
	Units:    gdpoint.Steps,
	Cost:     gdpoint.Cost,
	Table:    Table,
	Plots:    figure.Plots(figure.Builder{Name: "gap_vs_n", Build: GapPlot}, figure.Builder{Name: "test_loss_vs_n", Build: TestLossPlot}),
	Flags:    gdpoint.Flags,
	Memory:   memory,
}

// memory is a point's estimate: the NTK and the certificate's evaluator
// exist for the paper's model only (prediction).
func memory(c runner.Config) (float64, []string) {
	if gdpoint.Of(c).IsPaper() {
		return gdpoint.MemoryTrain(c)
	}
	return gdpoint.Memory(c)
}

// Run runs the experiment and writes its result directory.
func Run(cfg Config, opt runner.Options) (*runner.Result, error) {
	return runner.Run(Experiment, &cfg, opt)
}

func point(ctx context.Context, w *runner.Work) (runner.Outcome, error) {
	s, err := gdpoint.NewStart(w)
	if err != nil {
		return runner.Outcome{}, err
	}
	c := s.Config
	lc, md, train, test, p0, r, eta, rule := s.Layer, s.Model, s.Train, s.Test, s.P0, s.R, s.Eta, s.Rule
	res := &Point{Heads: lc.Heads, N: train.N, DataSeed: c.Data.Seed, InitSeed: c.Init.Seed, Eta: runner.Number(eta), EtaRule: rule, StepRule: rule, BoundGap: runner.NaN}
	var pred *theory.Prediction
	if !c.IsPaper() {
		res.BoundError = fmt.Sprintf("not defined for model kind %q", c.Model.Kind)
	} else if pred, err = prediction(c, lc, md, p0, train, eta, r); err != nil {
		res.BoundError = err.Error()
		pred = nil
	}
	testEval, err := graph.NewEvaluatorOptions(md, test, c.GraphOptions())
	if err != nil {
		return runner.Outcome{}, err
	}
	path := gdpoint.PathOf(w, s)
	path.LogAt = func(k int) bool { return k%c.LogEvery == 0 }
	path.At = func(k int, m *graph.Model, p graph.Progress) ([]string, error) {
		te, err := testEval.Evaluate(m.Params())
		if err != nil {
			return nil, err
		}
		return []string{runner.CSVLine(k, p.Loss, te.Loss, te.Loss-p.Loss, p.Error, te.Error)}, nil
	}
	end, err := path.Run(ctx)
	if err != nil {
		return runner.Outcome{}, err
	}
	res.Status, res.Step, res.DivergedStep, res.Divergence = end.Status, end.Step, end.DivergedStep, end.Divergence
	if pred != nil {
		// A resumed run measured the distance from its checkpoint on.
		pred.CheckPath(end.MaxDistance)
		pred.CheckTokenNorm(theory.TokenNorm(test))
		res.Bound = gdpoint.NewBoundInfo(pred, train.N)
		res.BoundGap, res.BoundValid, res.BoundReason = res.Bound.GapAtK, pred.TestValid(), pred.Reason()
	}
	nan := runner.NaN
	res.TrainLoss, res.TestLoss, res.Gap, res.TrainErr, res.TestErr = nan, nan, nan, nan, nan
	if n := len(end.Rows); n > 0 {
		var step int
		var tl, ts, gap, te, tse float64
		if err := runner.ParseCSV(end.Rows[n-1], &step, &tl, &ts, &gap, &te, &tse); err != nil {
			return runner.Outcome{}, err
		}
		res.TrainLoss, res.TestLoss, res.Gap = runner.Number(tl), runner.Number(ts), runner.Number(gap)
		res.TrainErr, res.TestErr = runner.Number(te), runner.Number(tse)
	}
	res.WallSeconds = runner.Number(end.WallSeconds)
	return runner.Outcome{Status: res.Status, Rows: end.Rows, Record: res}, nil
}

// prediction is the theory's bounds from the realizability certificate
// at theta_0, with the hypotheses only the run can decide still open.
func prediction(c *Config, lc layers.Config, md layers.Model, p0 *layers.Params, train *datasets.Dataset, eta, r float64) (*theory.Prediction, error) {
	ntk, err := theory.NewNTK(md, p0, train)
	if err != nil {
		return nil, err
	}
	cert, err := theory.Realize(md, p0, train, ntk, ntk.Margin(), c.CertEps)
	if err != nil {
		return nil, err
	}
	pred := theory.NewPrediction(cert, eta, c.Steps, func(rad float64) theory.Constants { return theory.ConstantsOverBall(lc, p0, r, rad) },
		theory.OutputBound(lc, p0, r))
	return &pred, nil
}

// Points decodes the records of a result (every point; unfinished ones
// have only a status).
func Points(res *runner.Result) ([]Point, error) {
	out := make([]Point, len(res.Records))
	for i, r := range res.Records {
		if err := r.Decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Group is one group of points (every swept value but the seeds) over
// its seeds.
type Group struct {
	runner.Group
	N                        int
	TrainLoss, TestLoss, Gap runner.Stats
	TestErr                  runner.Stats
	// BoundGap is over the points whose test bound is valid (Valid of
	// them; Invalid names the first failing hypothesis of the others).
	BoundGap runner.Stats
	Valid    int
	Invalid  string
	Rules    string // the step rules of the group's points
}

// Fit is, per line of the plots (the values of the swept keys other than
// data.train and the seeds), the least-squares fit gap = C / n over every
// point, and the slope of log(mean gap) against log n.
type Fit struct {
	Name  string
	C     float64
	Slope float64
	// Groups are the line's groups in order of n.
	Groups []Group
}

// Summary groups the points and fits C / n per line.
func Summary(res *runner.Result) ([]Fit, error) {
	pts, err := Points(res)
	if err != nil {
		return nil, err
	}
	var fits []Fit
	for _, s := range res.Series(SizeKey) {
		f := Fit{Name: s.Name}
		var num, den float64
		var ns, gaps []float64
		for _, g := range s.Groups {
			var v [5][]float64
			n, valid, invalid, rules := 0, 0, "", ""
			for _, i := range g.Records {
				p := pts[i]
				n = p.N
				for j, x := range []runner.Number{p.TrainLoss, p.TestLoss, p.Gap, p.TestErr} {
					v[j] = append(v[j], float64(x))
				}
				if p.BoundValid {
					v[4] = append(v[4], float64(p.BoundGap))
					valid++
				} else if invalid == "" {
					invalid = p.BoundError
					if p.Bound != nil {
						invalid = p.Bound.FailingHypothesis(theory.ForTest)
					}
				}
				if !strings.Contains(","+rules+",", ","+p.StepRule+",") {
					rules = strings.Trim(rules+","+p.StepRule, ",")
				}
				if !math.IsNaN(float64(p.Gap)) {
					num += float64(p.Gap) / float64(p.N)
					den += 1 / (float64(p.N) * float64(p.N))
				}
			}
			gr := Group{Group: g, N: n, TrainLoss: runner.NewStats(v[0]), TestLoss: runner.NewStats(v[1]), Gap: runner.NewStats(v[2]),
				TestErr: runner.NewStats(v[3]), BoundGap: runner.NewStats(v[4]), Valid: valid, Invalid: invalid, Rules: rules}
			f.Groups = append(f.Groups, gr)
			ns, gaps = append(ns, float64(n)), append(gaps, gr.Gap.Mean)
		}
		f.C = num / den
		f.Slope, _ = runner.FitLogLog(ns, gaps)
		fits = append(fits, f)
	}
	return fits, nil
}

// Table prints per group the losses, the gap with its 95% interval over
// the seeds, the test error and the theory's gap term, then the fits.
func Table(w io.Writer, res *runner.Result) error {
	fits, err := Summary(res)
	if err != nil {
		return err
	}
	if note := res.SeedNote(); note != "" {
		fmt.Fprintln(w, note)
	}
	tw := runner.NewTable(w, len(res.GroupHeader()))
	head := append(res.GroupHeader(), "step_rule", "train loss", "test loss", "gap mean", "gap 95% lo", "gap 95% hi", "test err", "theory gap term")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, f := range fits {
		for _, g := range f.Groups {
			cells := append(res.GroupCells(g.Group), g.Rules, fmt.Sprintf("%.4g", g.TrainLoss.Mean), fmt.Sprintf("%.4g", g.TestLoss.Mean),
				fmt.Sprintf("%.3g", g.Gap.Mean), fmt.Sprintf("%.3g", g.Gap.Lo), fmt.Sprintf("%.3g", g.Gap.Hi), fmt.Sprintf("%.3g", g.TestErr.Mean), boundCell(g))
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range fits {
		name := f.Name
		if name == "" {
			name = "all"
		}
		if _, err := fmt.Fprintf(w, "%s: fitted gap = %.3g / n; slope of log(mean gap) vs log n: %.3f (1/n is -1)\n", name, f.C, f.Slope); err != nil {
			return err
		}
	}
	return nil
}

// boundCell is the theory's gap term of a group: its mean where the test
// bound is valid for every point, else "n/a (<first failing hypothesis>)".
func boundCell(g Group) string {
	switch {
	case len(g.Records) == 0:
		return "-"
	case g.Valid == len(g.Records):
		return fmt.Sprintf("%.3g", g.BoundGap.Mean)
	case g.Valid == 0:
		return "n/a (" + g.Invalid + ")"
	}
	return fmt.Sprintf("n/a for %d of %d (%s)", len(g.Records)-g.Valid, len(g.Records), g.Invalid)
}

func sizes(fits []Fit) []int {
	var out []int
	seen := map[int]bool{}
	for _, f := range fits {
		for _, g := range f.Groups {
			if !seen[g.N] && g.N > 0 {
				seen[g.N] = true
				out = append(out, g.N)
			}
		}
	}
	return out
}

func title(res *runner.Result, t string) string {
	if n := res.SeedNote(); n != "" {
		return t + "\n(" + n + ")"
	}
	return t
}

// GapPlot is the generalization gap (test minus training loss) at K
// against n, mean and 95% interval over the seeds per line, log-log, with
// the fitted C/n dashed in the same colour and the theory's term dotted.
func GapPlot(res *runner.Result) (*plot.Plot, error) {
	fits, err := Summary(res)
	if err != nil {
		return nil, err
	}
	p := figure.New(title(res, fmt.Sprintf("Generalization gap after K = %d steps (dashed: fitted C/n; dotted: theory term where valid)", gdpoint.Of(res.Config).Steps)),
		"training-set size n", "test loss − training loss")
	figure.IntAxis(&p.X, sizes(fits))
	p.X.Scale = plot.LogScale{}
	figure.LogAxis(&p.Y)
	defer figure.LogHeadroom(p, 30)
	var invalid []string
	for i, f := range fits {
		var xs []float64
		var st []runner.Stats
		var fit, bound plotter.XYs
		for _, g := range f.Groups {
			n := float64(g.N)
			xs, st = append(xs, n), append(st, g.Gap)
			fit = append(fit, plotter.XY{X: n, Y: f.C / n})
			if g.Valid == len(g.Records) && g.Valid > 0 && !math.IsInf(g.BoundGap.Mean, 0) {
				bound = append(bound, plotter.XY{X: n, Y: g.BoundGap.Mean})
			} else if g.Invalid != "" && !slices.Contains(invalid, g.Invalid) {
				invalid = append(invalid, g.Invalid)
			}
		}
		c := figure.Color(i)
		name := fmt.Sprintf("measured (C = %.3g)", f.C)
		if f.Name != "" {
			name = f.Name + ": " + name
		}
		if err := figure.AddStats(p, xs, st, c, figure.Glyph(i), nil, name, true, true); err != nil {
			return nil, err
		}
		if err := figure.AddLine(p, figure.Positive(fit, true, true), c, figure.Dashed, ""); err != nil {
			return nil, err
		}
		if err := figure.AddLine(p, figure.Positive(bound, true, true), c, figure.Dotted, ""); err != nil {
			return nil, err
		}
	}
	figure.LegendEntry(p, figure.Dashed, "fitted C/n")
	figure.LegendEntry(p, figure.Dotted, "theory: Gap(K, n), where valid")
	for _, h := range invalid {
		figure.LegendEntry(p, figure.Dotted, "theory term not valid: "+h+" (not drawn)")
	}
	return p, nil
}

// TestLossPlot is the test and training loss at K against n, mean and
// 95% interval over the seeds per line, log x.
func TestLossPlot(res *runner.Result) (*plot.Plot, error) {
	fits, err := Summary(res)
	if err != nil {
		return nil, err
	}
	p := figure.New(title(res, fmt.Sprintf("Test and training loss after K = %d steps", gdpoint.Of(res.Config).Steps)), "training-set size n", "loss")
	figure.IntAxis(&p.X, sizes(fits))
	p.X.Scale = plot.LogScale{}
	for i, f := range fits {
		var xs []float64
		var test, train []runner.Stats
		for _, g := range f.Groups {
			xs, test, train = append(xs, float64(g.N)), append(test, g.TestLoss), append(train, g.TrainLoss)
		}
		c := figure.Color(i)
		prefix := ""
		if f.Name != "" {
			prefix = f.Name + ": "
		}
		if err := figure.AddStats(p, xs, test, c, draw.CircleGlyph{}, nil, prefix+"test", true, false); err != nil {
			return nil, err
		}
		if err := figure.AddStats(p, xs, train, c, draw.BoxGlyph{}, figure.Dashed, prefix+"training", true, false); err != nil {
			return nil, err
		}
	}
	figure.Headroom(p, 2*len(fits))
	return p, nil
}
