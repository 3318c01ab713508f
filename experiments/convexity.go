package experiments

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/theory"
)

// ConvexityHeader is the header of the convexity experiment's metrics.csv:
// one row per measured step k of each point. lambda_min and lambda_max are
// Lanczos estimates of the extreme eigenvalues of Hess F(theta_k) (Ritz
// values, so |lambda_min| is at most the true one; the residuals bound
// the distance to an eigenvalue); ratio = lambda_min / F(theta_k); kappa
// and L are the theory's weak-convexity and smoothness constants over the
// ball of radius ||theta_k - theta_0|| around theta_0, so the theory says
// ratio >= -kappa and lambda_max <= L.
const ConvexityHeader = "label,heads,step,train_loss,lambda_min,lambda_max,ratio,min_resid,max_resid,dist_from_init,kappa,L"

// ConvexityPoint is a point of the convexity experiment.
type ConvexityPoint struct {
	Index  int    `json:"index"`
	Label  string `json:"label"`
	Status string `json:"status"`
	Heads  int    `json:"heads"`
	Step   int    `json:"step"`
	// DivergedStep and Divergence are set for status "diverged".
	DivergedStep *int   `json:"diverged_step,omitempty"`
	Divergence   string `json:"divergence,omitempty"`
	Eta          Number `json:"eta"`
	EtaRule      string `json:"eta_rule"` // "theory" or "fixed"
	// Ratio0 is lambda_min / F at theta_0; WorstRatio the smallest
	// lambda_min / F along the path (the one the theory bounds by -kappa),
	// at step WorstStep.
	Ratio0     Number `json:"ratio_0"`
	WorstRatio Number `json:"worst_ratio"`
	WorstStep  int    `json:"worst_step"`
	// LambdaMax is the largest lambda_max along the path.
	LambdaMax Number `json:"lambda_max"`
	// Kappa and L are the theory's constants over the ball the path stays
	// in (radius ||theta_K - theta_0||); Kappa0 and L0 at theta_0 itself.
	Kappa       Number `json:"kappa"`
	L           Number `json:"L"`
	Kappa0      Number `json:"kappa_0"`
	L0          Number `json:"L_0"`
	Distance    Number `json:"dist_from_init"`
	Samples     int    `json:"samples"`
	Lanczos     int    `json:"lanczos"`
	WallSeconds Number `json:"wall_seconds"`
}

// ConvexityPoints returns one point per head count, labelled "H<h>", as
// HeadSweepPoints.
func ConvexityPoints(cfg Config) []Point { return HeadSweepPoints(cfg) }

// Convexity trains the model for every head count with GD (theory step
// sizes, or cfg.Eta) and measures lambda_min(Hess F)/F and lambda_max at
// cfg.Convexity.Samples steps along the path, against the theory's -kappa
// (kappa = max_h beta2 / sqrt(H) by default) and L; the table and
// summary's fit give the slope of log|lambda_min/F| against log H (the
// theory: -1/2 when beta2 does not grow with H). Writes cfg.Out (default
// results/convexity).
func Convexity(cfg Config) (*Result, error) { return ConvexityWith(cfg, Options{}) }

// ConvexityWith is Convexity with options.
func ConvexityWith(cfg Config, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	if cfg.Convexity == (ConvexitySettings{}) {
		return nil, &InputError{Err: &FieldError{Field: "convexity", Value: "", Want: "samples and lanczos (e.g. 8 and 25)"}}
	}
	return Run(cfg, Sweep{Experiment: ConvexityName, Header: ConvexityHeader, Points: ConvexityPoints(cfg.Resolve()),
		Run: convexityPoint, Plots: ConvexityPlots}, opt)
}

func convexityPoint(ctx context.Context, w *Work) (Outcome, error) {
	c := w.Config
	s, err := newPointStart(w)
	if err != nil {
		return Outcome{}, err
	}
	lc, train, p0, r, eta, rule := s.lc, s.train, s.p0, s.r, s.eta, s.rule
	res := &ConvexityPoint{Index: w.Point.Index, Label: w.Point.Label, Heads: lc.Heads, Eta: Number(eta), EtaRule: rule,
		Samples: c.Convexity.Samples, Lanczos: c.Convexity.Lanczos}
	k0 := theory.ConstantsOverBall(lc, p0, r, 0)
	res.Kappa0, res.L0 = Number(k0.WeakConvexity), Number(k0.Smoothness)
	sample := logSteps(c.Steps, c.Convexity.Samples)
	theta0 := p0.Trainable(lc, nil)
	path := gdPath{w: w, lc: lc, p0: p0, train: train, eta: eta, steps: c.Steps, maxLoss: c.MaxLoss,
		logAt: func(k int) bool { _, ok := slices.BinarySearch(sample, k); return ok },
		at: func(k int, m *graph.Model, p graph.Progress) ([]string, error) {
			// The Lanczos start vector's seed is the step, so a resumed
			// point measures exactly what an uninterrupted one does.
			sp, err := theory.Curvature(m, c.Convexity.Lanczos, uint64(k)+1)
			if err != nil {
				return nil, fmt.Errorf("curvature at step %d: %w", k, err)
			}
			// Hessian-vector products overwrite the model's gradient;
			// GD's next update needs the one at theta_k.
			if _, err := m.Evaluate(); err != nil {
				return nil, err
			}
			dist := distance(m.Params().Trainable(lc, nil), theta0)
			kb := theory.ConstantsOverBall(lc, p0, r, dist)
			return []string{csvLine(w.Point.Label, lc.Heads, k, p.Loss, sp.Min, sp.Max, sp.Min/p.Loss, sp.MinResid, sp.MaxResid,
				dist, kb.WeakConvexity, kb.Smoothness)}, nil
		}}
	end, err := path.run(ctx)
	if err != nil {
		return Outcome{}, err
	}
	res.Status, res.Step, res.DivergedStep, res.Divergence = end.Status, end.Step, end.DivergedStep, end.Divergence
	rows, err := parseConvexityRows(end.Rows)
	if err != nil {
		return Outcome{}, err
	}
	res.Ratio0, res.WorstRatio, res.LambdaMax, res.Distance = nan, nan, nan, nan
	res.Kappa, res.L = nan, nan
	for i, row := range rows {
		if i == 0 && row.Step == 0 {
			res.Ratio0 = Number(row.Ratio)
		}
		if !(float64(res.WorstRatio) <= row.Ratio) {
			res.WorstRatio, res.WorstStep = Number(row.Ratio), row.Step
		}
		if !(float64(res.LambdaMax) >= row.LambdaMax) {
			res.LambdaMax = Number(row.LambdaMax)
		}
		res.Distance, res.Kappa, res.L = Number(row.Dist), Number(row.Kappa), Number(row.L)
	}
	res.WallSeconds = Number(w.Elapsed().Seconds())
	return Outcome{Status: res.Status, Rows: end.Rows, Record: res}, nil
}

