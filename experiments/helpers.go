package experiments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// This file holds what the margin, convexity, generalization and step-size
// experiments share: a resumable GD path, seeds and labels, the step-size
// rule, fits and summary statistics.

// gdPath is one GD run of a point that logs rows at some steps and can be
// checkpointed and resumed like a head-sweep point.
type gdPath struct {
	w       *Work
	lc      layers.Config
	p0      *layers.Params
	train   *datasets.Dataset
	eta     float64
	steps   int
	maxLoss float64
	// logAt says whether step k is logged; at returns its rows. at may use
	// the model (e.g. Hessian-vector products) but must leave its
	// parameters as they were.
	logAt func(k int) bool
	at    func(k int, m *graph.Model, p graph.Progress) ([]string, error)
}

// pathEnd is how a gdPath ended.
type pathEnd struct {
	Status       string // ok, diverged or interrupted
	Step         int    // last step reached
	DivergedStep *int
	Divergence   string
	Rows         []string
	Model        *graph.Model
	Last         graph.Progress
	WallSeconds  float64 // time spent on the point, over every run that resumed it
}

func (g gdPath) run(ctx context.Context) (pathEnd, error) {
	c, w := g.w.Config, g.w
	first, params, wall0 := 0, g.p0, 0.0
	var rows []string
	var cp checkpoint
	ok, err := w.LoadCheckpoint(&cp)
	if err != nil {
		return pathEnd{}, err
	}
	if ok {
		p := layers.NewZeroParams(g.lc)
		if cp.Heads != g.lc.Heads || len(cp.U) != len(p.U) || len(cp.W) != len(p.W) || cp.Step < 0 || cp.Step > g.steps {
			return pathEnd{}, fmt.Errorf("%s does not fit this point (heads %d, step %d)", w.CheckpointPath(), cp.Heads, cp.Step)
		}
		copy(p.U, cp.U)
		copy(p.W, cp.W)
		first, params, rows, wall0 = cp.Step, p, cp.Rows, cp.WallSeconds
		w.Log.WithField("step", first).Info("resuming from checkpoint")
	}
	m, err := graph.NewModel(g.lc, params, g.train)
	if err != nil {
		return pathEnd{}, err
	}
	wall := func() float64 { return wall0 + w.Elapsed().Seconds() }
	save := func(k int) error {
		p := m.Params()
		return w.SaveCheckpoint(checkpoint{Heads: g.lc.Heads, Step: k, U: p.U, W: p.W, Rows: rows, WallSeconds: wall()})
	}
	gd := graph.GD{StepSize: g.eta, Steps: g.steps, MaxLoss: g.maxLoss}
	rec := graph.RecorderFunc(func(p graph.Progress) error {
		k := p.Step
		if k < g.steps && ctx.Err() != nil {
			if err := save(k); err != nil {
				return err
			}
			return ErrInterrupted
		}
		if k > first && k < g.steps && k%c.CheckpointEvery == 0 {
			if err := save(k); err != nil {
				return err
			}
		}
		if g.logAt(k) || k == g.steps {
			rs, err := g.at(k, m, p)
			if err != nil {
				return err
			}
			rows = append(rows, rs...)
		}
		w.Step(k)
		return nil
	})
	last, err := gd.RunFrom(m, first, rec)
	end := pathEnd{Step: last.Step, Model: m, Last: last}
	var div *graph.DivergedError
	switch {
	case errors.Is(err, ErrInterrupted):
		end.Status = StatusInterrupted
		w.Log.WithField("step", last.Step).Warn("interrupted: checkpoint written")
	case errors.As(err, &div):
		s := div.Step
		end.Status, end.Step, end.DivergedStep, end.Divergence = StatusDiverged, s, &s, div.Error()
		w.Log.WithField("step", s).Warn(div.Error())
	case err != nil:
		return pathEnd{}, err
	default:
		end.Status = StatusOK
	}
	end.Rows, end.WallSeconds = rows, wall()
	return end, nil
}

// pointStart is what every GD-based point begins with: its model config,
// data, theta_0, the token norm R, F(theta_0) and its step size.
type pointStart struct {
	lc          layers.Config
	train, test *datasets.Dataset
	p0          *layers.Params
	r, f0       float64
	eta         float64
	rule        string           // "theory" or "fixed"
	derivation  string           // how eta was derived, for summaries
	constants   theory.Constants // over the ball GD with eta stays in
}

// newPointStart sets a point up from its config: the model with
// Config.Heads[0] heads, the data, theta_0 from Config.Init, and eta:
// Config.Eta when set, else the theory step size for Config.Steps steps.
func newPointStart(w *Work) (*pointStart, error) {
	c := w.Config
	s := &pointStart{lc: c.Layer(c.Heads[0])}
	var err error
	if s.train, s.test, err = w.Data(c.Data); err != nil {
		return nil, err
	}
	if s.p0, err = layers.NewParams(s.lc, c.Init); err != nil {
		return nil, err
	}
	ev, err := graph.NewEvaluator(s.lc, s.train)
	if err != nil {
		return nil, err
	}
	e0, err := ev.Evaluate(s.p0)
	if err != nil {
		return nil, err
	}
	s.r, s.f0 = theory.TokenNorm(s.train), e0.Loss
	if c.Eta > 0 {
		radius := math.Sqrt(2 * c.Eta * float64(c.Steps) * s.f0)
		s.constants = theory.ConstantsOverBall(s.lc, s.p0, s.r, radius)
		s.eta, s.rule = c.Eta, "fixed"
		s.derivation = fmt.Sprintf("fixed by config eta = %s; the theory's L over the ball of radius sqrt(2 eta K F0) = %.4g is %.4g (eta L = %.3g)",
			formatFloat(c.Eta), radius, s.constants.Smoothness, c.Eta*s.constants.Smoothness)
		return s, nil
	}
	st, err := theory.StepSizeFor(s.lc, s.p0, s.r, s.f0, c.Steps)
	if err != nil {
		return nil, fmt.Errorf("step size: %w", err)
	}
	s.eta, s.rule, s.derivation, s.constants = st.Eta, "theory", st.Rule(), st.Constants
	return s, nil
}

