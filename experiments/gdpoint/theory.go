package gdpoint

import (
	"fmt"
	"math"
	"slices"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/theory"
)

// Theory holds the theory's numbers for one point (package theory).
type Theory struct {
	InitialLoss runner.Number `json:"initial_loss"` // F(theta_0)
	R           runner.Number `json:"R"`            // largest token norm of the training set
	// Radius is the ball around theta_0 over which L, beta1 and beta2 hold:
	// r = sqrt(2 eta K F(theta_0)), which GD provably stays in only when
	// eta L <= 1 (Bound.Hypotheses says whether it did).
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

	pred *theory.Prediction // for CheckRun
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
	// Status is theory.MarginStatus: "certified", "not separable" (only
	// then is gamma = 0 a proof), "separable, not converged" or
	// "undecided (not converged)"; the bracket holds in every case.
	Status string `json:"status"`
}

// Text is the margin for a table: "not separable" only when that is
// proved, else gamma with its certified bracket when not converged.
func (n NTKInfo) Text() string {
	switch n.Status {
	case theory.NotSeparable.String():
		return "not separable"
	case "", theory.Certified.String():
		return g4(float64(n.Gamma))
	}
	return fmt.Sprintf("[%s, %s] (%s)", g4(float64(n.Lower)), g4(float64(n.Upper)), n.Status)
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

// BoundInfo holds the training and test bounds of the point
// (theory.Prediction) with every hypothesis they rest on, evaluated for
// this run: TrainValid and TestValid are computed (after GD, with the
// measured path and the test set's token norms), never assumed. The
// training bound at step k is TrainA + TrainC / k (theory.Prediction.Train).
type BoundInfo struct {
	FStar    runner.Number `json:"f_star"`
	Distance runner.Number `json:"distance"` // D = ||theta* - theta_0||
	Eta      runner.Number `json:"eta"`
	Steps    int           `json:"steps"` // K, the horizon the hypotheses are checked for
	// TrainA and TrainC: Train(k) = TrainA + TrainC / k for k >= 1
	// (+Inf when the convexity factor is >= 1).
	TrainA runner.Number `json:"train_a"`
	TrainC runner.Number `json:"train_c"`
	// PathRadius is r = sqrt(2 eta K F0), the ball the bounds assume the
	// path stays in; MaxDistance the measured max_k ||theta_k - theta_0||
	// (NaN until the run ends).
	PathRadius  runner.Number `json:"path_radius"`
	MaxDistance runner.Number `json:"max_distance"`
	TrainAtK    runner.Number `json:"train_at_K"`
	GapAtK      runner.Number `json:"gap_at_K"`
	TestAtK     runner.Number `json:"test_at_K"`
	Lipschitz   runner.Number `json:"lipschitz"`
	// Hypotheses lists every condition of the bounds with its verdict
	// ("holds", "fails", "unknown"); values not known are null.
	Hypotheses []HypothesisInfo `json:"hypotheses"`
	TrainValid bool             `json:"train_valid"`
	TestValid  bool             `json:"test_valid"`
	// Valid is TestValid (both bounds hold), for older readers.
	Valid bool `json:"valid"`
	// Reason names the first hypothesis of the test bound that does not
	// hold (those of the training bound first); TrainReason that of the
	// training bound. "" when valid.
	Reason      string `json:"reason"`
	TrainReason string `json:"train_reason"`
}

// HypothesisInfo is a theory.Hypothesis in a summary: Value and Required
// are null when not known.
type HypothesisInfo struct {
	Name     string     `json:"name"`
	For      string     `json:"for"` // "train" or "test"
	Holds    string     `json:"holds"`
	Value    NullNumber `json:"value"`
	Required NullNumber `json:"required"`
	Reason   string     `json:"reason"`
}

// NullNumber is a float64 written as null when not finite, and read back
// from null as NaN.
type NullNumber float64

// MarshalJSON implements json.Marshaler.
func (x NullNumber) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return runner.Number(f).MarshalJSON()
}

// UnmarshalJSON implements json.Unmarshaler.
func (x *NullNumber) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*x = NullNumber(math.NaN())
		return nil
	}
	var n runner.Number
	if err := n.UnmarshalJSON(b); err != nil {
		return err
	}
	*x = NullNumber(n)
	return nil
}

// TrainBound is the training-loss bound at step k, TrainA + TrainC / k
// (+Inf at k <= 0). It is proved only when TrainValid; see Train.
func (b *BoundInfo) TrainBound(k int) float64 {
	if k <= 0 {
		return math.Inf(1)
	}
	return float64(b.TrainA) + float64(b.TrainC)/float64(k)
}

// Train is TrainBound(k) when the training bound is valid for the run and
// k <= K, else NaN: the curve to plot or tabulate as a bound.
func (b *BoundInfo) Train(k int) float64 {
	if b == nil || !b.TrainValid || k > b.Steps {
		return math.NaN()
	}
	return b.TrainBound(k)
}

