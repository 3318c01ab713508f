package theory

import (
	"math"
	"math/rand/v2"
	"testing"
)

// knownMarginPoints builds n points in dim dimensions whose hull's closest
// point to the origin is exactly gamma e_0, with norms spread over
// 10^-spread .. 10^spread: pairs gamma e_0 +- c e_k (k >= 1) put gamma e_0
// in the hull, and every other point has e_0-component at least gamma, so
// no hull point is nearer than gamma.
func knownMarginPoints(n, dim int, gamma, spread float64, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	pts := make([][]float64, 0, n)
	for k := 1; k < dim && len(pts)+1 < n && k <= 6; k++ {
		up := math.Pow(10, spread*(2*rng.Float64()-1))
		down := math.Pow(10, spread*(2*rng.Float64()-1))
		p, q := make([]float64, dim), make([]float64, dim)
		p[0], q[0] = gamma, gamma
		p[k], q[k] = up, -down
		pts = append(pts, p, q)
	}
	for len(pts) < n {
		p := make([]float64, dim)
		s := math.Pow(10, spread*(2*rng.Float64()-1))
		for d := range p {
			p[d] = s * rng.NormFloat64()
		}
		p[0] = gamma * (1 + 3*rng.Float64())
		if rng.IntN(2) == 0 {
			p[0] = gamma // on the supporting hyperplane: degenerate ties
		}
		pts = append(pts, p)
	}
	rng.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
	return pts
}

