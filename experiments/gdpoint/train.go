package gdpoint

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
)

// Columns are the metric columns of a training point (Train): one row per
// logged step k. Losses are the mean logistic loss, errors the 0-1 error,
// grad_norm is ||grad F(theta_k)||, dist_from_init ||theta_k - theta_0||
// over the trainable blocks, and relevant_attention the mean attention
// mass on relevant tokens of the test set (graph.Evaluator.RelevantMass).
var Columns = []string{"step", "train_loss", "test_loss", "train_err", "test_err", "grad_norm", "dist_from_init", "relevant_attention"}

// Row is one metric row of a training point.
type Row struct {
	Step              int
	TrainLoss         float64
	TestLoss          float64
	TrainErr          float64
	TestErr           float64
	GradNorm          float64
	DistFromInit      float64
	RelevantAttention float64
}

// CSV formats r in Columns, without newline.
func (r Row) CSV() string {
	return runner.CSVLine(r.Step, r.TrainLoss, r.TestLoss, r.TrainErr, r.TestErr, r.GradNorm, r.DistFromInit, r.RelevantAttention)
}

// ParseRow reads a row in Columns.
func ParseRow(line string) (Row, error) {
	var r Row
	err := runner.ParseCSV(line, &r.Step, &r.TrainLoss, &r.TestLoss, &r.TrainErr, &r.TestErr, &r.GradNorm, &r.DistFromInit, &r.RelevantAttention)
	return r, err
}

// ParseRows reads rows in Columns, skipping any that do not parse.
func ParseRows(lines []string) []Row {
	rows := make([]Row, 0, len(lines))
	for _, l := range lines {
		if r, err := ParseRow(l); err == nil {
			rows = append(rows, r)
		}
	}
	return rows
}

// PointResult is the record of a training point (its result.json and its
// "result" in summary.json). Losses, errors, dist_from_init and
// relevant_attention are those of the last logged step: step K for status
// "ok", the last logged step before divergence for "diverged", except
// dist_from_init, ||theta_K - theta_0||, which is null for "diverged"
// (theta_K does not exist; LastFinite has the distance GD reached).
type PointResult struct {
	Status string `json:"status"`
	Heads  int    `json:"heads"`
	// Data is the directory of the point's data, data/<hash>.
	Data string `json:"data,omitempty"`
	// Step is the last step reached (K when ok).
	Step int `json:"step"`
	// DivergedStep is the step whose loss was NaN, infinite or above
	// max_loss (status "diverged" only); Divergence says which.
	DivergedStep *int   `json:"diverged_step,omitempty"`
	Divergence   string `json:"divergence,omitempty"`
	// LastFinite is, for status "diverged", the last step before the
	// one where the divergence was detected, its parameters and loss
	// finite, with its ||theta_k - theta_0|| (absent when unknown: a
	// resumed run that diverged at once).
	LastFinite *FiniteStep `json:"last_finite,omitempty"`

	TrainLoss         runner.Number `json:"train_loss"`
	TestLoss          runner.Number `json:"test_loss"`
	TrainErr          runner.Number `json:"train_err"`
	TestErr           runner.Number `json:"test_err"`
	DistFromInit      runner.Number `json:"dist_from_init"`
	RelevantAttention runner.Number `json:"relevant_attention"`
	// UniformAttention is the attention mass uniform attention puts on
	// relevant tokens: Relevant()/T of the data.
	UniformAttention runner.Number `json:"uniform_attention"`

	Eta runner.Number `json:"eta"`
	// EtaRule is "theory" (theory.StepSizeFor) or "fixed" (config eta);
	// EtaDerivation spells out the rule with its numbers.
	EtaRule       string `json:"eta_rule"`
	StepRule      string `json:"step_rule"` // = EtaRule: "theory", "curvature" or "fixed"
	EtaDerivation string `json:"eta_derivation"`
	Theory        Theory `json:"theory"`

	// WallSeconds is the compute time of the point, summed over resumed
	// runs. It is the only non-reproducible field of a point.
	WallSeconds runner.Number `json:"wall_seconds"`

	Rows []Row `json:"-"`
}

// FiniteStep is a step k of a path and its ||theta_k - theta_0||.
type FiniteStep struct {
	Step         int           `json:"step"`
	DistFromInit runner.Number `json:"dist_from_init"`
}

