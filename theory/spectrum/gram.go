package spectrum

import (
	"errors"
	"fmt"
	"math"

	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas/blas64"
)

// Gradients writes per-sample gradients: Write(i0, i1, dst) fills the
// first (i1-i0) P entries of dst, row-major, row r being the gradient
// g_{i0+r} in R^P of sample i0+r (0 <= i0 < i1 <= N). Rows must not depend
// on which other samples share the call, or the Gram would depend on the
// block size.
type Gradients struct {
	N, P  int
	Write func(i0, i1 int, dst []float64) error
}

// Gram returns the n x n empirical NTK Gram matrix K_ij = <g_i, g_j>
// (row-major), times y_i y_j when labels is not nil (len N), computed in
// blocks of block samples: block i of rows is written once per block
// pair (i, j <= i), so at most 2 x block x P gradient numbers are held at
// once and blocks are written nb (nb + 1) / 2 times for nb = ceil(N /
// block). Choose block as large as memory allows: block >= N is the
// one-shot Gram with one write.
//
// Each entry is a dot product of two whole rows summed in an order fixed
// by P alone (chunks of gramChunk in sequence), whatever the block size and
// the number of goroutines, so the result is reproducible bit for bit and
// equal to the one-shot Gram; the lower triangle is computed and
// mirrored, so K is exactly symmetric. The NTK margin is
// theory.MinNormPoint(K, N, 0) on the labelled Gram.
func Gram(g Gradients, labels []float64, block int) ([]float64, error) {
	if g.N < 1 {
		return nil, fmt.Errorf("spectrum.n = %d: must be >= 1", g.N)
	}
	if g.P < 1 {
		return nil, fmt.Errorf("spectrum.p = %d: must be >= 1", g.P)
	}
	if g.Write == nil {
		return nil, errors.New("spectrum.write: must not be nil")
	}
	if block < 1 {
		return nil, fmt.Errorf("spectrum.block = %d: must be >= 1", block)
	}
	if labels != nil && len(labels) != g.N {
		return nil, fmt.Errorf("spectrum.labels: has %d entries: must have n = %d (or be nil)", len(labels), g.N)
	}
	n, p := g.N, g.P
	block = min(block, n)
	k := make([]float64, n*n)
	rows := make([]float64, block*p)
	var cols []float64
	if block < n {
		cols = make([]float64, block*p)
	}
	write := func(i0, i1 int, dst []float64) error {
		dst = dst[:(i1-i0)*p]
		if err := g.Write(i0, i1, dst); err != nil {
			return err
		}
		for i, x := range dst {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("spectrum: gradient of sample %d has %v at entry %d", i0+i/p, x, i%p)
			}
		}
		return nil
	}
	product := func(i0, i1, j0, j1 int, a, b []float64) {
		products(k[i0*n+j0:], n, a, i1-i0, b, j1-j0, p, i0 == j0)
	}
	for i0 := 0; i0 < n; i0 += block {
		i1 := min(i0+block, n)
		if err := write(i0, i1, rows); err != nil {
			return nil, err
		}
		product(i0, i1, i0, i1, rows, rows)
		for j0 := 0; j0 < i0; j0 += block {
			j1 := min(j0+block, n)
			if err := write(j0, j1, cols); err != nil {
				return nil, err
			}
			product(i0, i1, j0, j1, rows, cols)
		}
	}
	// Mirror the lower triangle and apply the labels.
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			v := k[i*n+j]
			if labels != nil {
				v *= labels[i] * labels[j]
			}
			k[i*n+j], k[j*n+i] = v, v
		}
	}
	return k, nil
}

// gramChunk is the length of the pieces of a row pair summed in turn: a
// chunk of every row of both blocks stays in cache while all pairs use it.
const gramChunk = 256

// products writes c[i*ldc+j] = <a_i, b_j> for the rows a_i (ra of them) and
// b_j (rb) of length p; with lower set (a and b the same block) only j <= i.
// Rows of a are shared out among the goroutines; every entry is summed by
// one goroutine, chunk after chunk, so its value does not depend on how
// many there are.
func products(c []float64, ldc int, a []float64, ra int, b []float64, rb int, p int, lower bool) {
	workers := min(runtime.GOMAXPROCS(0), ra)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < ra; i += workers {
				row := c[i*ldc : i*ldc+rb]
				clear(row)
			}
			for c0 := 0; c0 < p; c0 += gramChunk {
				c1 := min(c0+gramChunk, p)
				// Rows interleaved among workers balance the triangle.
				for i := w; i < ra; i += workers {
					x := blas64.Vector{N: c1 - c0, Inc: 1, Data: a[i*p+c0 : i*p+c1]}
					jn := rb
					if lower {
						jn = i + 1
					}
					row := c[i*ldc : i*ldc+jn]
					for j := range row {
						row[j] += blas64.Dot(x, blas64.Vector{N: c1 - c0, Inc: 1, Data: b[j*p+c0 : j*p+c1]})
					}
				}
			}
		}(w)
	}
	wg.Wait()
}