// Status is "valid", or "n/a (<reason>)" naming the first hypothesis of
// the bound which ("train" or "test") that does not hold.
func (b *BoundInfo) Status(which string) string {
	switch {
	case b == nil:
		return "n/a (no certificate)"
	case which == theory.ForTrain && b.TrainValid, which != theory.ForTrain && b.TestValid:
		return "valid"
	case which == theory.ForTrain:
		return "n/a (" + b.TrainReason + ")"
	}
	return "n/a (" + b.Reason + ")"
}

// FailingHypothesis is the name of the first hypothesis of the bound
// which that does not hold ("" when valid).
func (b *BoundInfo) FailingHypothesis(which string) string {
	if b == nil {
		return "certificate"
	}
	for _, h := range b.Hypotheses {
		if (which != theory.ForTrain || h.For == theory.ForTrain) && h.Holds != theory.Holds.String() {
			return h.Name
		}
	}
	return ""
}

// NewBoundInfo is the record of a prediction for a training set of n
// samples: its bounds at K, its hypotheses and its verdicts as they stand
// (call it again after CheckPath and CheckTokenNorm).
func NewBoundInfo(pred *theory.Prediction, n int) *BoundInfo {
	a, c := pred.TrainCoefficients()
	b := &BoundInfo{FStar: runner.Number(pred.FStar), Distance: runner.Number(pred.Distance), Eta: runner.Number(pred.Eta), Steps: pred.Steps,
		TrainA: runner.Number(a), TrainC: runner.Number(c), PathRadius: runner.Number(pred.PathRadius), MaxDistance: runner.Number(pred.MaxDistance),
		TrainAtK: runner.Number(pred.Train(pred.Steps)), GapAtK: runner.Number(pred.Gap(pred.Steps, n)), TestAtK: runner.Number(pred.Test(pred.Steps, n)),
		Lipschitz: runner.Number(pred.Lipschitz), TrainValid: pred.TrainValid(), TestValid: pred.TestValid(), Valid: pred.TestValid(),
		Reason: pred.Reason(), TrainReason: pred.TrainReason()}
	for _, h := range pred.Hypotheses {
		b.Hypotheses = append(b.Hypotheses, HypothesisInfo{Name: h.Name, For: h.For, Holds: h.Holds.String(),
			Value: NullNumber(h.Value), Required: NullNumber(h.Required), Reason: h.Reason})
	}
	return b
}

// CheckRun decides the hypotheses only the run can check: the measured
// max_k ||theta_k - theta_0|| (theory.Prediction.CheckPath) and the
// largest token norm of the test set (CheckTokenNorm), and updates Bound.
// Without bounds (no certificate, or another model kind) it does nothing.
func (th *Theory) CheckRun(maxDistance float64, test *datasets.Dataset) {
	if th.pred == nil {
		return
	}
	th.pred.CheckPath(maxDistance)
	if test != nil {
		th.pred.CheckTokenNorm(theory.TokenNorm(test))
	}
	th.Bound = NewBoundInfo(th.pred, th.pred.Samples)
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
	th.NTK = NTKInfoOf(mg)
	cert, err := theory.Realize(m, p0, train, ntk, mg, c.CertEps)
	if err != nil {
		th.CertificateError = err.Error()
		return th, nil
	}
	th.Certificate = &CertificateInfo{Eps: runner.Number(cert.Target), Lambda: runner.Number(cert.Lambda), Distance: runner.Number(cert.Distance),
		Margin: runner.Number(cert.Margin), Loss: runner.Number(cert.Loss), LossBound: runner.Number(cert.LossBound), Attained: cert.Attained}
	pred := theory.NewPrediction(cert, s.Eta, c.Steps, func(rad float64) theory.Constants { return theory.ConstantsOverBall(lc, p0, r, rad) },
		theory.OutputBound(lc, p0, r))
	th.pred = &pred
	th.Bound = NewBoundInfo(th.pred, train.N)
	return th, nil
}

// NTKInfoOf is the record of a margin.
func NTKInfoOf(m theory.Margin) NTKInfo {
	return NTKInfo{Gamma: runner.Number(m.Gamma), Lower: runner.Number(m.Lower), Upper: runner.Number(m.Upper), Gap: runner.Number(m.Gap()),
		Separable: m.Separable, Converged: m.Converged, Status: m.Status.String()}
}

// maxDistance is max_k ||theta_k - theta_0|| of a path: the distances it
// tracked and, for the part before a checkpoint it resumed from, the
// logged rows' (so there only at logged steps).
func maxDistance(end End, rows []Row) float64 {
	d := end.MaxDistance
	for _, r := range rows {
		d = max(d, r.DistFromInit)
	}
	return d
}