// Train is the PointFunc of a training point: it trains the model of the
// point's config for Steps GD steps to the end, to divergence, or until
// ctx is cancelled (then it checkpoints and returns status interrupted),
// logging a row in Columns every log_every steps. Its record is a
// *PointResult; params/<point>/init and final hold theta_0 and theta_K.
func Train(ctx context.Context, w *runner.Work) (runner.Outcome, error) {
	s, err := NewStart(w)
	if err != nil {
		return runner.Outcome{}, err
	}
	c, lc, m := s.Config, s.Layer, s.Model
	if err := SaveParams(w.ParamsDir("init"), m, s.P0); err != nil {
		return runner.Outcome{}, err
	}
	res := &PointResult{Heads: lc.Heads, Data: s.DataDir, Eta: runner.Number(s.Eta), EtaRule: s.Rule, StepRule: s.Rule, EtaDerivation: s.Derivation,
		UniformAttention: runner.Number(float64(c.Data.Relevant()) / float64(c.Data.Tokens))}
	if res.Theory, err = PointTheory(s); err != nil {
		return runner.Outcome{}, fmt.Errorf("theory: %w", err)
	}
	w.Log.WithFields(logrus.Fields{"eta": runner.FormatFloat(s.Eta), "eta_rule": s.Rule}).Info("training")

	testEval, err := graph.NewEvaluatorOptions(m, s.Test, c.GraphOptions())
	if err != nil {
		return runner.Outcome{}, err
	}
	theta0 := s.P0.Trainable(m, nil)
	path := PathOf(w, s)
	path.LogAt = func(k int) bool { return k%c.LogEvery == 0 }
	path.At = func(k int, gm *graph.Model, p graph.Progress) ([]string, error) {
		cur := gm.Params()
		te, err := testEval.Evaluate(cur)
		if err != nil {
			return nil, err
		}
		row := Row{Step: k, TrainLoss: p.Loss, TrainErr: p.Error, GradNorm: p.GradNorm,
			TestLoss: te.Loss, TestErr: te.Error, RelevantAttention: testEval.RelevantMass(),
			DistFromInit: Distance(cur.Trainable(m, nil), theta0)}
		return []string{row.CSV()}, nil
	}
	end, err := path.Run(ctx)
	if err != nil {
		return runner.Outcome{}, err
	}
	lines := end.Rows
	res.Theory.CheckRun(maxDistance(end, ParseRows(lines)), s.Test)
	res.Status, res.Step, res.DivergedStep, res.Divergence = end.Status, end.Step, end.DivergedStep, end.Divergence
	res.Rows = ParseRows(lines)
	res.WallSeconds = runner.Number(end.WallSeconds)
	if end.Status == runner.StatusInterrupted {
		return runner.Outcome{Status: res.Status, Rows: lines, Record: res}, nil
	}
	// The final numbers are those of the last logged row.
	nan := runner.NaN
	res.TrainLoss, res.TestLoss, res.TrainErr, res.TestErr, res.DistFromInit, res.RelevantAttention = nan, nan, nan, nan, nan, nan
	if len(res.Rows) > 0 {
		last := res.Rows[len(res.Rows)-1]
		res.TrainLoss, res.TestLoss = runner.Number(last.TrainLoss), runner.Number(last.TestLoss)
		res.TrainErr, res.TestErr = runner.Number(last.TrainErr), runner.Number(last.TestErr)
		res.DistFromInit, res.RelevantAttention = runner.Number(last.DistFromInit), runner.Number(last.RelevantAttention)
	}
	if end.Status == runner.StatusDiverged {
		res.DistFromInit = nan
		if end.LastStep >= 0 {
			res.LastFinite = &FiniteStep{Step: end.LastStep, DistFromInit: runner.Number(end.LastDistance)}
		}
	}
	if fp := end.Model.Params(); fp.Check(m) == nil {
		if err := SaveParams(w.ParamsDir("final"), m, fp); err != nil {
			return runner.Outcome{}, err
		}
	}
	w.Log.WithFields(logrus.Fields{"status": res.Status, "train_loss": runner.FormatFloat(float64(res.TrainLoss)),
		"test_err": runner.FormatFloat(float64(res.TestErr))}).Info("trained")
	return runner.Outcome{Status: res.Status, Rows: lines, Record: res}, nil
}

// Unfinished is the record of a GD point that did not finish: status
// "interrupted" with its rows so far if an earlier run checkpointed it,
// else "pending" (runner.Experiment.Unfinished).
func Unfinished(dir string, pt runner.Point) runner.Outcome {
	r := &PointResult{Heads: Of(pt.Config).Heads, Status: runner.StatusPending}
	var lines []string
	if step, rows, ok := checkpointStep(dir); ok {
		r.Status, r.Step, lines = runner.StatusInterrupted, step, rows
	}
	nan := runner.NaN
	r.TrainLoss, r.TestLoss, r.TrainErr, r.TestErr, r.DistFromInit, r.RelevantAttention = nan, nan, nan, nan, nan, nan
	r.Eta, r.UniformAttention, r.WallSeconds = nan, nan, nan // not known here: null, not 0
	return runner.Outcome{Status: r.Status, Rows: lines, Record: r}
}

// Points decodes the records of training points with their rows, in
// point order (every point, finished or not).
func Points(res *runner.Result) ([]PointResult, error) {
	out := make([]PointResult, len(res.Records))
	for i, rec := range res.Records {
		if err := rec.Decode(&out[i]); err != nil {
			return nil, err
		}
		out[i].Rows = ParseRows(rec.Rows)
	}
	return out, nil
}

// Experiment is a training experiment: every point trains the model with
// Train, writes Columns, and the result has Table and Plots keyed by the
// sweep axes. name and doc name it; defaults is its default config.
func Experiment(name, doc string, defaults func() *Config) runner.Experiment {
	return runner.Experiment{
		Name: name, Doc: doc,
		Defaults:   func() runner.Config { return defaults() },
		Columns:    Columns,
		Point:      Train,
		Units:      Steps,
		Cost:       Cost,
		Unfinished: Unfinished,
		Table:      Table,
		Plots:      Plots,
		Flags:      Flags,
		Memory:     MemoryTrain,
	}
}

func g4(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }

// meanCI formats stats as "mean" or, over several repetitions,
// "mean ±half-width of the 95% interval"; "-" when no value exists.
func meanCI(s runner.Stats) string {
	if s.N == 0 {
		return "-"
	}
	if s.N <= 1 || math.IsNaN(s.Hi) {
		return g4(s.Mean)
	}
	return g4(s.Mean) + " ±" + strconv.FormatFloat((s.Hi-s.Lo)/2, 'g', 2, 64)
}

func join(s []string) string { return strings.Join(s, "\t") }