// checkCertificates verifies a Margin's bounds in feature space, without
// the Gram matrix: Lower is the margin achieved by the explicit direction
// sum_i a_i p_i / ||.||, and the combination is a hull point of norm at
// least gamma >= Lower.
func checkCertificates(t *testing.T, pts [][]float64, m Margin) {
	t.Helper()
	dim := len(pts[0])
	x := make([]float64, dim)
	var sum float64
	for i, a := range m.Weights {
		if a < 0 {
			t.Fatalf("negative weight %v", a)
		}
		sum += a
		for d := range x {
			x[d] += a * pts[i][d]
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("weights sum to %v", sum)
	}
	nx := math.Sqrt(dotF(x, x))
	if nx == 0 {
		if m.Lower != 0 {
			t.Fatalf("zero combination with Lower %v", m.Lower)
		}
		return
	}
	achieved := math.Inf(1)
	for _, p := range pts {
		achieved = math.Min(achieved, dotF(p, x)/nx)
	}
	if m.Lower > math.Max(0, achieved)+1e-9*nx {
		t.Errorf("Lower %v exceeds the margin %v its direction achieves", m.Lower, achieved)
	}
}

func TestMinNormPointBadlyScaled(t *testing.T) {
	for _, tc := range []struct {
		name          string
		n, dim        int
		gamma, spread float64
	}{
		{"n57 norms 1e-3..1e3", 57, 40, 0.023, 3},
		{"n57 norms 1e-2..1e2 in 80 dims", 57, 80, 0.023, 2},
		{"n120 norms 1e-3..1e3", 120, 30, 0.05, 3},
		{"n57 well scaled", 57, 40, 0.023, 0},
	} {
		for seed := uint64(1); seed <= 5; seed++ {
			pts := knownMarginPoints(tc.n, tc.dim, tc.gamma, tc.spread, seed)
			m := MinNormPoint(gramOf(pts), tc.n, 0)
			checkCertificates(t, pts, m)
			if m.Status == NotSeparable || !m.Separable {
				t.Errorf("%s seed %d: status %v, separable %v; the true margin is %v", tc.name, seed, m.Status, m.Separable, tc.gamma)
			}
			if m.Lower > tc.gamma*(1+1e-9) || m.Upper < tc.gamma*(1-1e-9) {
				t.Errorf("%s seed %d: bounds [%v, %v] exclude the true margin %v", tc.name, seed, m.Lower, m.Upper, tc.gamma)
			}
			if m.Converged && math.Abs(m.Gamma-tc.gamma) > 2e-6*tc.gamma {
				t.Errorf("%s seed %d: converged to %v, true margin %v", tc.name, seed, m.Gamma, tc.gamma)
			}
			if !m.Converged {
				t.Errorf("%s seed %d: not converged after %d iterations: [%v, %v]", tc.name, seed, m.Iterations, m.Lower, m.Upper)
			}
		}
	}
}

// TestMinNormPointReportsItsCap stops the solver early: it must say it did
// not converge and still return bounds around the true margin, never a
// false "not separable".
func TestMinNormPointReportsItsCap(t *testing.T) {
	const gamma = 0.023
	pts := knownMarginPoints(57, 40, gamma, 3, 11)
	gram := gramOf(pts)
	for _, caps := range [][2]int{{1, 0}, {10, 0}, {200, 0}, {200, 1}} {
		m := minNormPoint(gram, 57, 0, caps[0], caps[1])
		checkCertificates(t, pts, m)
		if m.Converged {
			continue // allowed if the bounds met the tolerance
		}
		if m.Status == NotSeparable || m.Status == Certified {
			t.Errorf("caps %v: unconverged with status %v", caps, m.Status)
		}
		if m.Lower > gamma || m.Upper < gamma || m.Upper <= m.Lower {
			t.Errorf("caps %v: bounds [%v, %v] do not bracket the true margin %v", caps, m.Lower, m.Upper, gamma)
		}
		if m.Gamma != m.Lower {
			t.Errorf("caps %v: Gamma %v, want the certified Lower %v", caps, m.Gamma, m.Lower)
		}
		t.Logf("caps %v: %v, [%.4g, %.4g] after %d iterations", caps, m.Status, m.Lower, m.Upper, m.Iterations)
	}
}

// TestMinNormPointRandomBadlyScaled: random clouds with a positive first
// coordinate and norms over six orders of magnitude. e_0 separates them
// with margin min_i p_i[0], an independent lower bound on gamma.
func TestMinNormPointRandomBadlyScaled(t *testing.T) {
	for seed := uint64(0); seed < 10; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		n, dim := 57, 40
		pts := make([][]float64, n)
		e0Margin := math.Inf(1)
		for i := range pts {
			pts[i] = make([]float64, dim)
			s := math.Pow(10, -3+6*rng.Float64())
			for d := range pts[i] {
				pts[i][d] = s * rng.NormFloat64()
			}
			pts[i][0] = s * (0.02 + 0.05*math.Abs(rng.NormFloat64()))
			e0Margin = math.Min(e0Margin, pts[i][0])
		}
		m := MinNormPoint(gramOf(pts), n, 0)
		checkCertificates(t, pts, m)
		if !m.Separable || m.Status == NotSeparable {
			t.Errorf("seed %d: status %v, but e_0 separates with margin %v", seed, m.Status, e0Margin)
		}
		if m.Upper < e0Margin*(1-1e-9) {
			t.Errorf("seed %d: Upper %v below the margin %v that e_0 achieves", seed, m.Upper, e0Margin)
		}
		if !m.Converged {
			t.Errorf("seed %d: not converged: [%v, %v]", seed, m.Lower, m.Upper)
		}
	}
}

// projectSimplex is the Euclidean projection of v onto the simplex (sort
// and threshold).
func projectSimplex(v []float64) []float64 {
	u := append([]float64(nil), v...)
	for i := 1; i < len(u); i++ { // insertion sort, descending
		for j := i; j > 0 && u[j] > u[j-1]; j-- {
			u[j], u[j-1] = u[j-1], u[j]
		}
	}
	var cum, theta float64
	for i, x := range u {
		cum += x
		if t := (cum - 1) / float64(i+1); x-t > 0 {
			theta = t
		}
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Max(x-theta, 0)
	}
	return out
}

