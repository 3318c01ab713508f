package nb

import (
	"errors"

	"github.com/mhattn/mha/graph"
)

// Run is the record of one GD run, one entry per recorded step, ready to
// plot.
type Run struct {
	Name string // legend label

	Steps    []float64 // k = 0..K
	Loss     []float64 // F(theta_k) on the training set
	Error    []float64 // 0-1 training error at theta_k
	GradNorm []float64 // ||grad F(theta_k)||

	// Test holds test risk and error at TestSteps when Train was given an
	// evaluator; nil otherwise.
	TestSteps []float64
	TestLoss  []float64
	TestError []float64
}

// Train runs gd on m from its current parameters and records every step.
// With a non-nil test evaluator it also evaluates the test set every
// testEvery steps (and at the last step); testEvery < 1 means 1. On
// divergence it returns what was recorded up to there, with the
// *graph.DivergedError.
func Train(name string, m *Model, gd GD, test *Evaluator, testEvery int) (*Run, error) {
	if test != nil && testEvery < 1 {
		testEvery = 1
	}
	run := &Run{Name: name}
	rec := graph.RecorderFunc(func(p graph.Progress) error {
		k := float64(p.Step)
		run.Steps = append(run.Steps, k)
		run.Loss = append(run.Loss, p.Loss)
		run.Error = append(run.Error, p.Error)
		run.GradNorm = append(run.GradNorm, p.GradNorm)
		if test == nil || (p.Step%testEvery != 0 && p.Step != gd.Steps) {
			return nil
		}
		ev, err := test.Evaluate(m.Params())
		if err != nil {
			return err
		}
		run.TestSteps = append(run.TestSteps, k)
		run.TestLoss = append(run.TestLoss, ev.Loss)
		run.TestError = append(run.TestError, ev.Error)
		return nil
	})
	_, err := gd.Run(m, rec)
	return run, err
}

// Diverged reports whether err is a divergence of GD (a *graph.DivergedError).
func Diverged(err error) bool {
	var d *graph.DivergedError
	return errors.As(err, &d)
}