// csvLine joins fields into a metrics row; floats in the one float format.
func csvLine(fields ...any) string {
	s := make([]string, len(fields))
	for i, f := range fields {
		switch f := f.(type) {
		case float64:
			s[i] = formatFloat(f)
		case Number:
			s[i] = formatFloat(float64(f))
		case int:
			s[i] = strconv.Itoa(f)
		case uint64:
			s[i] = strconv.FormatUint(f, 10)
		case bool:
			s[i] = strconv.FormatBool(f)
		case string:
			s[i] = f
		default:
			panic(fmt.Sprintf("csvLine: %T", f))
		}
	}
	return strings.Join(s, ",")
}

// parseCSV splits a metrics row into the pointers' types (*string, *int,
// *uint64, *float64, *bool), one field each.
func parseCSV(line string, dst ...any) error {
	f := strings.Split(line, ",")
	if len(f) != len(dst) {
		return fmt.Errorf("metrics row %q: %d fields, want %d", line, len(f), len(dst))
	}
	for i, d := range dst {
		var err error
		switch d := d.(type) {
		case *string:
			*d = f[i]
		case *int:
			*d, err = strconv.Atoi(f[i])
		case *uint64:
			*d, err = strconv.ParseUint(f[i], 10, 64)
		case *float64:
			*d, err = strconv.ParseFloat(f[i], 64)
		case *bool:
			*d, err = strconv.ParseBool(f[i])
		default:
			panic(fmt.Sprintf("parseCSV: %T", d))
		}
		if err != nil {
			return fmt.Errorf("metrics row %q, field %d: %w", line, i+1, err)
		}
	}
	return nil
}

// logSteps returns n steps spread log-uniformly over 0..K: 0, then
// round(K^(j/(n-1))) for j = 1..n-1, without repeats; it always ends at K.
func logSteps(steps, n int) []int {
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

// FitLogLog fits log y = a + b log x by least squares and returns the
// slope b and intercept a, over the pairs with x, y > 0 and y finite; NaN
// with fewer than two such points or a single distinct x.
func FitLogLog(x, y []float64) (slope, intercept float64) {
	var lx, ly []float64
	for i := range x {
		if x[i] > 0 && y[i] > 0 && !math.IsInf(y[i], 0) {
			lx, ly = append(lx, math.Log(x[i])), append(ly, math.Log(y[i]))
		}
	}
	n := float64(len(lx))
	if n < 2 {
		return math.NaN(), math.NaN()
	}
	var mx, my float64
	for i := range lx {
		mx += lx[i] / n
		my += ly[i] / n
	}
	var sxy, sxx float64
	for i := range lx {
		sxy += (lx[i] - mx) * (ly[i] - my)
		sxx += (lx[i] - mx) * (lx[i] - mx)
	}
	if sxx == 0 {
		return math.NaN(), math.NaN()
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}

// Stats are the mean, sample standard deviation, minimum and maximum of
// repetitions over seeds.
type Stats struct {
	N        int
	Mean, SD float64 // SD is 0 for one repetition
	Min, Max float64
}

func newStats(v []float64) Stats {
	s := Stats{N: len(v), Mean: math.NaN(), SD: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	if len(v) == 0 {
		return s
	}
	s.Min, s.Max, s.Mean, s.SD = slices.Min(v), slices.Max(v), 0, 0
	for _, x := range v {
		s.Mean += x / float64(len(v))
	}
	if len(v) > 1 {
		for _, x := range v {
			s.SD += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(s.SD / float64(len(v)-1))
	}
	return s
}

// seedLabel is the label part naming repetition i of c.
func seedLabel(c Config) string { return "seed" + strconv.FormatUint(c.Data.Seed, 10) }

// WriteExperimentTable prints the per-point table of an experiment other
// than headsweep; WriteTable calls it for them.
func WriteExperimentTable(w io.Writer, res *Result) error {
	var err error
	switch res.Experiment {
	case MarginName:
		err = writeMarginTable(w, res)
	case ConvexityName:
		err = writeConvexityTable(w, res)
	case GeneralizationName:
		err = writeGeneralizationTable(w, res)
	case StepSizeName:
		err = writeStepSizeTable(w, res)
	default:
		for _, r := range res.Records {
			fmt.Fprintf(w, "%s\t%s\n", r.Label, r.Status)
		}
	}
	if err != nil {
		return err
	}
	return writeWhere(w, res)
}
