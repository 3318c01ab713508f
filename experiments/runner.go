package experiments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/theory"
)

// Point is one unit of work of a sweep: for HeadSweep, GD from one
// initialization on one dataset; for the other experiments whatever their
// PointFunc computes for the point's config. A sweep is an ordered list of
// points; results are assembled in that order whatever order the points
// finish in.
type Point struct {
	Index int    // position in the sweep
	Label string // names points/<label>/ and params/<label>/, e.g. "H4"
	// Cost is the relative compute cost, used only to start the most
	// expensive points first.
	Cost float64
	// Config is the point's own config: Heads holds exactly one head count
	// (the point's H), seeds and other swept values are set in it.
	Config Config
}

// Options are the settings of a run that do not change its results.
type Options struct {
	// Context stops the run when cancelled: running points write a
	// checkpoint and the run returns ErrInterrupted. nil: never.
	Context context.Context
	// Log receives progress and events; nil discards them.
	Log *logrus.Logger
	// Progress, if not nil, is called after every GD step of every point
	// (from the worker goroutines, serialized).
	Progress func(Progress)
	// Force lets the run reuse an output directory that holds a run with a
	// different config, deleting that run's files first. Not with Shard.
	Force bool
	// Shard, if Count > 0, runs only the shard's points (point i when
	// i mod Count = Index) and writes only their files: no metrics.csv,
	// summary.json or plots, which Merge writes once every shard is done.
	Shard Shard
	// Merge runs no point: it checks that every point finished (else an
	// *InputError wrapping *IncompleteError names those that did not)
	// and writes metrics.csv, summary.json and the plots, byte-identical to
	// those of one unsharded run.
	Merge bool
}

// Progress is the state of a running sweep.
type Progress struct {
	Done, Total float64       // work units (steps times point cost), this session
	Elapsed     time.Duration // since the sweep started
	ETA         time.Duration // estimated time left; 0 while unknown
	PointsDone  int
	Points      int
	Label       string // the point that just stepped
	Step, Steps int    // its step k and K
}

// Fraction is Done/Total, or 0 when Total is 0.
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	return p.Done / p.Total
}

// ErrInterrupted is returned by a run whose Context was cancelled; every
// running point wrote a checkpoint, and running the same config again
// resumes it.
var ErrInterrupted = errors.New("interrupted")

// Result is a finished (or stopped) sweep, as written to its directory.
type Result struct {
	Experiment string
	Dir        string
	Config     Config // resolved
	// Summary holds the run's status and, for GD points (HeadSweep), each
	// point's PointResult with its rows; Points is empty for the other
	// experiments, whose records are in Records.
	Summary
	// Records are every point's status, result.json and metric rows, in
	// point order.
	Records []Record
	// Shard is the shard this result covers; zero for a whole run or a
	// merge.
	Shard Shard
}

// writeWhere ends a printed table with where the results are.
func writeWhere(w io.Writer, res *Result) error {
	if res.Shard.Count > 0 {
		_, err := fmt.Fprintf(w, "shard %s: its points are in %s (points/, params/); -merge writes metrics.csv, summary.json and plots/ once every shard is done\n",
			res.Shard, res.Dir)
		return err
	}
	_, err := fmt.Fprintf(w, "results in %s (config.json, metrics.csv, summary.json, data/, params/, points/, plots/)\n", res.Dir)
	return err
}

// Diverged counts the points with status "diverged".
func (r *Result) Diverged() int {
	n := 0
	for _, p := range r.Records {
		if p.Status == StatusDiverged {
			n++
		}
	}
	if len(r.Records) == 0 {
		for _, p := range r.Points {
			if p.Status == StatusDiverged {
				n++
			}
		}
	}
	return n
}

