package experiments

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// GeneralizationHeader is the header of the generalization experiment's
// metrics.csv: rows every log_every steps of each point, losses and 0-1
// errors on its n training sequences and on the n_test test sequences,
// gap = test_loss - train_loss.
const GeneralizationHeader = "label,heads,n,seed,step,train_loss,test_loss,gap,train_err,test_err"

// GeneralizationPoint is a point of the generalization experiment: GD for
// K steps on the first n sequences of the data seed's training draw.
type GeneralizationPoint struct {
	Index        int    `json:"index"`
	Label        string `json:"label"`
	Status       string `json:"status"`
	Heads        int    `json:"heads"`
	N            int    `json:"n"`
	DataSeed     uint64 `json:"data_seed"`
	InitSeed     uint64 `json:"init_seed"`
	Step         int    `json:"step"`
	DivergedStep *int   `json:"diverged_step,omitempty"`
	Divergence   string `json:"divergence,omitempty"`
	Eta          Number `json:"eta"`
	EtaRule      string `json:"eta_rule"`
	// Losses and errors at the last logged step (K when ok).
	TrainLoss Number `json:"train_loss"`
	TestLoss  Number `json:"test_loss"`
	Gap       Number `json:"gap"`
	TrainErr  Number `json:"train_err"`
	TestErr   Number `json:"test_err"`
	// BoundGap is the theory's generalization term at K,
	// theory.Prediction.Test(K, n) - Train(K) = 4 G^2 (2 eta K F(theta*) + D^2) / n,
	// from the realizability certificate at theta_0 (NaN without one);
	// BoundValid is the prediction's validity condition.
	BoundGap    Number `json:"bound_gap"`
	BoundValid  bool   `json:"bound_valid"`
	BoundError  string `json:"bound_error,omitempty"`
	WallSeconds Number `json:"wall_seconds"`
}

// GeneralizationPoints returns, for every head count, training size and
// seed, the point "H<h>-n<n>-seed<s>", cost proportional to H n.
func GeneralizationPoints(cfg Config) []Point {
	var pts []Point
	for _, h := range cfg.Heads {
		for _, n := range cfg.Sizes {
			for i := range cfg.seeds() {
				c := cfg.withSeed(i)
				c.Heads, c.Data.Train = []int{h}, n
				pts = append(pts, Point{Index: len(pts), Label: fmt.Sprintf("H%d-n%d-%s", h, n, seedLabel(c)),
					Cost: float64(h)*float64(n+c.Data.Test/max(c.LogEvery, 1)) + 1, Config: c})
			}
		}
	}
	return pts
}

// Generalization trains the model for every head count of cfg.Heads on the
// nested training sets of sizes cfg.Sizes, over cfg.Seeds seeds, and
// measures the test loss and the generalization gap against n beside the
// theory's c/n term. Writes cfg.Out (default results/generalization).
func Generalization(cfg Config) (*Result, error) { return GeneralizationWith(cfg, Options{}) }

// GeneralizationWith is Generalization with options.
func GeneralizationWith(cfg Config, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	if len(cfg.Sizes) == 0 {
		return nil, &InputError{Err: &FieldError{Field: "sizes", Value: "", Want: "a list of training-set sizes n"}}
	}
	return Run(cfg, Sweep{Experiment: GeneralizationName, Header: GeneralizationHeader, Points: GeneralizationPoints(cfg.Resolve()),
		Run: generalizationPoint, Plots: GeneralizationPlots}, opt)
}

func generalizationPoint(ctx context.Context, w *Work) (Outcome, error) {
	c := w.Config
	s, err := newPointStart(w)
	if err != nil {
		return Outcome{}, err
	}
	lc, train, test, p0, r, eta, rule := s.lc, s.train, s.test, s.p0, s.r, s.eta, s.rule
	res := &GeneralizationPoint{Index: w.Point.Index, Label: w.Point.Label, Heads: lc.Heads, N: train.N,
		DataSeed: c.Data.Seed, InitSeed: c.Init.Seed, Eta: Number(eta), EtaRule: rule, BoundGap: nan}
	if gap, valid, err := boundGap(c, lc, p0, train, eta, r); err != nil {
		res.BoundError = err.Error()
	} else {
		res.BoundGap, res.BoundValid = Number(gap), valid
	}
	testEval, err := graph.NewEvaluator(lc, test)
	if err != nil {
		return Outcome{}, err
	}
	path := gdPath{w: w, lc: lc, p0: p0, train: train, eta: eta, steps: c.Steps, maxLoss: c.MaxLoss,
		logAt: func(k int) bool { return k%c.LogEvery == 0 },
		at: func(k int, m *graph.Model, p graph.Progress) ([]string, error) {
			te, err := testEval.Evaluate(m.Params())
			if err != nil {
				return nil, err
			}
			return []string{csvLine(w.Point.Label, lc.Heads, train.N, c.Data.Seed, k, p.Loss, te.Loss, te.Loss-p.Loss, p.Error, te.Error)}, nil
		}}
	end, err := path.run(ctx)
	if err != nil {
		return Outcome{}, err
	}
	res.Status, res.Step, res.DivergedStep, res.Divergence = end.Status, end.Step, end.DivergedStep, end.Divergence
	res.TrainLoss, res.TestLoss, res.Gap, res.TrainErr, res.TestErr = nan, nan, nan, nan, nan
	if rows, err := parseGeneralizationRows(end.Rows); err != nil {
		return Outcome{}, err
	} else if len(rows) > 0 {
		last := rows[len(rows)-1]
		res.TrainLoss, res.TestLoss, res.Gap = Number(last.TrainLoss), Number(last.TestLoss), Number(last.Gap)
		res.TrainErr, res.TestErr = Number(last.TrainErr), Number(last.TestErr)
	}
	res.WallSeconds = Number(w.Elapsed().Seconds())
	return Outcome{Status: res.Status, Rows: end.Rows, Record: res}, nil
}

