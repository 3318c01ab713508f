package spectrum

import (
	"fmt"
	"math"
)

// Quadrature is the result of stochastic Lanczos quadrature: for each
// random start l, the nodes theta_lj and weights tau_lj (summing to 1) of
// the Gauss quadrature of the spectral measure of H seen from that start.
// Averaged over starts, sum_j tau_lj f(theta_lj) estimates
// tr f(H) / Dim.
type Quadrature struct {
	Dim      int
	Nodes    [][]float64 // [start][j], ascending
	Weights  [][]float64 // [start][j]
	Products int         // operator products
}

// SLQ runs stochastic Lanczos quadrature of op: starts independent
// Rademacher vectors (normalized), drawn from seed, each followed by
// min(iterations, Dim) Lanczos steps with full reorthogonalization (a
// start whose Krylov space is invariant stops early; its quadrature is
// then exact). Costs about starts x iterations operator products.
func SLQ(op Operator, starts, iterations int, seed uint64) (*Quadrature, error) {
	if err := op.check(); err != nil {
		return nil, err
	}
	if err := checkCount("starts", starts); err != nil {
		return nil, err
	}
	if err := checkIterations(iterations, 1, op.Dim); err != nil {
		return nil, err
	}
	m := min(iterations, op.Dim)
	rng := newRand(seed, streamSLQ)
	v := make([]float64, op.Dim)
	q := &Quadrature{Dim: op.Dim}
	var kr krylov
	for l := 0; l < starts; l++ {
		rademacher(rng, v)
		scale(v, 1/math.Sqrt(float64(op.Dim)))
		if err := kr.run(op, v, m, nil); err != nil {
			return nil, err
		}
		vals, vecs, err := kr.ritz()
		if err != nil {
			return nil, err
		}
		w := make([]float64, len(vals))
		for j := range w {
			s := vecs.At(0, j)
			w[j] = s * s
		}
		q.Nodes = append(q.Nodes, vals)
		q.Weights = append(q.Weights, w)
	}
	q.Products = kr.products
	return q, nil
}

// Range returns the smallest and largest node over all starts.
func (q *Quadrature) Range() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, nodes := range q.Nodes {
		lo = math.Min(lo, nodes[0])
		hi = math.Max(hi, nodes[len(nodes)-1])
	}
	return lo, hi
}

// Grid returns points evenly spaced values covering the nodes with a
// margin of 6 sigma on each side, where the broadened density is
// negligible, so that a Riemann sum of Density over it integrates to Dim
// up to 2e-9 Dim and the error of the sum.
func (q *Quadrature) Grid(points int, sigma float64) ([]float64, error) {
	if points < 2 {
		return nil, fmt.Errorf("spectrum.points = %d: must be >= 2", points)
	}
	if err := checkSigma(sigma); err != nil {
		return nil, err
	}
	lo, hi := q.Range()
	lo, hi = lo-6*sigma, hi+6*sigma
	grid := make([]float64, points)
	step := (hi - lo) / float64(points-1)
	for i := range grid {
		grid[i] = lo + float64(i)*step
	}
	grid[points-1] = hi
	return grid, nil
}

// Density evaluates the spectral density broadened by a Gaussian of
// standard deviation sigma at each grid point:
//
//	density(t) = Dim / starts * sum_l sum_j tau_lj N(t; theta_lj, sigma^2).
//
// It integrates to Dim over the real line. sigma is in eigenvalue units;
// it must be wide enough to merge the few nodes per start into a curve
// (about 1% of the spectral width is a common choice) and narrow enough to
// keep the features of interest, such as the mass just below 0.
func (q *Quadrature) Density(grid []float64, sigma float64) ([]float64, error) {
	if err := checkSigma(sigma); err != nil {
		return nil, err
	}
	out := make([]float64, len(grid))
	c := float64(q.Dim) / float64(len(q.Nodes)) / (sigma * math.Sqrt(2*math.Pi))
	for i, t := range grid {
		var s float64
		for l, nodes := range q.Nodes {
			for j, theta := range nodes {
				z := (t - theta) / sigma
				s += q.Weights[l][j] * math.Exp(-0.5*z*z)
			}
		}
		out[i] = c * s
	}
	return out, nil
}

// CDF estimates the fraction of eigenvalues <= t from the unbroadened
// nodes, averaged over starts.
func (q *Quadrature) CDF(t float64) float64 {
	var s float64
	for l, nodes := range q.Nodes {
		for j, theta := range nodes {
			if theta <= t {
				s += q.Weights[l][j]
			}
		}
	}
	return s / float64(len(q.Nodes))
}

// Negative summarizes the part of a spectrum below -Tol.
type Negative struct {
	Tol            float64
	Fraction       float64 // estimated fraction of the Dim eigenvalues below -Tol
	FractionStdErr float64 // standard error over starts; NaN for one start
	Sum            float64 // estimated sum of the eigenvalues below -Tol (<= 0)
	SumStdErr      float64
}

// Negative estimates how much of the spectrum lies below -tol (tol >= 0),
// from the unbroadened nodes: each start gives sum_j tau_j [theta_j < -tol]
// (a fraction) and Dim sum_j tau_j theta_j [theta_j < -tol] (a sum of
// eigenvalues); the estimates are their means over starts. With few
// iterations, nodes near -tol are coarse; a tol of a few times the
// resolution asked for keeps round-off at 0 out.
func (q *Quadrature) Negative(tol float64) (Negative, error) {
	if !(tol >= 0) || math.IsInf(tol, 1) {
		return Negative{}, fmt.Errorf("spectrum.tol = %v: must be in [0, inf)", tol)
	}
	frac := make([]float64, len(q.Nodes))
	sum := make([]float64, len(q.Nodes))
	for l, nodes := range q.Nodes {
		for j, theta := range nodes {
			if theta < -tol {
				frac[l] += q.Weights[l][j]
				sum[l] += q.Weights[l][j] * theta
			}
		}
		sum[l] *= float64(q.Dim)
	}
	n := Negative{Tol: tol}
	n.Fraction, n.FractionStdErr = meanStdErr(frac)
	n.Sum, n.SumStdErr = meanStdErr(sum)
	return n, nil
}

// Trace returns the SLQ estimate of tr H, Dim sum_j tau_j theta_j averaged
// over starts, and its standard error. Each start's value equals
// z^T H z for its Rademacher vector z up to rounding, so this is
// Hutchinson's estimator on the starts, free of further products.
func (q *Quadrature) Trace() (trace, stdErr float64) {
	per := make([]float64, len(q.Nodes))
	for l, nodes := range q.Nodes {
		for j, theta := range nodes {
			per[l] += q.Weights[l][j] * theta
		}
		per[l] *= float64(q.Dim)
	}
	return meanStdErr(per)
}
