package theory

import "math"

// Prediction holds the quantities of the training and generalization
// bounds (docs/theory.md, "Bounds on training and test loss"): a reference
// parameter theta* with loss FStar at distance Distance from theta_0, the
// step size, and the constants over the ball the analysis needs.
type Prediction struct {
	FStar     float64 // F(theta*)
	Distance  float64 // D = ||theta* - theta_0||
	Eta       float64 // the GD step size
	Lipschitz float64 // G, the bound on ||grad Phi|| over the ball of radius 2D
	// WeakConvexity is kappa over the ball of radius 2D.
	WeakConvexity float64
	// Valid reports the conditions the bounds rest on: kappa (2D)^2 <= 1
	// (enough heads) and eta L <= 1 with L the smoothness over the same
	// ball (a step size the descent lemma allows; the theory step size
	// always satisfies it, a hand-picked one may not).
	Valid bool
}

// NewPrediction evaluates the constants of the bounds for a certificate and
// step size.
func NewPrediction(cert Certificate, eta float64, k Constants) Prediction {
	return Prediction{
		FStar: cert.Loss, Distance: cert.Distance, Eta: eta,
		Lipschitz: k.Lipschitz, WeakConvexity: k.WeakConvexity,
		Valid: k.WeakConvexity*4*cert.Distance*cert.Distance <= 1 && eta*k.Smoothness <= 1,
	}
}

// Train is the training-loss bound after K steps:
// F(theta_K) <= 2 F(theta*) + D^2 / (eta K).
func (p Prediction) Train(steps int) float64 {
	if steps <= 0 {
		return math.Inf(1)
	}
	return 2*p.FStar + p.Distance*p.Distance/(p.Eta*float64(steps))
}

// Test is the test-loss bound after K steps on n training samples: the
// training bound plus the stability bound on the generalization gap,
// 4 G^2 (2 eta K F(theta*) + D^2) / n.
func (p Prediction) Test(steps, n int) float64 {
	gap := 4 * p.Lipschitz * p.Lipschitz * (2*p.Eta*float64(steps)*p.FStar + p.Distance*p.Distance) / float64(n)
	return p.Train(steps) + gap
}
