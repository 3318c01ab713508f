package spectrum

import (
	"fmt"
)

// Pair is an approximate eigenpair of an Operator: a Ritz value, its unit
// Ritz vector y and the residual ||H y - Value y||, measured with one more
// product. For a symmetric H some eigenvalue lies in
// [Value - Residual, Value + Residual].
type Pair struct {
	Value    float64
	Residual float64
	Vector   []float64
}

// Extremal holds the ends of a spectrum found by Extremes.
type Extremal struct {
	Top        []Pair // the k largest Ritz values, in descending order
	Bottom     []Pair // the k smallest, in ascending order
	Iterations int    // Lanczos steps taken
	Products   int    // operator products, the residuals' included
}

// Extremes estimates the k largest and the k smallest eigenvalues of op
// from one Lanczos run of min(iterations, Dim) steps with full
// reorthogonalization, started from a Gaussian vector drawn from seed.
// Extreme eigenvalues converge first; iterations of a few times k, more
// for clustered ends, are typical, and the residuals show what converged.
// With iterations >= Dim the whole spectrum is found up to rounding. When
// 2k exceeds the number of Ritz values, Top and Bottom share pairs.
func Extremes(op Operator, k, iterations int, seed uint64) (Extremal, error) {
	if err := op.check(); err != nil {
		return Extremal{}, err
	}
	if err := checkK(k, op.Dim); err != nil {
		return Extremal{}, err
	}
	if err := checkIterations(iterations, k, op.Dim); err != nil {
		return Extremal{}, err
	}
	m := min(iterations, op.Dim)
	rng := newRand(seed, streamExtremes)
	gauss := func(v []float64) {
		for i := range v {
			v[i] = rng.NormFloat64()
		}
	}
	start := make([]float64, op.Dim)
	gauss(start)
	scale(start, 1/norm(start))
	var kr krylov
	if err := kr.run(op, start, m, gauss); err != nil {
		return Extremal{}, err
	}
	vals, vecs, err := kr.ritz()
	if err != nil {
		return Extremal{}, err
	}
	n := len(vals)
	if n < k {
		return Extremal{}, fmt.Errorf("spectrum: Lanczos found %d Ritz values, fewer than k = %d", n, k)
	}
	// Ritz vectors y = Q s and their residuals, one product each; a pair
	// in both ends is computed once.
	pairs := make(map[int]Pair)
	hy := make([]float64, op.Dim)
	pair := func(i int) (Pair, error) {
		if p, ok := pairs[i]; ok {
			return p, nil
		}
		y := make([]float64, op.Dim)
		for j, q := range kr.basis[:n] {
			axpy(y, vecs.At(j, i), q)
		}
		// Renormalize: Q is orthonormal only to rounding.
		scale(y, 1/norm(y))
		if err := op.apply(y, hy); err != nil {
			return Pair{}, err
		}
		kr.products++
		axpy(hy, -vals[i], y)
		p := Pair{Value: vals[i], Residual: norm(hy), Vector: y}
		pairs[i] = p
		return p, nil
	}
	out := Extremal{Iterations: n}
	for i := 0; i < k; i++ {
		top, err := pair(n - 1 - i)
		if err != nil {
			return Extremal{}, err
		}
		out.Top = append(out.Top, top)
	}
	for i := 0; i < k; i++ {
		bottom, err := pair(i)
		if err != nil {
			return Extremal{}, err
		}
		out.Bottom = append(out.Bottom, bottom)
	}
	out.Products = kr.products
	return out, nil
}

func scale(v []float64, a float64) {
	for i := range v {
		v[i] *= a
	}
}
