package spectrum

import (
	"errors"
	"fmt"
	"math"

	"runtime"
	"sync"
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
// by P alone (chunks of gramChunk in sequence, each summed term by term), whatever the block size and
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
	if err := checkCount("block", block); err != nil {
		return nil, err
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
// b_j (rb) of length p; with lower set (a and b the same block) only
// j <= i is needed. Each entry is summed chunk after chunk, and within a
// chunk term after term with its own accumulator, whichever tile of the
// register-blocked loop it falls in, so its value depends on P alone: not
// on the block shapes nor on the goroutines, which share out pairs of rows.
func products(c []float64, ldc int, a []float64, ra int, b []float64, rb int, p int, lower bool) {
	for i := 0; i < ra; i++ {
		clear(c[i*ldc : i*ldc+rb])
	}
	pairs := (ra + 1) / 2
	workers := min(runtime.GOMAXPROCS(0), pairs)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for c0 := 0; c0 < p; c0 += gramChunk {
				c1 := min(c0+gramChunk, p)
				// Interleaved pairs of rows balance the triangle.
				for i := 2 * w; i < ra; i += 2 * workers {
					jn := rb
					if lower {
						jn = min(i+2, rb)
					}
					a0 := a[i*p+c0 : i*p+c1]
					c0row := c[i*ldc : i*ldc+jn]
					if i+1 == ra {
						for j := range c0row {
							c0row[j] += dotChunk(a0, b[j*p+c0:j*p+c1])
						}
						continue
					}
					a1 := a[(i+1)*p+c0 : (i+1)*p+c1]
					c1row := c[(i+1)*ldc : (i+1)*ldc+jn]
					j := 0
					for ; j+4 <= jn; j += 4 {
						s := tile2x4(a0, a1, b[j*p+c0:j*p+c1], b[(j+1)*p+c0:(j+1)*p+c1], b[(j+2)*p+c0:(j+2)*p+c1], b[(j+3)*p+c0:(j+3)*p+c1])
						for r := 0; r < 4; r++ {
							c0row[j+r] += s[r]
							c1row[j+r] += s[4+r]
						}
					}
					for ; j < jn; j++ {
						bj := b[j*p+c0 : j*p+c1]
						c0row[j] += dotChunk(a0, bj)
						c1row[j] += dotChunk(a1, bj)
					}
				}
			}
		}(w)
	}
	wg.Wait()
}

// dotChunk sums x_l y_l in order with one accumulator. The conversions
// forbid fusing into FMA, which would round differently from tile2x4 on
// platforms that fuse.
func dotChunk(x, y []float64) float64 {
	y = y[:len(x)]
	var s float64
	for l, v := range x {
		s += float64(v * y[l])
	}
	return s
}

// tile2x4 returns the dot products of rows x0, x1 with rows y0..y3 (all of
// one length), each summed exactly as dotChunk does: [x0.y0 .. x0.y3,
// x1.y0 .. x1.y3]. Eight independent accumulators hide the add latency and
// six loads feed eight multiply-adds.
func tile2x4(x0, x1, y0, y1, y2, y3 []float64) [8]float64 {
	n := len(x0)
	x1, y0, y1, y2, y3 = x1[:n], y0[:n], y1[:n], y2[:n], y3[:n]
	var s00, s01, s02, s03, s10, s11, s12, s13 float64
	for l := 0; l < n; l++ {
		u, v := x0[l], x1[l]
		b0, b1, b2, b3 := y0[l], y1[l], y2[l], y3[l]
		s00 += float64(u * b0)
		s01 += float64(u * b1)
		s02 += float64(u * b2)
		s03 += float64(u * b3)
		s10 += float64(v * b0)
		s11 += float64(v * b1)
		s12 += float64(v * b2)
		s13 += float64(v * b3)
	}
	return [8]float64{s00, s01, s02, s03, s10, s11, s12, s13}
}
