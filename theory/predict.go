package theory

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/layers/ops"
)

// BoundInputs are the numbers the training and test bounds are evaluated
// from (docs/theory.md, "Bounds on training and test loss"). Only plain
// numbers: any model whose constants are known as a function of a ball's
// radius can use them.
type BoundInputs struct {
	FStar       float64 // F(theta*), measured at the reference point
	Eps         float64 // the realizability target eps (0: not checked)
	Distance    float64 // D = ||theta* - theta_0||
	InitialLoss float64 // F0 = F(theta_0)
	Eta         float64 // the constant GD step size
	Steps       int     // K, the horizon the hypotheses are checked for
	Samples     int     // n, the training sample size
	// InitialMargins are y_i Phi(theta_0; X_i) on the training sample;
	// they bound F over a ball (the stability hypothesis). nil: unknown.
	InitialMargins []float64
	// OutputBound bounds |Phi(theta_0; X)| for any input with tokens of
	// norm at most R (OutputBound); it bounds the loss a replaced sample
	// adds. 0: unknown.
	OutputBound float64
	// Gain and Needed are CertificateGain and NeededGain of the
	// certificate, quoted when realizability fails (0: not quoted).
	Gain, Needed float64
}

// Prediction is the training and test bounds of a run with the hypotheses
// they rest on, each evaluated for this run: Valid is computed, never
// assumed. Train(K) and Test(K, n) are the bound curves; they are proved
// for K <= Steps only when TrainValid (respectively TestValid) holds.
type Prediction struct {
	BoundInputs
	// PathRadius is r = sqrt(2 eta K F0), the ball the iterates must stay
	// in, and SegmentRadius rho = r + eta G(r) min(1, F0) the ball holding
	// the segments between them (TheoryBall).
	PathRadius, SegmentRadius float64
	Smoothness                float64 // L over the ball of radius SegmentRadius
	// WeakConvexity is kappa over the ball of radius max(r, D), which holds
	// every segment [theta_k, theta*]; Convexity = kappa (r + D)^2.
	WeakConvexity, Convexity float64
	// StabilityRadius r' holds the GD paths of every replace-one sample
	// (loss at theta_0 at most F0' = F0 + l(-B0)/n; see stableRadius); it
	// is the training path's r when B0 is unknown. Lipschitz (G') and
	// StabilityKappa (kappa') are over it, and LossCeiling bounds F over
	// it: mean_i l(z_i - G' r').
	StabilityRadius, Lipschitz, StabilityKappa, LossCeiling float64
	// MaxDistance is the measured max_k ||theta_k - theta_0|| (NaN until
	// CheckPath).
	MaxDistance float64
	Hypotheses  Hypotheses
}

// Hypothesis names, in the order Prediction lists them.
const (
	HypDescent      = "eta L(rho) <= 1"
	HypPath         = "max_k ||theta_k - theta_0|| <= r"
	HypHeads        = "kappa (r + D)^2 <= 1/2"
	HypRealizable   = "F(theta*) <= eps"
	HypNeighbours   = "eta L(rho') < 2 for replace-one samples"
	HypStability    = "eta K kappa' Fbar <= 1"
	HypTokenSupport = "fresh samples' tokens have norm <= R"
)

