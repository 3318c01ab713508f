package gdpoint

import (
	"fmt"
	"math"
	"slices"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/theory"
)

// Theory holds the theory's numbers for one point (package theory).
type Theory struct {
	InitialLoss runner.Number `json:"initial_loss"` // F(theta_0)
	R           runner.Number `json:"R"`            // largest token norm of the training set
	// Radius is the ball around theta_0 over which L, beta1 and beta2 hold:
	// r = sqrt(2 eta K F(theta_0)), which GD provably stays in.
	Radius runner.Number `json:"radius"`
	L      runner.Number `json:"L"`     // smoothness bound of F over the ball
	Beta1  runner.Number `json:"beta1"` // max over heads of beta1 over the ball
	Beta2  runner.Number `json:"beta2"` // max over heads of beta2 over the ball
	// WeakConvexity is kappa = scale(H) max_h beta2: lambda_min(Hess F) >= -kappa F.
	WeakConvexity runner.Number `json:"weak_convexity"`
	NTK           NTKInfo       `json:"ntk"`
	// Certificate is nil when the NTK features are not separable;
	// CertificateError then says why.
	Certificate      *CertificateInfo `json:"certificate"`
	CertificateError string           `json:"certificate_error,omitempty"`
	// Bound is nil without a certificate.
	Bound *BoundInfo `json:"bound"`
	// NotDefined says which of the numbers above are not defined for the
	// point's model kind (NaN or null here); empty for the paper's model.
	NotDefined string `json:"not_defined,omitempty"`
}

// NTKInfo is the NTK margin at theta_0 on the training set, with its
// certified bracket Lower <= gamma <= Upper.
type NTKInfo struct {
	Gamma     runner.Number `json:"gamma"`
	Lower     runner.Number `json:"lower"`
	Upper     runner.Number `json:"upper"`
	Gap       runner.Number `json:"gap"`
	Separable bool          `json:"separable"`
	Converged bool          `json:"converged"`
}

// CertificateInfo is the realizability certificate theta* = theta_0 + lambda v.
type CertificateInfo struct {
	Eps       runner.Number `json:"eps"`
	Lambda    runner.Number `json:"lambda"`
	Distance  runner.Number `json:"distance"`   // ||theta* - theta_0||
	Margin    runner.Number `json:"margin"`     // achieved NTK margin of v
	Loss      runner.Number `json:"loss"`       // F(theta*), measured
	LossBound runner.Number `json:"loss_bound"` // F(theta*) from the second-order bound
	Attained  bool          `json:"attained"`   // loss_bound <= eps
}

// BoundInfo holds the training and test bounds (theory.Prediction) with
// the constants over the ball of radius 2 ||theta* - theta_0||. The
// training bound at step k is 2 f_star + distance^2 / (eta k).
type BoundInfo struct {
	FStar    runner.Number `json:"f_star"`
	Distance runner.Number `json:"distance"`
	Eta      runner.Number `json:"eta"`
	// Valid says the bounds' condition kappa (2D)^2 <= 1 holds.
	Valid     bool          `json:"valid"`
	TrainAtK  runner.Number `json:"train_at_K"`
	TestAtK   runner.Number `json:"test_at_K"`
	Lipschitz runner.Number `json:"lipschitz"`
}

// TrainBound is the training-loss bound at step k (+Inf at k = 0).
func (b *BoundInfo) TrainBound(k int) float64 {
	if k <= 0 {
		return math.Inf(1)
	}
	return 2*float64(b.FStar) + float64(b.Distance)*float64(b.Distance)/(float64(b.Eta)*float64(k))
}

// PointTheory is the theory's numbers of a point: the constants over the
// ball its step size assumed, the NTK margin, the realizability certificate
// and the predicted bounds at K.
// The bounds are those at K = Config.Steps with the point's step size.
func PointTheory(s *Start) (Theory, error) {
	var th Theory
	c := s.Config
	lc, m, p0, train, r, k := s.Layer, s.Model, s.P0, s.Train, s.R, s.Constants
	th.InitialLoss, th.R = runner.Number(s.F0), runner.Number(r)
	if !c.IsPaper() {
		// The NTK margin exists for any model; the rest is the paper's.
		nan := runner.NaN
		th.Radius, th.L, th.Beta1, th.Beta2, th.WeakConvexity = nan, nan, nan, nan, nan
		th.NotDefined = fmt.Sprintf("L, beta1, beta2, kappa, the certificate and the bounds are not defined for model kind %q", c.Model.Kind)
		ntk, err := theory.NewNTK(m, p0, train)
		if err != nil {
			return th, err
		}
		th.NTK = NTKInfoOf(ntk.Margin())
		return th, nil
	}
	th.Radius, th.L = runner.Number(k.Radius), runner.Number(k.Smoothness)
	th.Beta1, th.Beta2 = runner.Number(slices.Max(k.Beta1)), runner.Number(slices.Max(k.Beta2))
	th.WeakConvexity = runner.Number(k.WeakConvexity)

	ntk, err := theory.NewNTK(m, p0, train)
	if err != nil {
		return th, err
	}
	mg := ntk.Margin()
	th.NTK = NTKInfo{Gamma: runner.Number(mg.Gamma), Lower: runner.Number(mg.Lower), Upper: runner.Number(mg.Upper), Gap: runner.Number(mg.Gap()),
		Separable: mg.Separable, Converged: mg.Converged}
	cert, err := theory.Realize(m, p0, train, ntk, mg, c.CertEps)
	if err != nil {
		th.CertificateError = err.Error()
		return th, nil
	}
	th.Certificate = &CertificateInfo{Eps: runner.Number(cert.Target), Lambda: runner.Number(cert.Lambda), Distance: runner.Number(cert.Distance),
		Margin: runner.Number(cert.Margin), Loss: runner.Number(cert.Loss), LossBound: runner.Number(cert.LossBound), Attained: cert.Attained}
	pred := theory.NewPrediction(cert, s.Eta, c.Steps, func(rad float64) theory.Constants { return theory.ConstantsOverBall(lc, p0, r, rad) },
		theory.OutputBound(lc, p0, r))
	th.Bound = &BoundInfo{FStar: runner.Number(pred.FStar), Distance: runner.Number(pred.Distance), Eta: runner.Number(pred.Eta), Valid: pred.Valid(),
		TrainAtK: runner.Number(pred.Train(c.Steps)), TestAtK: runner.Number(pred.Test(c.Steps, train.N)), Lipschitz: runner.Number(pred.Lipschitz)}
	return th, nil
}

// NTKInfoOf is the record of a margin.
func NTKInfoOf(m theory.Margin) NTKInfo {
	return NTKInfo{Gamma: runner.Number(m.Gamma), Lower: runner.Number(m.Lower), Upper: runner.Number(m.Upper), Gap: runner.Number(m.Gap()),
		Separable: m.Separable, Converged: m.Converged}
}