// RunSweep runs a sweep of GD points (GDPoint) with the metric columns of
// MetricsHeader, as HeadSweep does, and fills Result.Points from their
// records. See Run for the rest.
func RunSweep(experiment string, cfg Config, points []Point, plots PlotFunc, opt Options) (*Result, error) {
	return Run(cfg, Sweep{Experiment: experiment, Header: MetricsHeader, Points: points, Run: GDPoint,
		Unfinished: gdUnfinished, Plots: plots}, opt)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// env is the state shared by the points of one run.
type env struct {
	cfg      Config
	log      *logrus.Logger
	progress func(Progress)
	start    time.Time

	mu   sync.Mutex
	data map[string]*dataPair
	prog Progress
}

type dataPair struct {
	once        sync.Once
	train, test *datasets.Dataset
	err         error
}

// dataFor generates the data of a mixture config once per run.
func (e *env) dataFor(c datasets.MixtureConfig) (train, test *datasets.Dataset, err error) {
	key := fmt.Sprintf("%+v", c)
	e.mu.Lock()
	d := e.data[key]
	if d == nil {
		d = &dataPair{}
		e.data[key] = d
	}
	e.mu.Unlock()
	d.once.Do(func() { d.train, d.test, d.err = c.Generate() })
	return d.train, d.test, d.err
}

// step reports one step of a point to the progress callback.
func (e *env) step(pt Point, k int, done bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if k > 0 {
		e.prog.Done += pt.Cost
	}
	if done {
		e.prog.PointsDone++
	}
	if e.progress == nil {
		return
	}
	p := e.prog
	p.Elapsed = time.Since(e.start)
	if f := p.Fraction(); f > 0 {
		p.ETA = time.Duration(float64(p.Elapsed) * (1 - f) / f)
	}
	p.Label, p.Step, p.Steps = pt.Label, k, pt.Config.Steps
	e.progress(p)
}

// checkpoint is points/<label>/checkpoint.json: theta_k in the public
// layout and the metric rows of the steps before k.
type checkpoint struct {
	Heads       int       `json:"heads"`
	Step        int       `json:"step"`
	U           []float64 `json:"u"`
	W           []float64 `json:"w"`
	Rows        []string  `json:"rows"`
	WallSeconds float64   `json:"wall_seconds"`
}

// GDPoint is the PointFunc of a GD point (HeadSweep's): it trains the
// model with Config.Heads[0] heads for Config.Steps steps to the end, to
// divergence, or until ctx is cancelled (then it writes a checkpoint and
// returns status interrupted). Its rows have the columns of MetricsHeader
// and its record is a *PointResult.
func GDPoint(ctx context.Context, w *Work) (Outcome, error) {
	res, lines, err := trainPoint(ctx, w)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Status: res.Status, Rows: lines, Record: res}, nil
}

// gdUnfinished is the record of a GD point that did not finish: status
// "interrupted" with its rows so far if an earlier run checkpointed it,
// else "pending".
func gdUnfinished(out string, pt Point) Outcome {
	r := &PointResult{Index: pt.Index, Label: pt.Label, Heads: pt.Config.Heads[0], Status: StatusPending}
	var cp checkpoint
	var lines []string
	if err := readJSON(filepath.Join(pointDir(out, pt.Label), "checkpoint.json"), &cp); err == nil {
		r.Status, r.Step, lines = StatusInterrupted, cp.Step, cp.Rows
	}
	return Outcome{Status: r.Status, Rows: lines, Record: r}
}

