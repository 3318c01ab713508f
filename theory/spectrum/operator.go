package spectrum

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Operator is a symmetric linear operator on R^Dim, given by its action:
// Apply writes H v into dst (both of length Dim) and must not keep either.
// A model's Hessian is one: wrap its Hessian-vector product, e.g.
//
//	op := spectrum.Operator{Dim: p, Apply: func(v, dst []float64) error {
//		_, err := model.HessVec(v, dst)
//		return err
//	}}
type Operator struct {
	Dim   int
	Apply func(v, dst []float64) error
}

func (op Operator) check() error {
	if op.Dim < 1 {
		return fmt.Errorf("spectrum.dim = %d: must be >= 1", op.Dim)
	}
	if op.Apply == nil {
		return errors.New("spectrum.apply: must not be nil")
	}
	return nil
}

// apply runs op and rejects non-finite results, which would otherwise
// poison every later estimate silently.
func (op Operator) apply(v, dst []float64) error {
	if err := op.Apply(v, dst); err != nil {
		return err
	}
	for i, x := range dst {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("spectrum: operator returned %v at entry %d", x, i)
		}
	}
	return nil
}

// Streams of the PCG source, one per instrument, so that the same seed
// gives unrelated draws in different instruments.
const (
	streamExtremes = 0x5e1
	streamTrace    = 0x5e2
	streamSLQ      = 0x5e3
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// rademacher fills z with independent +-1 entries.
func rademacher(rng *rand.Rand, z []float64) {
	for i := range z {
		z[i] = float64(2*int(rng.Uint64()&1) - 1)
	}
}

// krylov is the state of one Lanczos run: an orthonormal basis Q (the
// first len(alpha) vectors are used) and the tridiagonal T = Q^T H Q with
// diagonal alpha and off-diagonal beta (beta[j] couples j and j+1; 0 where
// the run restarted).
type krylov struct {
	basis       [][]float64
	alpha, beta []float64
	products    int
	w           []float64
}

// breakdown is the relative size, against the largest |alpha|+beta so far,
// below which the residual counts as zero: the Krylov space is invariant.
const breakdown = 1e-10

// run performs up to m Lanczos steps of op from the unit vector start with
// full reorthogonalization (two Gram-Schmidt passes). On breakdown it asks
// restart for a fresh vector; with restart nil, or when the fresh vector
// lies in the span of the basis, the run ends early.
func (k *krylov) run(op Operator, start []float64, m int, restart func([]float64)) error {
	dim := op.Dim
	if cap(k.basis) < m {
		k.basis = make([][]float64, 0, m)
	}
	k.basis = k.basis[:0]
	k.alpha, k.beta = k.alpha[:0], k.beta[:0]
	if len(k.w) != dim {
		k.w = make([]float64, dim)
	}
	q := k.vector(0, dim)
	copy(q, start)
	k.basis = append(k.basis, q)
	var scale float64
	for j := 0; j < m; j++ {
		w := k.w
		if err := op.apply(k.basis[j], w); err != nil {
			return err
		}
		k.products++
		a := dot(w, k.basis[j])
		k.alpha = append(k.alpha, a)
		k.orthogonalize(w)
		b := norm(w)
		scale = math.Max(scale, math.Abs(a)+b)
		if j == m-1 {
			k.beta = append(k.beta, b)
			break
		}
		next := k.vector(j+1, dim)
		if b > breakdown*scale {
			k.beta = append(k.beta, b)
			for i := range next {
				next[i] = w[i] / b
			}
			k.basis = append(k.basis, next)
			continue
		}
		// Invariant subspace: its Ritz values are exact. Go on in the
		// orthogonal complement if asked, with T block diagonal.
		if restart == nil {
			k.beta = append(k.beta, 0)
			break
		}
		restart(next)
		k.orthogonalize(next)
		r := norm(next)
		if r <= breakdown*math.Sqrt(float64(dim)) {
			k.beta = append(k.beta, 0)
			break
		}
		for i := range next {
			next[i] /= r
		}
		k.beta = append(k.beta, 0)
		k.basis = append(k.basis, next)
	}
	return nil
}

// vector returns a buffer for basis vector j, reusing the one a previous
// run left there.
func (k *krylov) vector(j, dim int) []float64 {
	if j < cap(k.basis) {
		if v := k.basis[:cap(k.basis)][j]; len(v) == dim {
			return v
		}
	}
	return make([]float64, dim)
}

// orthogonalize removes from w its components along the basis, twice:
// one classical pass loses orthogonality in floating point, two keep it
// to rounding ("twice is enough").
func (k *krylov) orthogonalize(w []float64) {
	for pass := 0; pass < 2; pass++ {
		for _, q := range k.basis {
			axpy(w, -dot(w, q), q)
		}
	}
}

// ritz returns the eigenvalues of T in ascending order and its
// eigenvectors as the columns of vecs.
func (k *krylov) ritz() (vals []float64, vecs *mat.Dense, err error) {
	n := len(k.alpha)
	t := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		t.SetSym(i, i, k.alpha[i])
		if i+1 < n {
			t.SetSym(i, i+1, k.beta[i])
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(t, true) {
		return nil, nil, errors.New("spectrum: eigendecomposition of the Lanczos tridiagonal failed")
	}
	vecs = new(mat.Dense)
	eig.VectorsTo(vecs)
	return eig.Values(nil), vecs, nil
}

func dot(a, b []float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func norm(a []float64) float64 { return math.Sqrt(dot(a, a)) }

func axpy(y []float64, a float64, x []float64) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
