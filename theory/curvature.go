package theory

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Spectrum holds extreme eigenvalue estimates of a symmetric operator.
type Spectrum struct {
	Min, Max   float64 // extreme Ritz values
	MinResid   float64 // ||A y - Min y|| for the Ritz vector y of Min: |Min - lambda| <= MinResid for some eigenvalue
	MaxResid   float64 // likewise for Max
	Iterations int     // Lanczos steps taken
}

// Lanczos estimates the extreme eigenvalues of the symmetric operator
// apply (dst = A v) on R^dim with iters Lanczos steps from a random start
// drawn from seed. It reorthogonalizes fully, so for iters >= dim it
// recovers the whole spectrum up to rounding; it stops early on an
// invariant subspace.
func Lanczos(dim int, apply func(v, dst []float64) error, iters int, seed uint64) (Spectrum, error) {
	if dim < 1 {
		return Spectrum{}, fmt.Errorf("lanczos: dimension %d: must be >= 1", dim)
	}
	if iters < 1 {
		return Spectrum{}, fmt.Errorf("lanczos: iterations = %d: must be >= 1", iters)
	}
	iters = min(iters, dim)
	rng := rand.New(rand.NewPCG(seed, 0x1a))
	basis := make([][]float64, 0, iters+1)
	v := make([]float64, dim)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	scaleTo(v, 1/norm2(v))
	basis = append(basis, v)
	var alpha, beta []float64
	w := make([]float64, dim)
	for j := 0; j < iters; j++ {
		if err := apply(basis[j], w); err != nil {
			return Spectrum{}, err
		}
		for _, x := range w {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return Spectrum{}, errors.New("lanczos: operator returned a non-finite value")
			}
		}
		a := dot2(w, basis[j])
		alpha = append(alpha, a)
		// Full reorthogonalization, twice, keeps the basis orthonormal in
		// floating point.
		for pass := 0; pass < 2; pass++ {
			for _, q := range basis {
				axpy(w, -dot2(w, q), q)
			}
		}
		b := norm2(w)
		if j == iters-1 || b <= 1e-12*math.Max(1, math.Abs(a)) {
			beta = append(beta, b)
			break
		}
		beta = append(beta, b)
		next := append([]float64(nil), w...)
		scaleTo(next, 1/b)
		basis = append(basis, next)
	}
	k := len(alpha)
	tri := mat.NewSymDense(k, nil)
	for i := 0; i < k; i++ {
		tri.SetSym(i, i, alpha[i])
		if i+1 < k {
			tri.SetSym(i, i+1, beta[i])
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(tri, true) {
		return Spectrum{}, errors.New("lanczos: tridiagonal eigendecomposition failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	// Residual of Ritz pair i is beta_k |last component of its eigenvector|.
	last := beta[k-1]
	lo, hi := 0, 0
	for i := range vals {
		if vals[i] < vals[lo] {
			lo = i
		}
		if vals[i] > vals[hi] {
			hi = i
		}
	}
	return Spectrum{
		Min: vals[lo], Max: vals[hi],
		MinResid:   math.Abs(last * vecs.At(k-1, lo)),
		MaxResid:   math.Abs(last * vecs.At(k-1, hi)),
		Iterations: k,
	}, nil
}

func dot2(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func norm2(a []float64) float64 { return math.Sqrt(dot2(a, a)) }

func axpy(y []float64, a float64, x []float64) {
	for i := range y {
		y[i] += a * x[i]
	}
}

func scaleTo(v []float64, a float64) {
	for i := range v {
		v[i] *= a
	}
}

// Curvature estimates lambda_min and lambda_max of Hess F at the model's
// current parameters from iters Lanczos steps on its Hessian-vector
// products. The parameters are left exactly as they were.
func Curvature(m HessVecer, iters int, seed uint64) (Spectrum, error) {
	return Lanczos(m.NumTrainable(), func(v, dst []float64) error {
		_, err := m.HessVec(v, dst)
		return err
	}, iters, seed)
}