func trainPoint(ctx context.Context, w *Work) (*PointResult, []string, error) {
	pt, c := w.Point, w.Config
	s, err := newPointStart(w)
	if err != nil {
		return nil, nil, err
	}
	lc := s.lc
	if err := graph.SaveParams(filepath.Join(w.Out, "params", pt.Label, "init"), s.p0); err != nil {
		return nil, nil, err
	}
	res := &PointResult{Index: pt.Index, Label: pt.Label, Heads: lc.Heads,
		Eta: Number(s.eta), EtaRule: s.rule, EtaDerivation: s.derivation}
	if err := pointTheory(res, c, s); err != nil {
		return nil, nil, fmt.Errorf("theory: %w", err)
	}
	w.Log.WithFields(logrus.Fields{"eta": formatFloat(s.eta), "eta_rule": s.rule}).Info("training")

	testEval, err := graph.NewEvaluator(lc, s.test)
	if err != nil {
		return nil, nil, err
	}
	theta0 := s.p0.Trainable(lc, nil)
	path := gdPath{w: w, lc: lc, p0: s.p0, train: s.train, eta: s.eta, steps: c.Steps, maxLoss: c.MaxLoss,
		logAt: func(k int) bool { return k%c.LogEvery == 0 },
		at: func(k int, m *graph.Model, p graph.Progress) ([]string, error) {
			cur := m.Params()
			te, err := testEval.Evaluate(cur)
			if err != nil {
				return nil, err
			}
			row := Row{Heads: lc.Heads, Step: k, TrainLoss: p.Loss, TrainErr: p.Error, GradNorm: p.GradNorm,
				TestLoss: te.Loss, TestErr: te.Error, RelevantAttention: testEval.RelevantMass(),
				DistFromInit: distance(cur.Trainable(lc, nil), theta0)}
			return []string{row.csv()}, nil
		}}
	end, err := path.run(ctx)
	if err != nil {
		return nil, nil, err
	}
	lines := end.Rows
	res.Status, res.Step, res.DivergedStep, res.Divergence = end.Status, end.Step, end.DivergedStep, end.Divergence
	res.Rows = parseLines(lines)
	res.WallSeconds = Number(end.WallSeconds)
	if end.Status == StatusInterrupted {
		return res, lines, nil
	}
	// The final numbers are those of the last logged row.
	nan := Number(math.NaN())
	res.TrainLoss, res.TestLoss, res.TrainErr, res.TestErr, res.DistFromInit, res.RelevantAttention = nan, nan, nan, nan, nan, nan
	if len(lines) > 0 {
		if last, err := parseRow(lines[len(lines)-1]); err == nil {
			res.TrainLoss, res.TestLoss = Number(last.TrainLoss), Number(last.TestLoss)
			res.TrainErr, res.TestErr = Number(last.TrainErr), Number(last.TestErr)
			res.DistFromInit, res.RelevantAttention = Number(last.DistFromInit), Number(last.RelevantAttention)
		}
	}
	if fp := end.Model.Params(); fp.Check(lc) == nil {
		if err := graph.SaveParams(filepath.Join(w.Out, "params", pt.Label, "final"), fp); err != nil {
			return nil, nil, err
		}
	}
	w.Log.WithFields(logrus.Fields{"status": res.Status, "train_loss": formatFloat(float64(res.TrainLoss)),
		"test_err": formatFloat(float64(res.TestErr))}).Info("trained")
	return res, lines, nil
}

func parseLines(lines []string) []Row {
	rows := make([]Row, 0, len(lines))
	for _, l := range lines {
		if r, err := parseRow(l); err == nil {
			rows = append(rows, r)
		}
	}
	return rows
}

func distance(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}

// pointTheory fills the theory's numbers of a point: the constants over the
// ball its step size assumed, the NTK margin, the realizability certificate
// and the predicted bounds at K.
func pointTheory(res *PointResult, c Config, s *pointStart) error {
	lc, p0, train, r, k := s.lc, s.p0, s.train, s.r, s.constants
	th := &res.Theory
	th.InitialLoss, th.R = Number(s.f0), Number(r)
	th.Radius, th.L = Number(k.Radius), Number(k.Smoothness)
	th.Beta1, th.Beta2 = Number(slices.Max(k.Beta1)), Number(slices.Max(k.Beta2))
	th.WeakConvexity = Number(k.WeakConvexity)

	ntk, err := theory.NewNTK(lc, p0, train)
	if err != nil {
		return err
	}
	mg := ntk.Margin()
	th.NTK = NTKInfo{Gamma: Number(mg.Gamma), Lower: Number(mg.Lower), Upper: Number(mg.Upper), Gap: Number(mg.Gap()),
		Separable: mg.Separable, Converged: mg.Converged}
	cert, err := theory.Realize(lc, p0, train, ntk, mg, c.CertEps)
	if err != nil {
		th.CertificateError = err.Error()
		return nil
	}
	th.Certificate = &CertificateInfo{Eps: Number(cert.Target), Lambda: Number(cert.Lambda), Distance: Number(cert.Distance),
		Margin: Number(cert.Margin), Loss: Number(cert.Loss), LossBound: Number(cert.LossBound), Attained: cert.Attained}
	pred := theory.NewPrediction(cert, s.eta, c.Steps, func(rad float64) theory.Constants { return theory.ConstantsOverBall(lc, p0, r, rad) },
		theory.OutputBound(lc, p0, r))
	th.Bound = &BoundInfo{FStar: Number(pred.FStar), Distance: Number(pred.Distance), Eta: Number(pred.Eta), Valid: pred.Valid(),
		TrainAtK: Number(pred.Train(c.Steps)), TestAtK: Number(pred.Test(c.Steps, train.N)), Lipschitz: Number(pred.Lipschitz)}
	return nil
}