// boundGap is the theory's generalization term at K from the
// realizability certificate at theta_0.
func boundGap(c Config, lc layers.Config, p0 *layers.Params, train *datasets.Dataset, eta, r float64) (float64, bool, error) {
	ntk, err := theory.NewNTK(lc, p0, train)
	if err != nil {
		return 0, false, err
	}
	cert, err := theory.Realize(lc, p0, train, ntk, ntk.Margin(), c.CertEps)
	if err != nil {
		return 0, false, err
	}
	pred := theory.NewPrediction(cert, eta, c.Steps, func(rad float64) theory.Constants { return theory.ConstantsOverBall(lc, p0, r, rad) },
		theory.OutputBound(lc, p0, r))
	return pred.Gap(c.Steps, train.N), pred.Valid(), nil
}

// GeneralizationRow is a parsed row of the generalization metrics.
type GeneralizationRow struct {
	Label                                       string
	Heads, N                                    int
	Seed                                        uint64
	Step                                        int
	TrainLoss, TestLoss, Gap, TrainErr, TestErr float64
}

func parseGeneralizationRows(lines []string) ([]GeneralizationRow, error) {
	out := make([]GeneralizationRow, 0, len(lines))
	for _, l := range lines {
		var r GeneralizationRow
		if err := parseCSV(l, &r.Label, &r.Heads, &r.N, &r.Seed, &r.Step, &r.TrainLoss, &r.TestLoss, &r.Gap, &r.TrainErr, &r.TestErr); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// GeneralizationPointsOf decodes the generalization records; unfinished
// points are left out.
func GeneralizationPointsOf(res *Result) ([]GeneralizationPoint, error) {
	var out []GeneralizationPoint
	for _, r := range res.Records {
		if r.Status != StatusOK && r.Status != StatusDiverged {
			continue
		}
		var p GeneralizationPoint
		if err := r.Decode(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// GeneralizationGroup is one (H, n) over its seeds.
type GeneralizationGroup struct {
	Heads, N                 int
	TrainLoss, TestLoss, Gap Stats
	TestErr                  Stats
	BoundGap                 Stats
}

// GeneralizationFit is, per head count, the least-squares fit gap = C / n
// over every seed and size, and the slope of log(mean gap) against log n
// over the sizes with a positive mean gap.
type GeneralizationFit struct {
	Heads int
	C     float64
	Slope float64
}

// GeneralizationSummary groups the points by (H, n) in order of
// appearance and fits C / n per head count.
func GeneralizationSummary(pts []GeneralizationPoint) ([]GeneralizationGroup, []GeneralizationFit) {
	type key struct{ h, n int }
	var keys []key
	vals := map[key][5][]float64{}
	for _, p := range pts {
		k := key{p.Heads, p.N}
		v, ok := vals[k]
		if !ok {
			keys = append(keys, k)
		}
		for i, x := range []Number{p.TrainLoss, p.TestLoss, p.Gap, p.TestErr, p.BoundGap} {
			if !math.IsNaN(float64(x)) {
				v[i] = append(v[i], float64(x))
			}
		}
		vals[k] = v
	}
	groups := make([]GeneralizationGroup, len(keys))
	var heads []int
	for i, k := range keys {
		v := vals[k]
		groups[i] = GeneralizationGroup{Heads: k.h, N: k.n, TrainLoss: newStats(v[0]), TestLoss: newStats(v[1]), Gap: newStats(v[2]),
			TestErr: newStats(v[3]), BoundGap: newStats(v[4])}
		if !slices.Contains(heads, k.h) {
			heads = append(heads, k.h)
		}
	}
	var fits []GeneralizationFit
	for _, h := range heads {
		var num, den float64
		for _, p := range pts {
			if p.Heads == h && !math.IsNaN(float64(p.Gap)) {
				num += float64(p.Gap) / float64(p.N)
				den += 1 / (float64(p.N) * float64(p.N))
			}
		}
		var ns, gaps []float64
		for _, g := range groups {
			if g.Heads == h {
				ns, gaps = append(ns, float64(g.N)), append(gaps, g.Gap.Mean)
			}
		}
		slope, _ := FitLogLog(ns, gaps)
		fits = append(fits, GeneralizationFit{Heads: h, C: num / den, Slope: slope})
	}
	return groups, fits
}

func writeGeneralizationTable(w io.Writer, res *Result) error {
	pts, err := GeneralizationPointsOf(res)
	if err != nil {
		return err
	}
	groups, fits := GeneralizationSummary(pts)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "H\tn\tseeds\ttrain loss\ttest loss\tgap mean\tgap sd\ttest err\ttheory gap term\t")
	for _, g := range groups {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.4g\t%.4g\t%.3g\t%.2g\t%.3g\t%.3g\t\n", g.Heads, g.N, g.Gap.N, g.TrainLoss.Mean, g.TestLoss.Mean,
			g.Gap.Mean, g.Gap.SD, g.TestErr.Mean, g.BoundGap.Mean)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range fits {
		if _, err := fmt.Fprintf(w, "H=%d: fitted gap = %.3g / n; slope of log(mean gap) vs log n: %.3f (1/n is -1)\n", f.Heads, f.C, f.Slope); err != nil {
			return err
		}
	}
	return nil
}