// NewBounds evaluates the bounds and their hypotheses for a run. constants
// gives the theory's constants over the ball of a given radius around
// theta_0 (for example ConstantsOverBall with the model, theta_0 and R).
// The path hypothesis is proved a priori when eta L(rho) <= 1 and is
// otherwise unknown until CheckPath; the token-support hypothesis is
// unknown until CheckTokenNorm.
func NewBounds(in BoundInputs, constants func(radius float64) Constants) Prediction {
	p := Prediction{BoundInputs: in, MaxDistance: math.NaN()}
	eta, K, D := in.Eta, in.Steps, in.Distance
	ball := TheoryBall(constants, in.InitialLoss, K)(eta)
	p.PathRadius, p.SegmentRadius, p.Smoothness = ball.PathRadius, ball.SegmentRadius, ball.Constants.Smoothness
	r := p.PathRadius

	descent := Hypothesis{Name: HypDescent, For: ForTrain, Value: eta * p.Smoothness, Required: 1}
	descent.Holds = verdict(descent.Value <= 1)
	descent.Reason = fmt.Sprintf("eta = %.4g, L = %.4g over the ball of radius rho = %.4g that holds every GD segment", eta, p.Smoothness, p.SegmentRadius)

	path := Hypothesis{Name: HypPath, For: ForTrain, Value: r, Required: r}
	if descent.Holds == Holds {
		path.Holds = Holds
		path.Reason = fmt.Sprintf("proved by the ball argument since eta L(rho) <= 1: r = sqrt(2 eta K F0) = %.4g", r)
	} else {
		path.Value = math.NaN()
		path.Reason = fmt.Sprintf("eta L(rho) = %.4g > 1: not proved for r = %.4g; needs the measured path", descent.Value, r)
	}

	kc := constants(math.Max(r, D))
	p.WeakConvexity = kc.WeakConvexity
	p.Convexity = p.WeakConvexity * (r + D) * (r + D)
	heads := Hypothesis{Name: HypHeads, For: ForTrain, Value: p.Convexity, Required: 0.5}
	heads.Holds = verdict(p.Convexity <= 0.5)
	heads.Reason = fmt.Sprintf("kappa = %.4g over the ball of radius max(r, D) = %.4g, r + D = %.4g", p.WeakConvexity, math.Max(r, D), r+D)
	if maxB2 := maxOf(kc.Beta2); maxB2 > 0 && p.WeakConvexity > 0 {
		// kappa = scale(H) max_h beta2_h: the condition reads
		// 1/scale(H) >= 2 (r + D)^2 max_h beta2_h.
		heads.Reason += fmt.Sprintf("; needs 1/scale(H) >= 2 (r + D)^2 max_h beta2_h = %.4g (sqrt(H) for scale 1/sqrt(H)), has %.4g",
			2*(r+D)*(r+D)*maxB2, maxB2/p.WeakConvexity)
	}

	realizable := Hypothesis{Name: HypRealizable, For: ForTrain, Value: in.FStar, Required: in.Eps}
	switch {
	case !(in.Eps > 0):
		realizable.Reason = "no target eps given"
	default:
		realizable.Holds = verdict(in.FStar <= in.Eps)
		realizable.Reason = fmt.Sprintf("measured F(theta*) = %.4g vs eps = %.4g at D = %.4g", in.FStar, in.Eps, D)
		if in.Gain != 0 || in.Needed != 0 {
			realizable.Reason += fmt.Sprintf("; the certificate can gain at most gamma^2/(2 kappa_0) = %.4g, eps needs at least %.4g", in.Gain, in.Needed)
		}
	}

	neigh := Hypothesis{Name: HypNeighbours, For: ForTest, Required: 1, Value: math.NaN()}
	stab := Hypothesis{Name: HypStability, For: ForTest, Required: 1, Value: math.NaN()}
	p.StabilityRadius, p.Lipschitz, p.StabilityKappa, p.LossCeiling = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	f0n := in.InitialLoss
	rs := r
	if in.OutputBound > 0 && in.Samples > 0 {
		f0n += ops.LogisticLoss(-in.OutputBound) / float64(in.Samples)
		rn, rhon, ln, ok := stableRadius(constants, f0n, K, eta)
		neigh.Value = eta * ln
		neigh.Holds = verdict(ok)
		if ok {
			rs = rn
		}
		neigh.Reason = fmt.Sprintf("F0' = F0 + l(-B0)/n = %.4g with B0 = %.4g: every replace-one path stays within r' = sqrt(eta K F0' / (1 - eta L(rho')/2)) = %.4g, rho' = %.4g, when eta L(rho') < 2",
			f0n, in.OutputBound, rn, rhon)
	} else {
		neigh.Reason = "no output bound B0 given: the replace-one paths' ball is unknown"
		// The curve still needs a radius: use the training path's.
	}
	ks := constants(rs)
	p.StabilityRadius, p.Lipschitz, p.StabilityKappa = rs, ks.Lipschitz, ks.WeakConvexity
	if in.InitialMargins != nil {
		var sum float64
		for _, z := range in.InitialMargins {
			sum += ops.LogisticLoss(z - p.Lipschitz*rs)
		}
		p.LossCeiling = sum / float64(len(in.InitialMargins))
		stab.Value = eta * float64(K) * p.StabilityKappa * p.LossCeiling
		stab.Holds = verdict(stab.Value <= 1)
		stab.Reason = fmt.Sprintf("kappa' = %.4g and Fbar = mean_i l(z_i - G' r') = %.4g over the ball of radius r' = %.4g; the GD map expands distances by at most exp(%.4g)",
			p.StabilityKappa, p.LossCeiling, rs, stab.Value)
	} else {
		stab.Reason = "no initial margins given: the loss ceiling Fbar is unknown (the curve takes exp(...) = 1)"
	}
	tokens := Hypothesis{Name: HypTokenSupport, For: ForTest, Value: math.NaN(), Required: ks.R,
		Reason: "the stability argument needs ||x_t|| <= R for every sample the bound averages over; unchecked (CheckTokenNorm on held-out data)"}

	p.Hypotheses = Hypotheses{descent, path, heads, realizable, neigh, stab, tokens}
	return p
}

