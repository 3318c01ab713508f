package graph

import (
	"errors"
	"fmt"
	"math"
)

// DefaultMaxLoss is the empirical risk above which GD declares divergence.
// The logistic loss of a model that outputs Phi = 0 is log 2 ~ 0.69, so a
// risk of 1e3 means margins of about -1e3 on average: the step size is far
// too large.
const DefaultMaxLoss = 1e3

// GD is full-batch gradient descent with a constant step size:
// theta_{k+1} = theta_k - eta grad F(theta_k), for K steps.
type GD struct {
	StepSize float64 // eta, finite and > 0
	Steps    int     // K, >= 0
	// MaxLoss is the divergence threshold on F; 0 means DefaultMaxLoss.
	MaxLoss float64
}

// Validate reports every out-of-range field.
func (gd GD) Validate() error {
	var errs []error
	if !(gd.StepSize > 0) || math.IsInf(gd.StepSize, 0) {
		errs = append(errs, fmt.Errorf("step size eta = %v: must be finite and > 0", gd.StepSize))
	}
	if gd.Steps < 0 {
		errs = append(errs, fmt.Errorf("steps K = %d: must be >= 0", gd.Steps))
	}
	if gd.MaxLoss < 0 || math.IsNaN(gd.MaxLoss) {
		errs = append(errs, fmt.Errorf("max loss = %v: must be >= 0 (0 selects %g)", gd.MaxLoss, float64(DefaultMaxLoss)))
	}
	return errors.Join(errs...)
}

// Progress is the state at one step of a run.
type Progress struct {
	Step int // k: the state is theta_k, before the k-th update
	Eval
}

// Recorder receives the state at every step k = 0..K of a run; an error
// stops the run and is returned by Run.
type Recorder interface {
	Record(Progress) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(Progress) error

// Record calls f.
func (f RecorderFunc) Record(p Progress) error { return f(p) }

// DivergedError reports a run whose loss became NaN, infinite or larger
// than the threshold, or whose gradient stopped being finite.
type DivergedError struct {
	Step     int     // k of theta_k where it was detected
	Quantity string  // "loss" or "gradient norm"
	Value    float64 // its value there
	MaxLoss  float64 // the threshold in force
}

func (e *DivergedError) Error() string {
	if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) {
		return fmt.Sprintf("diverged at step %d: %s is %v", e.Step, e.Quantity, e.Value)
	}
	return fmt.Sprintf("diverged at step %d: %s %.6g exceeds the threshold %g", e.Step, e.Quantity, e.Value, e.MaxLoss)
}

// diverged returns the error for an evaluation that shows divergence, or nil.
func diverged(step int, ev Eval, maxLoss float64) error {
	switch {
	case math.IsNaN(ev.Loss) || math.IsInf(ev.Loss, 0) || ev.Loss > maxLoss:
		return &DivergedError{Step: step, Quantity: "loss", Value: ev.Loss, MaxLoss: maxLoss}
	case math.IsNaN(ev.GradNorm) || math.IsInf(ev.GradNorm, 0):
		return &DivergedError{Step: step, Quantity: "gradient norm", Value: ev.GradNorm, MaxLoss: maxLoss}
	}
	return nil
}

// Run takes K steps of GD on m from its current parameters, reporting the
// state at theta_0 .. theta_K to rec (which may be nil), and returns the
// final state. Divergence stops the run with a *DivergedError at the step
// where it was detected, leaving the parameters at that step.
func (gd GD) Run(m *Model, rec Recorder) (Progress, error) { return gd.RunFrom(m, 0, rec) }

// RunFrom is Run for a model already at step first (for resuming): it takes
// steps first .. K-1 and reports the states first .. K.
func (gd GD) RunFrom(m *Model, first int, rec Recorder) (Progress, error) {
	if err := gd.Validate(); err != nil {
		return Progress{}, err
	}
	if first < 0 || first > gd.Steps {
		return Progress{}, fmt.Errorf("first step %d: must be in [0, K = %d]", first, gd.Steps)
	}
	maxLoss := gd.MaxLoss
	if maxLoss == 0 {
		maxLoss = DefaultMaxLoss
	}
	var p Progress
	for k := first; k <= gd.Steps; k++ {
		ev, err := m.Evaluate()
		if err != nil {
			return p, fmt.Errorf("step %d: %w", k, err)
		}
		p = Progress{Step: k, Eval: ev}
		if err := diverged(k, ev, maxLoss); err != nil {
			return p, err
		}
		if rec != nil {
			if err := rec.Record(p); err != nil {
				return p, err
			}
		}
		if k < gd.Steps {
			m.descend(gd.StepSize)
			if q := m.nonFinite(); q != "" {
				return p, &DivergedError{Step: k + 1, Quantity: "the squared norm of parameter " + q, Value: math.Inf(1), MaxLoss: maxLoss}
			}
		}
	}
	return p, nil
}

// nonFinite names the first parameter with a NaN or infinite entry, or
// whose squared norm overflows (entries beyond ~1e154: no metric of it is
// finite any more), or returns "".
func (m *Model) nonFinite() string {
	for i, p := range m.prog.params {
		ss := 0.0
		for _, v := range p {
			ss += v * v
		}
		if math.IsNaN(ss) || math.IsInf(ss, 0) {
			return m.prog.specs[i].Name
		}
	}
	return ""
}