// projectedGradientMinNorm is an independent oracle: accelerated projected
// gradient (FISTA) on ||P a||^2 over the simplex, in feature space, run for
// a fixed long budget. It returns the norm of its final hull point, an
// upper bound on gamma that approaches it.
func projectedGradientMinNorm(pts [][]float64, iters int) float64 {
	n, dim := len(pts), len(pts[0])
	var lip float64 // ||P||_F^2 bounds the largest eigenvalue of P^T P
	for _, p := range pts {
		lip += dotF(p, p)
	}
	point := func(a []float64) []float64 {
		x := make([]float64, dim)
		for i, w := range a {
			for d := range x {
				x[d] += w * pts[i][d]
			}
		}
		return x
	}
	a := make([]float64, n)
	for i := range a {
		a[i] = 1 / float64(n)
	}
	y, t := append([]float64(nil), a...), 1.0
	for it := 0; it < iters; it++ {
		x := point(y)
		step := make([]float64, n)
		for i := range step {
			step[i] = y[i] - dotF(pts[i], x)/lip
		}
		next := projectSimplex(step)
		tNext := (1 + math.Sqrt(1+4*t*t)) / 2
		for i := range y {
			y[i] = next[i] + (t-1)/tNext*(next[i]-a[i])
		}
		a, t = next, tNext
	}
	x := point(a)
	return math.Sqrt(dotF(x, x))
}

// TestMinNormPointMatchesProjectedGradient compares with the independent
// FISTA oracle on random clouds with norms over two orders of magnitude,
// where a long fixed budget converges.
func TestMinNormPointMatchesProjectedGradient(t *testing.T) {
	for seed := uint64(0); seed < 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		n, dim := 57, 20
		pts := make([][]float64, n)
		for i := range pts {
			pts[i] = make([]float64, dim)
			s := math.Pow(10, -0.5+rng.Float64())
			for d := range pts[i] {
				pts[i][d] = s * rng.NormFloat64()
			}
			pts[i][0] = s * (0.3 + math.Abs(rng.NormFloat64()))
		}
		m := MinNormPoint(gramOf(pts), n, 1e-9)
		want := projectedGradientMinNorm(pts, 20000)
		if !m.Converged || m.Upper > want*(1+1e-9) || math.Abs(m.Gamma-want) > 1e-6*want {
			t.Errorf("seed %d: MinNormPoint %v [%v, %v] (converged %v), projected gradient %v", seed, m.Gamma, m.Lower, m.Upper, m.Converged, want)
		}
	}
}

// A hull that contains the origin, badly scaled: after the active-set
// phase the solver must prove it (NotSeparable), and never certify a
// positive margin.
func TestMinNormPointBadlyScaledNotSeparable(t *testing.T) {
	for seed := uint64(0); seed < 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, 13))
		n, dim := 57, 10
		pts := make([][]float64, n)
		for i := range pts {
			pts[i] = make([]float64, dim)
			s := math.Pow(10, -3+6*rng.Float64())
			for d := range pts[i] {
				pts[i][d] = s * rng.NormFloat64()
			}
		}
		// Make the origin an interior convex combination: append -sum of two
		// points' scaled copies so that 0 = (p_0 + p_1 + q) / 3.
		q := make([]float64, dim)
		for d := range q {
			q[d] = -(pts[0][d] + pts[1][d])
		}
		pts[n-1] = q
		for _, caps := range [][2]int{{1000 * (n + 10), 50 * (n + 10)}, {50, 50 * (n + 10)}} {
			m := minNormPoint(gramOf(pts), n, 0, caps[0], caps[1])
			checkCertificates(t, pts, m)
			if m.Separable || m.Gamma != 0 || m.Status != NotSeparable {
				t.Errorf("seed %d caps %v: status %v, gamma %v, bounds [%v, %v]; want not separable", seed, caps, m.Status, m.Gamma, m.Lower, m.Upper)
			}
		}
	}
}
