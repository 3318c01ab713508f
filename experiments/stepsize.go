package experiments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/theory"
)

// LossFloor is the training loss below which a step that does not
// decrease the loss still counts as monotone: on separable data large
// steps drive F to the floating-point floor (1e-20 and below) within a few
// steps, where it cannot decrease further, and that is not instability.
// F = 1e-10 means every margin y Phi is about 23 or more.
const LossFloor = 1e-10

// StepSizeHeader is the header of the step-size experiment's metrics.csv:
// one row per trial of the search. A trial runs GD with step size eta for
// K steps from theta_0 and is monotone when F(theta_{k+1}) < F(theta_k) or
// F(theta_{k+1}) <= LossFloor at every step (it stops at the first step that is not, or at divergence:
// steps is how far it got); final_loss is the last loss it computed.
const StepSizeHeader = "label,heads,trial,eta,monotone,steps,final_loss"

// StepSizePoint is a point of the step-size experiment.
type StepSizePoint struct {
	Index  int    `json:"index"`
	Label  string `json:"label"`
	Status string `json:"status"`
	Heads  int    `json:"heads"`
	Steps  int    `json:"steps"` // K of every trial
	// TheoryEta is the theory step size for K steps (1/L over the ball
	// GD provably stays in, theory.TheoryStepSize) and TheoryL that L.
	TheoryEta      Number `json:"theory_eta"`
	TheoryL        Number `json:"theory_L"`
	TheoryMonotone bool   `json:"theory_monotone"`
	// FoundEta is the largest step size found monotone; Unstable the
	// smallest found not monotone (+Inf if none up to max_factor times
	// the theory's); they are within a factor 1 + tolerance.
	FoundEta Number `json:"found_eta"`
	Unstable Number `json:"unstable_eta"`
	// Ratio is FoundEta / TheoryEta: how conservative the theory is.
	Ratio Number `json:"ratio"`
	// LambdaMax0 is the measured lambda_max(Hess F(theta_0)) (Lanczos),
	// and CurvatureEta = 2 / LambdaMax0, the classical stability limit of
	// GD on a quadratic with that curvature.
	LambdaMax0   Number `json:"lambda_max_0"`
	CurvatureEta Number `json:"curvature_eta"`
	Trials       int    `json:"trials"`
	WallSeconds  Number `json:"wall_seconds"`
}

// StepSizePoints returns one point per head count, labelled "H<h>".
func StepSizePoints(cfg Config) []Point { return HeadSweepPoints(cfg) }

// stepSizeLanczos is the number of Lanczos iterations for lambda_max(theta_0).
const stepSizeLanczos = 25

// StepSize finds, for every head count, the largest constant step size
// whose K-step GD loss sequence decreases at every step (bisection on a log
// scale), and compares it with the theory step size for K steps. Writes
// cfg.Out (default results/stepsize).
func StepSize(cfg Config) (*Result, error) { return StepSizeWith(cfg, Options{}) }

// StepSizeWith is StepSize with options.
func StepSizeWith(cfg Config, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	if cfg.StepSearch == (StepSearchSettings{}) {
		return nil, &InputError{Err: &FieldError{Field: "step_search", Value: "", Want: "tolerance and max_factor (e.g. 0.02 and 1e6)"}}
	}
	if cfg.Eta != 0 {
		return nil, &InputError{Err: &FieldError{Field: "eta", Value: cfg.Eta, Want: "0: the step-size experiment searches the step size"}}
	}
	return Run(cfg, Sweep{Experiment: StepSizeName, Header: StepSizeHeader, Points: StepSizePoints(cfg.Resolve()),
		Run: stepSizePoint, Plots: StepSizePlots}, opt)
}

// errNotMonotone stops a trial at the first step whose loss does not fall.
var errNotMonotone = errors.New("loss did not decrease")

func stepSizePoint(ctx context.Context, w *Work) (Outcome, error) {
	c := w.Config
	s, err := newPointStart(w)
	if err != nil {
		return Outcome{}, err
	}
	lc, train, p0 := s.lc, s.train, s.p0
	// The theory's step whatever Config.Eta says: it is what is compared.
	st, err := theory.StepSizeFor(lc, p0, s.r, s.f0, c.Steps)
	if err != nil {
		return Outcome{}, fmt.Errorf("theory step size: %w", err)
	}
	m, err := graph.NewModel(lc, p0, train)
	if err != nil {
		return Outcome{}, err
	}
	sp, err := theory.Curvature(m, stepSizeLanczos, 1)
	if err != nil {
		return Outcome{}, err
	}
	res := &StepSizePoint{Index: w.Point.Index, Label: w.Point.Label, Status: StatusOK, Heads: lc.Heads, Steps: c.Steps,
		TheoryEta: Number(st.Eta), TheoryL: Number(st.Smoothness), LambdaMax0: Number(sp.Max), CurvatureEta: Number(2 / sp.Max)}

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
		rows = append(rows, csvLine(res.Label, lc.Heads, res.Trials, eta, monotone, steps, final))
		for reported < min(res.Trials*c.Steps/expectTrials, c.Steps-1) {
			reported++
			w.Step(reported)
		}
		return monotone, nil
	}

	lo, hi := st.Eta, math.Inf(1)
	ok, err := trial(lo)
	if err != nil {
		return Outcome{}, err
	}
	res.TheoryMonotone = ok
	if !ok {
		// The theory's step is not monotone (it should be): search below.
		hi = lo
		for lo = hi / 4; lo > st.Eta/c.StepSearch.MaxFactor; lo /= 4 {
			if ok, err = trial(lo); err != nil {
				return Outcome{}, err
			} else if ok {
				break
			}
			hi = lo
		}
	} else {
		for x := lo * 4; x <= st.Eta*c.StepSearch.MaxFactor; x *= 4 {
			if ok, err = trial(x); err != nil {
				return Outcome{}, err
			} else if !ok {
				hi = x
				break
			}
			lo = x
		}
	}
	for !math.IsInf(hi, 1) && hi/lo > 1+c.StepSearch.Tolerance {
		mid := math.Sqrt(lo * hi)
		if ok, err = trial(mid); err != nil {
			return Outcome{}, err
		} else if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	res.FoundEta, res.Unstable, res.Ratio = Number(lo), Number(hi), Number(lo/st.Eta)
	res.WallSeconds = Number(w.Elapsed().Seconds())
	w.Log.WithField("ratio", fmt.Sprintf("%.3g", lo/st.Eta)).Info("step size found")
	return Outcome{Status: StatusOK, Rows: rows, Record: res}, nil
}

// StepSizePointsOf decodes the step-size records; unfinished points are
// left out.
func StepSizePointsOf(res *Result) ([]StepSizePoint, error) {
	var out []StepSizePoint
	for _, r := range res.Records {
		if r.Status != StatusOK {
			continue
		}
		var p StepSizePoint
		if err := r.Decode(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func writeStepSizeTable(w io.Writer, res *Result) error {
	pts, err := StepSizePointsOf(res)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "H\tK\ttheory eta\tmonotone\tfound eta\tunstable eta\tratio\t2/lambda_max(0)\ttrials\t")
	for _, p := range pts {
		fmt.Fprintf(tw, "%d\t%d\t%.4g\t%v\t%.4g\t%.4g\t%.3g\t%.4g\t%d\t\n", p.Heads, p.Steps, float64(p.TheoryEta), p.TheoryMonotone,
			float64(p.FoundEta), float64(p.Unstable), float64(p.Ratio), float64(p.CurvatureEta), p.Trials)
	}
	return tw.Flush()
}
