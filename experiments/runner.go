package experiments

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// Point is one run of a sweep: GD from one initialization on one dataset.
// A sweep is an ordered list of points; results are assembled in that
// order whatever order the points finish in.
type Point struct {
	Index int    // position in the sweep
	Label string // names points/<label>/ and params/<label>/, e.g. "H4"
	// Cost is the relative compute cost, used only to start the most
	// expensive points first.
	Cost float64
	// Config is the point's own config: Heads holds exactly one head count.
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
	// different config, deleting that run's files first.
	Force bool
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
	Summary
}

// Diverged counts the points with status "diverged".
func (r *Result) Diverged() int {
	n := 0
	for _, p := range r.Points {
		if p.Status == StatusDiverged {
			n++
		}
	}
	return n
}

// RunSweep runs every point of a sweep in cfg.Out (see the package
// documentation for the layout) on cfg.Workers goroutines, skipping points
// a previous run finished and resuming those it checkpointed, then
// assembles metrics.csv, summary.json and the plots that plots draws.
// Errors the user can fix (bad config, refused or unwritable directory)
// are *InputError; a cancelled context gives ErrInterrupted together with
// the partial Result.
func RunSweep(experiment string, cfg Config, points []Point, plots PlotFunc, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	cfg = cfg.Resolve()
	ctx := opt.Context
	if ctx == nil {
		ctx = context.Background()
	}
	log := opt.Log
	if log == nil {
		log = logrus.New()
		log.SetOutput(discard{})
	}
	if err := prepareOut(experiment, cfg, opt.Force, log); err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, log: log, progress: opt.Progress, data: map[string]*dataPair{}, start: time.Now()}
	train, test, err := e.dataFor(cfg.Data)
	if err != nil {
		return nil, err
	}
	if err := datasets.Save(filepath.Join(cfg.Out, "data"), train, test, &cfg.Data); err != nil {
		return nil, err
	}

	results := make([]*PointResult, len(points))
	var todo []int
	for i, pt := range points {
		if r, err := readPointResult(cfg.Out, pt.Label); err == nil {
			// A kill between result.json and the checkpoint's removal
			// leaves a stale checkpoint.
			os.Remove(filepath.Join(pointDir(cfg.Out, pt.Label), "checkpoint.json"))
			results[i] = r
			continue
		}
		todo = append(todo, i)
		e.prog.Total += pt.Cost * float64(pt.Config.Steps)
	}
	e.prog.Points = len(todo)
	// Largest first, so that the longest point does not start last.
	slices.SortStableFunc(todo, func(a, b int) int {
		switch {
		case points[a].Cost > points[b].Cost:
			return -1
		case points[a].Cost < points[b].Cost:
			return 1
		}
		return 0
	})
	if len(todo) < len(points) {
		log.WithField("finished", len(points)-len(todo)).Info("resuming: finished points are kept")
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range min(cfg.Workers, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				r, err := e.runPoint(runCtx, points[i])
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("point %s: %w", points[i].Label, err)
					cancel()
				}
				results[i] = r
				mu.Unlock()
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case queue <- i:
		case <-runCtx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}

	res := &Result{Experiment: experiment, Dir: cfg.Out, Config: cfg}
	res.Summary, err = assemble(experiment, cfg.Out, points, results)
	if err != nil {
		return nil, err
	}
	if plots != nil {
		if err := writePlots(cfg.Out, res, plots); err != nil {
			return nil, err
		}
	}
	if ctx.Err() != nil {
		return res, ErrInterrupted
	}
	return res, nil
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

// step reports one GD step of a point to the progress callback.
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

func readPointResult(out, label string) (*PointResult, error) {
	dir := pointDir(out, label)
	var r PointResult
	if err := readJSON(filepath.Join(dir, "result.json"), &r); err != nil {
		return nil, err
	}
	rows, err := ReadMetrics(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		return nil, err
	}
	r.Rows = rows
	return &r, nil
}