// stableRadius finds a radius r' that K steps of GD with step eta from
// loss f0 provably stay within when only eta L < 2 is known: if eta L(rho)
// < 2 with rho = r' + eta G(r') min(1, f0), the descent lemma gives
// F(theta_{k+1}) <= F(theta_k) - eta (1 - eta L/2) ||g_k||^2, so the path
// stays within sqrt(eta K f0 / (1 - eta L(rho)/2)), and any r' at least
// that large is certified. It iterates r' to that fixed point from
// sqrt(2 eta K f0) and returns r', rho, L(rho) and whether the
// certification succeeded.
func stableRadius(constants func(float64) Constants, f0 float64, steps int, eta float64) (r, rho, l float64, ok bool) {
	r = math.Sqrt(2 * eta * float64(steps) * f0)
	for it := 0; it < 200; it++ {
		rho = r + eta*constants(r).Lipschitz*math.Min(1, f0)
		l = constants(rho).Smoothness
		if !(eta*l < 2) {
			return r, rho, l, false
		}
		need := math.Sqrt(eta * float64(steps) * f0 / (1 - eta*l/2))
		if need <= r {
			return r, rho, l, true
		}
		r = need * (1 + 1e-9)
	}
	return r, rho, l, false
}

// NewPrediction evaluates the bounds for a realizability certificate and a
// step size over K steps: NewBounds with the certificate's F(theta*), eps,
// D, F0 and initial margins, and OutputBound b0 (0: unknown).
func NewPrediction(cert Certificate, eta float64, steps int, constants func(radius float64) Constants, b0 float64) Prediction {
	in := BoundInputs{
		FStar: cert.Loss, Eps: cert.Target, Distance: cert.Distance, InitialLoss: cert.InitialLoss,
		Eta: eta, Steps: steps, Samples: len(cert.InitialMargins), InitialMargins: cert.InitialMargins,
		OutputBound: b0, Gain: CertificateGain(cert.Margin, cert.Kappa0), Needed: NeededGain(cert.Target, cert.InitialMargins),
	}
	if cert.Attained {
		in.Gain, in.Needed = 0, 0
	}
	return NewBounds(in, constants)
}

// OutputBound bounds |Phi(theta; X)| at p for any input whose tokens have
// norm at most r: |<U_h, S_h X>| <= ||U_h||_F sqrt(q) r per head.
func OutputBound(c layers.Config, p *layers.Params, r float64) float64 {
	var sum float64
	for _, u := range HeadNorms(p) {
		sum += u
	}
	return c.ScaleFactor() * math.Sqrt(float64(c.Rows())) * r * sum
}

// CheckPath records the measured max_k ||theta_k - theta_0|| of the run and
// decides the path hypothesis with it: the bounds were evaluated for the
// ball of radius r, so a path that leaves it voids them.
func (p *Prediction) CheckPath(maxDistance float64) {
	p.MaxDistance = maxDistance
	h := p.hypothesis(HypPath)
	h.Value = maxDistance
	switch {
	case math.IsNaN(maxDistance):
		h.Holds, h.Reason = Unknown, "measured distance is NaN"
	case maxDistance <= p.PathRadius*(1+1e-12):
		h.Holds = Holds
		h.Reason = fmt.Sprintf("measured: the path stays within %.4g of theta_0, inside r = %.4g", maxDistance, p.PathRadius)
	default:
		h.Holds = Fails
		h.Reason = fmt.Sprintf("measured: the path reaches %.4g from theta_0, outside r = %.4g", maxDistance, p.PathRadius)
	}
}

// CheckTokenNorm decides the token-support hypothesis of the test bound
// from the largest token norm of held-out data (for example the test set).
// A finite sample can refute it but only supports it for a distribution
// with unbounded tokens (Gaussian noise).
func (p *Prediction) CheckTokenNorm(maxNorm float64) {
	h := p.hypothesis(HypTokenSupport)
	h.Value = maxNorm
	h.Holds = verdict(maxNorm <= h.Required*(1+1e-12)) // R and maxNorm are rounded the same way
	h.Reason = fmt.Sprintf("largest held-out token norm %.4g vs R = %.4g (a finite sample; Gaussian tokens are unbounded)", maxNorm, h.Required)
}

