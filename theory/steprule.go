package theory

import (
	"fmt"
	"math"
)

// StepRule names how a run's constant step size eta was chosen. Tables,
// plots and summaries print it next to eta.
type StepRule string

const (
	// RuleTheory is TheoryStepSize: eta = 1/L over the ball GD provably
	// stays in; it shrinks like K^(-1/2) when U and W train.
	RuleTheory StepRule = "theory"
	// RuleCurvature is CurvatureStepSize: eta = c / lambda_max(Hess F(theta_0)),
	// measured by Lanczos.
	RuleCurvature StepRule = "curvature"
	// RuleFixed is an eta given in the configuration.
	RuleFixed StepRule = "fixed"
)

// StepRules lists the valid rules in the order tables show them.
var StepRules = []StepRule{RuleTheory, RuleCurvature, RuleFixed}

// Validate reports whether r is one of StepRules, naming the config field
// step.rule and its allowed values when not.
func (r StepRule) Validate() error {
	for _, ok := range StepRules {
		if r == ok {
			return nil
		}
	}
	return fmt.Errorf("step.rule = %q: must be one of %q, %q, %q", string(r), RuleTheory, RuleCurvature, RuleFixed)
}

// ParseStepRule converts a config string into a StepRule, or returns the
// error of Validate.
func ParseStepRule(s string) (StepRule, error) {
	r := StepRule(s)
	return r, r.Validate()
}

// CurvatureStep is the measured-curvature step size eta = c / lambda_max
// with lambda_max the largest eigenvalue of Hess F(theta_0) estimated by
// Lanczos.
type CurvatureStep struct {
	Eta       float64
	C         float64  // the factor c (step.c): on a quadratic, c < 2 is stable and c = 1 the descent-lemma step
	LambdaMax float64  // the Ritz estimate of lambda_max(Hess F(theta_0))
	Spectrum  Spectrum // the Lanczos result it came from, with residuals
}

// Rule describes how Eta was derived, for logs and summaries.
func (s CurvatureStep) Rule() string {
	return fmt.Sprintf("curvature: eta = c / lambda_max(Hess F(theta_0)) with c = %.4g, lambda_max = %.6g (Lanczos, %d iterations, residual %.2g)",
		s.C, s.LambdaMax, s.Spectrum.Iterations, s.Spectrum.MaxResid)
}

// CurvatureStepSize is the measured-curvature step rule: eta = c /
// lambda_max(Hess F(theta_0)), with lambda_max from iters Lanczos steps on
// the Hessian-vector product hvp (dst = Hess F(theta_0) v) in dimension dim
// from a start drawn from seed. It is a local rule: unlike the theory step
// it promises nothing about where GD goes, so bounds that need eta L <= 1
// over a ball must check it (Ball.Proved, Prediction hypotheses).
//
// The Ritz value never exceeds lambda_max, so eta can be slightly larger
// than c / lambda_max; Spectrum.MaxResid bounds the distance of the Ritz
// value to some eigenvalue.
//
// c must be finite and > 0 (config field step.c); lambda_max must be > 0,
// else the rule is not defined at theta_0 and an error says so.
func CurvatureStepSize(dim int, hvp func(v, dst []float64) error, c float64, iters int, seed uint64) (CurvatureStep, error) {
	if !(c > 0) || math.IsInf(c, 0) {
		return CurvatureStep{}, fmt.Errorf("step.c = %v: must be finite and > 0", c)
	}
	s, err := Lanczos(dim, hvp, iters, seed)
	if err != nil {
		return CurvatureStep{}, fmt.Errorf("curvature step: %w", err)
	}
	if !(s.Max > 0) {
		return CurvatureStep{}, fmt.Errorf("curvature step: lambda_max(Hess F(theta_0)) = %.6g <= 0: eta = c / lambda_max is not defined at this theta_0 (use step.rule %q or %q)",
			s.Max, RuleTheory, RuleFixed)
	}
	return CurvatureStep{Eta: c / s.Max, C: c, LambdaMax: s.Max, Spectrum: s}, nil
}
