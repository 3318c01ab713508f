package theory

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// TokenNorm is R = max_{i,t} ||x_t^{(i)}||, the largest token norm in data.
func TokenNorm(data *datasets.Dataset) float64 {
	var peak float64
	for off := 0; off < len(data.X); off += data.D {
		var sq float64
		for _, v := range data.X[off : off+data.D] {
			sq += v * v
		}
		peak = math.Max(peak, sq)
	}
	return math.Sqrt(peak)
}

// Defined reports whether the theory's constants (beta1, beta2, kappa, L),
// the theory step size, the certificate and the bound curves are defined
// for c: they are derived for the paper's model only (docs/theory.md).
func Defined(c layers.Config) error {
	if c.KindName() != layers.KindPaper {
		return fmt.Errorf("not defined for model kind %q (the bounds are derived for kind %q)", c.KindName(), layers.KindPaper)
	}
	return nil
}

// HeadNorms returns ||U_h||_F for every head of the paper's model (U is
// [H, Rows, d]); nil when p has no U.
func HeadNorms(p *layers.Params) []float64 {
	var u *layers.Param
	for i := range p.List {
		if p.List[i].Name == "U" {
			u = &p.List[i]
		}
	}
	if u == nil || len(u.Shape) != 3 {
		return nil
	}
	size := u.Shape[1] * u.Shape[2]
	out := make([]float64, u.Shape[0])
	for h := range out {
		var sq float64
		for _, v := range u.Data[h*size : (h+1)*size] {
			sq += v * v
		}
		out[h] = math.Sqrt(sq)
	}
	return out
}

// Beta1 bounds the gradient of one head's output <U_h, S_h X> over the
// trainable blocks, for tokens of norm at most r and ||U_h||_F = uNorm
// (docs/theory.md, "Gradient"): with q = Rows (T, or 1 for first-token),
//
//	U and W: sqrt(q) r sqrt(1 + r^4 uNorm^2)
//	U only:  sqrt(q) r
//	W only:  sqrt(q) r^3 uNorm
func Beta1(c layers.Config, r, uNorm float64) float64 {
	q := math.Sqrt(float64(c.Rows()))
	var sq float64
	if c.TrainsU() {
		sq += r * r
	}
	if c.TrainsW() {
		sq += math.Pow(r, 6) * uNorm * uNorm
	}
	return q * math.Sqrt(sq)
}

// Beta2 bounds the Hessian operator norm of one head's output over the
// trainable blocks (docs/theory.md, "Hessian"):
//
//	U and W: sqrt(q) (r^3 + 2 r^5 uNorm)
//	U only:  0 (the output is linear in U)
//	W only:  sqrt(q) 2 r^5 uNorm
func Beta2(c layers.Config, r, uNorm float64) float64 {
	q := math.Sqrt(float64(c.Rows()))
	var b float64
	if c.TrainsW() {
		b += 2 * math.Pow(r, 5) * uNorm
		if c.TrainsU() {
			b += math.Pow(r, 3)
		}
	}
	return q * b
}

// Constants are the theory's constants for a model and data, at a point
// or over a ball of parameters.
type Constants struct {
	R      float64   // largest token norm
	Radius float64   // radius of the parameter ball they hold over (0: at the point)
	Beta1  []float64 // per head, with ||U_h|| at its largest over the ball
	Beta2  []float64 // per head, likewise
	// Lipschitz bounds ||grad_theta Phi|| <= scale(H) sqrt(sum_h Beta1_h^2).
	Lipschitz float64
	// PhiCurvature bounds ||Hess_theta Phi|| <= scale(H) max_h Beta2_h: the
	// Hessian is block-diagonal over heads.
	PhiCurvature float64
	// WeakConvexity is kappa in lambda_min(Hess F) >= -kappa F; it equals
	// PhiCurvature because |l'| <= l for the logistic loss.
	WeakConvexity float64
	// Smoothness is L >= ||Hess F||: Lipschitz^2 / 4 + PhiCurvature.
	Smoothness float64
}

// ConstantsOverBall evaluates the constants for parameters within distance
// radius of p (radius 0: at p itself), for tokens of norm at most r.
// Only U's norm enters, and it can grow by at most radius when U trains.
func ConstantsOverBall(c layers.Config, p *layers.Params, r, radius float64) Constants {
	k := Constants{R: r, Radius: radius, Beta1: make([]float64, c.Heads), Beta2: make([]float64, c.Heads)}
	var sumSq, maxBeta2 float64
	for h, u := range HeadNorms(p) {
		if c.TrainsU() {
			u += radius
		}
		k.Beta1[h] = Beta1(c, r, u)
		k.Beta2[h] = Beta2(c, r, u)
		sumSq += k.Beta1[h] * k.Beta1[h]
		maxBeta2 = math.Max(maxBeta2, k.Beta2[h])
	}
	scale := c.ScaleFactor()
	k.Lipschitz = scale * math.Sqrt(sumSq)
	k.PhiCurvature = scale * maxBeta2
	k.WeakConvexity = k.PhiCurvature
	k.Smoothness = k.Lipschitz*k.Lipschitz/4 + k.PhiCurvature
	return k
}