// runPoint trains one point to the end, to divergence, or until ctx is
// cancelled (then it writes a checkpoint and returns status interrupted).
func (e *env) runPoint(ctx context.Context, pt Point) (*PointResult, error) {
	start := time.Now()
	c := pt.Config.Resolve()
	heads := c.Heads[0]
	lc := c.Layer(heads)
	out := e.cfg.Out
	dir := pointDir(out, pt.Label)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	train, test, err := e.dataFor(c.Data)
	if err != nil {
		return nil, err
	}
	p0, err := layers.NewParams(lc, c.Init)
	if err != nil {
		return nil, err
	}
	if err := graph.SaveParams(filepath.Join(out, "params", pt.Label, "init"), p0); err != nil {
		return nil, err
	}
	res := &PointResult{Index: pt.Index, Label: pt.Label, Heads: heads}
	if err := pointTheory(res, c, lc, p0, train); err != nil {
		return nil, fmt.Errorf("theory: %w", err)
	}

	// Resume from the checkpoint if there is one.
	first, params, var0 := 0, p0, 0.0
	var lines []string
	cpPath := filepath.Join(dir, "checkpoint.json")
	var cp checkpoint
	if err := readJSON(cpPath, &cp); err == nil {
		p := layers.NewZeroParams(lc)
		if cp.Heads != heads || len(cp.U) != len(p.U) || len(cp.W) != len(p.W) || cp.Step < 0 || cp.Step > c.Steps {
			return nil, fmt.Errorf("%s does not fit this point (heads %d, step %d)", cpPath, cp.Heads, cp.Step)
		}
		copy(p.U, cp.U)
		copy(p.W, cp.W)
		first, params, lines, var0 = cp.Step, p, cp.Rows, cp.WallSeconds
		e.log.WithFields(logrus.Fields{"point": pt.Label, "step": first}).Info("resuming from checkpoint")
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	e.log.WithFields(logrus.Fields{"point": pt.Label, "eta": formatFloat(float64(res.Eta)), "eta_rule": res.EtaRule}).Info("training")

	m, err := graph.NewModel(lc, params, train)
	if err != nil {
		return nil, err
	}
	testEval, err := graph.NewEvaluator(lc, test)
	if err != nil {
		return nil, err
	}
	theta0 := p0.Trainable(lc, nil)
	wall := func() float64 { return var0 + time.Since(start).Seconds() }
	save := func(k int, p *layers.Params) error {
		return writeJSON(cpPath, checkpoint{Heads: heads, Step: k, U: p.U, W: p.W, Rows: lines, WallSeconds: wall()})
	}
	gd := graph.GD{StepSize: float64(res.Eta), Steps: c.Steps, MaxLoss: c.MaxLoss}
	if err := gd.Validate(); err != nil {
		return nil, err
	}
	var last Row
	haveLast := false
	rec := graph.RecorderFunc(func(p graph.Progress) error {
		k := p.Step
		if k < c.Steps && ctx.Err() != nil {
			if err := save(k, m.Params()); err != nil {
				return err
			}
			return ErrInterrupted
		}
		if k > first && k < c.Steps && k%c.CheckpointEvery == 0 {
			if err := save(k, m.Params()); err != nil {
				return err
			}
		}
		if k%c.LogEvery == 0 || k == c.Steps {
			cur := m.Params()
			te, err := testEval.Evaluate(cur)
			if err != nil {
				return err
			}
			last = Row{Heads: heads, Step: k, TrainLoss: p.Loss, TrainErr: p.Error, GradNorm: p.GradNorm,
				TestLoss: te.Loss, TestErr: te.Error, RelevantAttention: testEval.RelevantMass(),
				DistFromInit: distance(cur.Trainable(lc, nil), theta0)}
			haveLast = true
			lines = append(lines, last.csv())
		}
		e.step(pt, k, false)
		return nil
	})
	final, err := gd.RunFrom(m, first, rec)
	var div *graph.DivergedError
	switch {
	case errors.Is(err, ErrInterrupted):
		res.Status, res.Step = StatusInterrupted, final.Step
		res.WallSeconds = Number(wall())
		res.Rows = parseLines(lines)
		e.log.WithFields(logrus.Fields{"point": pt.Label, "step": final.Step}).Warn("interrupted: checkpoint written")
		return res, nil
	case errors.As(err, &div):
		res.Status, res.Step = StatusDiverged, div.Step
		s := div.Step
		res.DivergedStep, res.Divergence = &s, div.Error()
		e.log.WithFields(logrus.Fields{"point": pt.Label, "step": div.Step}).Warn(div.Error())
	case err != nil:
		return nil, err
	default:
		res.Status, res.Step = StatusOK, final.Step
	}
	if !haveLast && len(lines) > 0 {
		last, _ = parseRow(lines[len(lines)-1])
		haveLast = true
	}
	if haveLast {
		res.TrainLoss, res.TestLoss = Number(last.TrainLoss), Number(last.TestLoss)
		res.TrainErr, res.TestErr = Number(last.TrainErr), Number(last.TestErr)
		res.DistFromInit, res.RelevantAttention = Number(last.DistFromInit), Number(last.RelevantAttention)
	} else {
		nan := Number(math.NaN())
		res.TrainLoss, res.TestLoss, res.TrainErr, res.TestErr, res.DistFromInit, res.RelevantAttention = nan, nan, nan, nan, nan, nan
	}
	if fp := m.Params(); fp.Check(lc) == nil {
		if err := graph.SaveParams(filepath.Join(out, "params", pt.Label, "final"), fp); err != nil {
			return nil, err
		}
	}
	if err := writeMetrics(filepath.Join(dir, "metrics.csv"), lines); err != nil {
		return nil, err
	}
	res.WallSeconds = Number(wall())
	// result.json is the commit point: a point with it is finished.
	if err := writeJSON(filepath.Join(dir, "result.json"), res); err != nil {
		return nil, err
	}
	if err := os.Remove(cpPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	res.Rows = parseLines(lines)
	e.step(pt, 0, true)
	e.log.WithFields(logrus.Fields{"point": pt.Label, "status": res.Status, "train_loss": formatFloat(float64(res.TrainLoss)),
		"test_err": formatFloat(float64(res.TestErr)), "seconds": fmt.Sprintf("%.1f", float64(res.WallSeconds))}).Info("point done")
	return res, nil
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

// pointTheory fills the step size and the theory's numbers of a point.
func pointTheory(res *PointResult, c Config, lc layers.Config, p0 *layers.Params, train *datasets.Dataset) error {
	r := theory.TokenNorm(train)
	ev, err := graph.NewEvaluator(lc, train)
	if err != nil {
		return err
	}
	e0, err := ev.Evaluate(p0)
	if err != nil {
		return err
	}
	var k theory.Constants
	th := &res.Theory
	th.InitialLoss, th.R = Number(e0.Loss), Number(r)
	if c.Eta > 0 {
		radius := math.Sqrt(2 * c.Eta * float64(c.Steps) * e0.Loss)
		k = theory.ConstantsOverBall(lc, p0, r, radius)
		res.Eta, res.EtaRule = Number(c.Eta), "fixed"
		res.EtaDerivation = fmt.Sprintf("fixed by config eta = %s; the theory's L over the ball of radius sqrt(2 eta K F0) = %.4g is %.4g (eta L = %.3g)",
			formatFloat(c.Eta), radius, k.Smoothness, c.Eta*k.Smoothness)
	} else {
		s, err := theory.StepSizeFor(lc, p0, r, e0.Loss, c.Steps)
		if err != nil {
			return err
		}
		k = s.Constants
		res.Eta, res.EtaRule, res.EtaDerivation = Number(s.Eta), "theory", s.Rule()
	}
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
	pred := theory.NewPrediction(cert, float64(res.Eta), theory.ConstantsOverBall(lc, p0, r, 2*cert.Distance))
	th.Bound = &BoundInfo{FStar: Number(pred.FStar), Distance: Number(pred.Distance), Eta: Number(pred.Eta), Valid: pred.Valid,
		TrainAtK: Number(pred.Train(c.Steps)), TestAtK: Number(pred.Test(c.Steps, train.N)), Lipschitz: Number(pred.Lipschitz)}
	return nil
}
