package theory

import (
	"errors"
	"fmt"
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/layers/ops"
)

// Certificate is a realizability certificate: a parameter theta* =
// theta_0 + lambda v near the initialization with small training loss,
// built from the NTK separating direction v.
type Certificate struct {
	Target    float64 // eps, the loss the certificate aims for
	Lambda    float64 // lambda, the step along v
	Distance  float64 // g(eps) = ||theta* - theta_0|| = lambda
	Margin    float64 // the achieved NTK margin min_i <psi_i, v> of v
	LossBound float64 // F(theta*) guaranteed by the second-order bound
	Loss      float64 // F(theta*) measured
	Attained  bool    // LossBound <= Target
	Params    *layers.Params
	// InitialLoss is F(theta_0) and InitialMargins the y_i Phi(theta_0; X_i)
	// the bound starts from; the bounds (NewPrediction) use both.
	InitialLoss    float64
	InitialMargins []float64
	// Kappa0 is the curvature bound kappa at theta_0; with Margin it gives
	// CertificateGain, the most any lambda can gain, to hold against
	// NeededGain(Target, InitialMargins).
	Kappa0 float64
}

// Realize builds the certificate for target loss eps from the NTK of data
// at p0 and its margin m (docs/theory.md, "Realizability"). Every margin at
// theta* = theta_0 + lambda v is at least
//
//	y_i Phi(theta_0; X_i) + lambda gamma_v - lambda^2 kappa(lambda) / 2,
//
// with gamma_v the achieved margin of v and kappa(lambda) the bound on
// ||Hess Phi|| over the ball of radius lambda, so F(theta*) is at most the
// mean logistic loss of those lower bounds. Realize picks the smallest
// lambda whose bound reaches eps, or the lambda with the smallest bound
// when none does (Attained false), and measures F(theta*).
func Realize(model layers.Model, p0 *layers.Params, data *datasets.Dataset, k *NTK, m Margin, eps float64) (Certificate, error) {
	c := model.Config()
	if err := Defined(c); err != nil {
		return Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	if !(eps > 0) || math.IsInf(eps, 0) {
		return Certificate{}, fmt.Errorf("target loss eps = %v: must be finite and > 0", eps)
	}
	dir, gammaV := k.Direction(m)
	if dir == nil || gammaV <= 0 {
		return Certificate{}, errors.New("theory: the NTK features are not separable (margin 0): no certificate")
	}
	ev, err := graph.NewEvaluator(model, data)
	if err != nil {
		return Certificate{}, err
	}
	e0, err := ev.Evaluate(p0)
	if err != nil {
		return Certificate{}, err
	}
	margins0 := ev.Phi()
	for i := range margins0 {
		margins0[i] *= data.Y[i]
	}
	r := TokenNorm(data)
	bound := func(lambda float64) float64 {
		kappa := ConstantsOverBall(c, p0, r, lambda).PhiCurvature
		var sum float64
		for _, z := range margins0 {
			sum += ops.LogisticLoss(z + lambda*gammaV - lambda*lambda*kappa/2)
		}
		return sum / float64(len(margins0))
	}
	// The linear gain stops paying once lambda kappa/2 exceeds gamma_v;
	// kappa only grows with lambda, so 2 gamma_v / kappa(0) caps the search
	// (or a generous multiple of the margin scale when kappa(0) is 0).
	kappa0 := ConstantsOverBall(c, p0, r, 0).PhiCurvature
	top := 2 * gammaV / kappa0
	if kappa0 == 0 || math.IsInf(top, 0) {
		top = 1e6 / gammaV
	}
	const grid = 512
	best, bestBound := 0.0, bound(0)
	prev := 0.0
	lambda := -1.0
	for i := 1; i <= grid; i++ {
		l := top * math.Pow(1e-6, float64(grid-i)/float64(grid-1))
		b := bound(l)
		if b <= eps {
			// Bisect between the previous grid point and l for the smallest
			// lambda that reaches eps.
			lo, hi := prev, l
			for j := 0; j < 100; j++ {
				mid := (lo + hi) / 2
				if bound(mid) <= eps {
					hi = mid
				} else {
					lo = mid
				}
			}
			lambda = hi
			break
		}
		if b < bestBound {
			best, bestBound = l, b
		}
		prev = l
	}
	cert := Certificate{Target: eps, Margin: gammaV, Attained: lambda >= 0,
		InitialLoss: e0.Loss, InitialMargins: margins0, Kappa0: kappa0}
	if lambda < 0 {
		lambda = best
	}
	cert.Lambda, cert.Distance, cert.LossBound = lambda, lambda, bound(lambda)
	theta := p0.Trainable(model, nil)
	axpy(theta, lambda, dir)
	cert.Params = p0.Clone()
	cert.Params.SetTrainable(model, theta)
	e, err := ev.Evaluate(cert.Params)
	if err != nil {
		return Certificate{}, err
	}
	cert.Loss = e.Loss
	return cert, nil
}