func (p *Prediction) hypothesis(name string) *Hypothesis {
	for i := range p.Hypotheses {
		if p.Hypotheses[i].Name == name {
			return &p.Hypotheses[i]
		}
	}
	panic("theory: no hypothesis " + name)
}

// Valid reports whether every hypothesis of both bounds holds.
func (p Prediction) Valid() bool { return p.Hypotheses.Valid(ForTest) }

// TrainValid reports whether every hypothesis of the training bound holds.
func (p Prediction) TrainValid() bool { return p.Hypotheses.Valid(ForTrain) }

// TestValid reports whether every hypothesis of the test bound holds
// (those of the training bound included).
func (p Prediction) TestValid() bool { return p.Hypotheses.Valid(ForTest) }

// Reason names the first hypothesis that does not hold ("" when Valid).
func (p Prediction) Reason() string { return p.Hypotheses.Reason(ForTest) }

// TrainReason names the first hypothesis of the training bound that does
// not hold ("" when TrainValid).
func (p Prediction) TrainReason() string { return p.Hypotheses.Reason(ForTrain) }

// convexityFactor is b = (a/2) / (1 - a/8) with a = kappa (r + D)^2: the
// weak-convexity term is at most b (F(theta_k) + F(theta*)). +Inf when
// a >= 8/5 (b >= 1: the argument gives nothing).
func (p Prediction) convexityFactor() float64 {
	a := p.Convexity
	b := (a / 2) / (1 - a/8)
	if !(a < 1.6) || !(b < 1) {
		return math.Inf(1)
	}
	return b
}

// Train is the training-loss bound after K steps (docs/theory.md, "Training
// bound"): with b = convexity factor,
//
//	F(theta_K) <= (1+b)/(1-b) F(theta*) + (D^2/(2 eta) + b F0) / ((1-b) K).
//
// +Inf for K <= 0 or when b >= 1.
func (p Prediction) Train(steps int) float64 {
	b := p.convexityFactor()
	if steps <= 0 || math.IsInf(b, 0) {
		return math.Inf(1)
	}
	D := p.Distance
	return (1+b)/(1-b)*p.FStar + (D*D/(2*p.Eta)+b*p.InitialLoss)/((1-b)*float64(steps))
}

// TrainCoefficients returns a and c with Train(K) = a + c / K for K >= 1,
// so a summary can store the whole curve in two numbers (both +Inf when
// the convexity factor b >= 1).
func (p Prediction) TrainCoefficients() (a, c float64) {
	b := p.convexityFactor()
	if math.IsInf(b, 0) {
		return math.Inf(1), math.Inf(1)
	}
	D := p.Distance
	return (1 + b) / (1 - b) * p.FStar, (D*D/(2*p.Eta) + b*p.InitialLoss) / (1 - b)
}

// sumLoss bounds eta sum_{k<K} F(theta_k) from the training argument:
// eta F0 + (eta K (1+b) F(theta*) + eta b F0 + D^2/2) / (1-b).
func (p Prediction) sumLoss(steps int) float64 {
	b := p.convexityFactor()
	if math.IsInf(b, 0) {
		return math.Inf(1)
	}
	eta, D, K := p.Eta, p.Distance, float64(steps)
	return eta*p.InitialLoss + (eta*K*(1+b)*p.FStar+eta*b*p.InitialLoss+D*D/2)/(1-b)
}

// Gap is the on-average stability bound on the expected generalization gap
// after K steps on n samples (docs/theory.md, "Test bound"):
//
//	E[F_test(theta_K) - F(theta_K)] <= exp(eta K kappa' Fbar) G'^2 / n
//	                                   * (eta K + eta sum_{k<K} F(theta_k)),
//
// with the sum bounded by the training argument. It bounds an expectation
// over training samples; one run compares one draw with it.
func (p Prediction) Gap(steps, n int) float64 {
	if steps <= 0 {
		return 0
	}
	expand := 1.0
	if !math.IsNaN(p.LossCeiling) {
		expand = math.Exp(p.Eta * float64(steps) * p.StabilityKappa * p.LossCeiling)
	}
	return expand * p.Lipschitz * p.Lipschitz / float64(n) * (p.Eta*float64(steps) + p.sumLoss(steps))
}

// Test is the test-loss bound after K steps on n training samples:
// Train(K) + Gap(K, n).
func (p Prediction) Test(steps, n int) float64 {
	return p.Train(steps) + p.Gap(steps, n)
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}