var nan = Number(math.NaN())

// ConvexityRow is a parsed row of the convexity metrics.
type ConvexityRow struct {
	Label                              string
	Heads, Step                        int
	Loss, LambdaMin, LambdaMax, Ratio  float64
	MinResid, MaxResid, Dist, Kappa, L float64
}

func parseConvexityRows(lines []string) ([]ConvexityRow, error) {
	out := make([]ConvexityRow, 0, len(lines))
	for _, l := range lines {
		var r ConvexityRow
		if err := parseCSV(l, &r.Label, &r.Heads, &r.Step, &r.Loss, &r.LambdaMin, &r.LambdaMax, &r.Ratio, &r.MinResid, &r.MaxResid,
			&r.Dist, &r.Kappa, &r.L); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ConvexityPointsOf decodes the convexity records with their rows;
// unfinished points are left out.
func ConvexityPointsOf(res *Result) ([]ConvexityPoint, [][]ConvexityRow, error) {
	var pts []ConvexityPoint
	var rows [][]ConvexityRow
	for _, r := range res.Records {
		if r.Status != StatusOK && r.Status != StatusDiverged {
			continue
		}
		var p ConvexityPoint
		if err := r.Decode(&p); err != nil {
			return nil, nil, err
		}
		rs, err := parseConvexityRows(r.Rows)
		if err != nil {
			return nil, nil, err
		}
		pts, rows = append(pts, p), append(rows, rs)
	}
	return pts, rows, nil
}

// ConvexityFit is the least-squares fit of log|lambda_min / F| against
// log H over the points where lambda_min < 0, for the worst ratio along
// the path and for the ratio at theta_0, and of log kappa against log H
// for the theory's bound.
type ConvexityFit struct {
	WorstSlope, WorstIntercept float64
	InitSlope, InitIntercept   float64
	KappaSlope, KappaIntercept float64
	Points                     int
}

// FitConvexity fits the slopes of the convexity experiment.
func FitConvexity(pts []ConvexityPoint) ConvexityFit {
	var h, worst, init, kappa []float64
	for _, p := range pts {
		h = append(h, float64(p.Heads))
		worst = append(worst, -float64(p.WorstRatio))
		init = append(init, -float64(p.Ratio0))
		kappa = append(kappa, float64(p.Kappa))
	}
	var f ConvexityFit
	f.WorstSlope, f.WorstIntercept = FitLogLog(h, worst)
	f.InitSlope, f.InitIntercept = FitLogLog(h, init)
	f.KappaSlope, f.KappaIntercept = FitLogLog(h, kappa)
	f.Points = len(pts)
	return f
}

func writeConvexityTable(w io.Writer, res *Result) error {
	pts, _, err := ConvexityPointsOf(res)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "H\tstatus\teta\tlambda_min/F at 0\tworst lambda_min/F\tat step\t-kappa\tmax lambda_max\tL\tL/lambda_max\t")
	for _, p := range pts {
		fmt.Fprintf(tw, "%d\t%s\t%.4g\t%.4g\t%.4g\t%d\t%.4g\t%.4g\t%.4g\t%.3g\t\n", p.Heads, p.Status, float64(p.Eta), float64(p.Ratio0),
			float64(p.WorstRatio), p.WorstStep, -float64(p.Kappa), float64(p.LambdaMax), float64(p.L), float64(p.L)/float64(p.LambdaMax))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	f := FitConvexity(pts)
	_, err = fmt.Fprintf(w, "slope of log|lambda_min/F| vs log H: %.3f (worst along the path), %.3f (at theta_0); theory's kappa: %.3f; 1/sqrt(H) is -0.5\n",
		f.WorstSlope, f.InitSlope, f.KappaSlope)
	return err
}
