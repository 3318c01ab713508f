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
// the facts it rests on (docs/theory.md, "Step size").
type StepSize struct {
	Eta float64 // the step size eta = 1 / Smoothness
	// Smoothness is L over the ball of radius SegmentRadius around theta_0,
	// which holds every GD segment [theta_k, theta_{k+1}].
	Smoothness float64
	// Radius is r = sqrt(2 eta K F0): GD with this eta stays within r of
	// theta_0 for K steps.
	Radius float64
	// SegmentRadius is rho = r + eta G(r) min(1, F0): a step from a point
	// within r has length at most eta G(r) min(1, F0), so every segment
	// lies within rho.
	SegmentRadius float64
	Steps         int       // K
	InitialLoss   float64   // F(theta_0)
	Constants     Constants // the constants over the ball of radius SegmentRadius
}

// Rule describes how Eta was derived, for logs and summaries.
func (s StepSize) Rule() string {
	return fmt.Sprintf("theory: eta = 1/L with L = G^2/4 + kappa over the ball of radius rho = r + eta G(r) min(1, F0) = %.4g around theta_0, r = sqrt(2 eta K F0) = %.4g (K = %d, F0 = %.4g, R = %.4g)",
		s.SegmentRadius, s.Radius, s.Steps, s.InitialLoss, s.Constants.R)
}

// TheoryStepSize derives the step size for K steps of GD from p0 on data:
// the largest eta with eta L(rho(eta)) <= 1, where r(eta) = sqrt(2 eta K F0)
// bounds how far GD travels, rho(eta) = r + eta G(r) min(1, F0) bounds the
// segments between iterates (docs/theory.md, "Step size") and L(rho) is the
// smoothness over the ball of radius rho. It evaluates F(theta_0) on data.
//
// The rule shrinks with the horizon: when U and W both train, L(rho) grows
// like rho^2 (through ||U_h|| <= ||U_h(0)|| + rho), so eta L(rho) = 1 gives
// eta ~ K^(-1/2), r ~ K^(1/4), and the training bound's term D^2/(eta K)
// decays like K^(-1/2), not 1/K. When only U or only W trains, L does not
// depend on the radius and eta is constant in K.
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
	if steps < 0 {
		return StepSize{}, fmt.Errorf("steps K = %d: must be >= 0", steps)
	}
	ball := func(radius float64) Constants { return ConstantsOverBall(c, p0, r, radius) }
	b := TheoryBall(ball, f0, steps)
	hi := 1 / b(0).Constants.Smoothness
	if math.IsInf(hi, 0) {
		return StepSize{}, errors.New("theory: smoothness bound is 0; nothing to train")
	}
	// eta * L(rho(eta)) grows with eta: bisect for the crossing of 1,
	// keeping lo on the safe side.
	lo := 0.0
	for i := 0; i < 200 && hi-lo > 1e-15*hi; i++ {
		mid := (lo + hi) / 2
		if mid*b(mid).Constants.Smoothness <= 1 {
			lo = mid
		} else {
			hi = mid
		}
	}
	at := b(lo)
	return StepSize{Eta: lo, Smoothness: at.Constants.Smoothness, Radius: at.PathRadius, SegmentRadius: at.SegmentRadius,
		Steps: steps, InitialLoss: f0, Constants: at.Constants}, nil
}

// Ball is the a-priori ball argument for K steps of GD with step eta from
// a point with loss F0 (docs/theory.md, "Step size"): if eta L <= 1 with L
// = Constants.Smoothness over the ball of radius SegmentRadius, every
// iterate stays within PathRadius of theta_0.
type Ball struct {
	Eta           float64
	PathRadius    float64   // r = sqrt(2 eta K F0)
	SegmentRadius float64   // rho = r + eta G(r) min(1, F0)
	Constants     Constants // over the ball of radius SegmentRadius
}

// Proved reports eta L(rho) <= 1, the condition under which the iterates
// provably stay within PathRadius.
func (b Ball) Proved() bool { return b.Eta*b.Constants.Smoothness <= 1 }

// TheoryBall returns, for a function giving the constants over a ball of
// any radius around theta_0, the ball argument as a function of eta for K
// steps from loss f0. It takes plain numbers so any model whose constants
// are known as a function of the radius can use it.
func TheoryBall(constants func(radius float64) Constants, f0 float64, steps int) func(eta float64) Ball {
	return func(eta float64) Ball {
		r := math.Sqrt(2 * eta * float64(steps) * f0)
		rho := r + eta*constants(r).Lipschitz*math.Min(1, f0)
		return Ball{Eta: eta, PathRadius: r, SegmentRadius: rho, Constants: constants(rho)}
	}
}
