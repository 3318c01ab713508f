package theory

import (
	"errors"
	"fmt"
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

// StepSize is the theory-derived constant step size for K steps of GD and
// the facts it rests on.
type StepSize struct {
	Eta         float64   // the step size eta = 1 / Smoothness
	Smoothness  float64   // L over the ball of radius Radius around theta_0
	Radius      float64   // r = sqrt(2 eta K F(theta_0)): GD with this eta stays within r of theta_0
	Steps       int       // K
	InitialLoss float64   // F(theta_0)
	Constants   Constants // the constants over that ball
}

// Rule describes how Eta was derived, for logs and summaries.
func (s StepSize) Rule() string {
	return fmt.Sprintf("eta = 1/L with L = G^2/4 + kappa over the ball of radius r = sqrt(2 eta K F0) = %.4g around theta_0 (K = %d, F0 = %.4g, R = %.4g)",
		s.Radius, s.Steps, s.InitialLoss, s.Constants.R)
}

// TheoryStepSize derives the step size for K steps of GD from p0 on data:
// the largest eta with eta * L(r(eta)) <= 1, where r(eta) = sqrt(2 eta K F0)
// bounds how far GD travels (docs/theory.md, "Step size") and L(r) is the
// smoothness over the ball of radius r. It evaluates F(theta_0) on data.
func TheoryStepSize(m layers.Model, p0 *layers.Params, data *datasets.Dataset, steps int) (StepSize, error) {
	c := m.Config()
	if err := Defined(c); err != nil {
		return StepSize{}, fmt.Errorf("theory step size: %w", err)
	}
	if steps < 0 {
		return StepSize{}, fmt.Errorf("steps K = %d: must be >= 0", steps)
	}
	ev, err := graph.NewEvaluator(m, data)
	if err != nil {
		return StepSize{}, err
	}
	e, err := ev.Evaluate(p0)
	if err != nil {
		return StepSize{}, err
	}
	return StepSizeFor(c, p0, TokenNorm(data), e.Loss, steps)
}

// StepSizeFor is TheoryStepSize with the token norm r and F(theta_0)
// already known.
func StepSizeFor(c layers.Config, p0 *layers.Params, r, f0 float64, steps int) (StepSize, error) {
	if err := Defined(c); err != nil {
		return StepSize{}, fmt.Errorf("theory step size: %w", err)
	}
	if !(r > 0) || math.IsInf(r, 0) {
		return StepSize{}, fmt.Errorf("token norm R = %v: must be finite and > 0", r)
	}
	if !(f0 >= 0) || math.IsInf(f0, 0) {
		return StepSize{}, fmt.Errorf("initial loss F0 = %v: must be finite and >= 0", f0)
	}
	radius := func(eta float64) float64 { return math.Sqrt(2 * eta * float64(steps) * f0) }
	smooth := func(eta float64) Constants { return ConstantsOverBall(c, p0, r, radius(eta)) }
	hi := 1 / smooth(0).Smoothness
	if math.IsInf(hi, 0) {
		return StepSize{}, errors.New("theory: smoothness bound is 0; nothing to train")
	}
	// eta * L(r(eta)) grows with eta: bisect for the crossing of 1, keeping
	// lo on the safe side.
	lo := 0.0
	for i := 0; i < 200 && hi-lo > 1e-15*hi; i++ {
		mid := (lo + hi) / 2
		if mid*smooth(mid).Smoothness <= 1 {
			lo = mid
		} else {
			hi = mid
		}
	}
	k := smooth(lo)
	return StepSize{Eta: lo, Smoothness: k.Smoothness, Radius: radius(lo), Steps: steps, InitialLoss: f0, Constants: k}, nil
}
