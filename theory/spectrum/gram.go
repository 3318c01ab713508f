package spectrum

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/mhattn/mha/internal/gemm"
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
// blocks of block samples with two block buffers, so at most
// 2 x block x P gradient numbers are held at once. Each pair of blocks
// must meet in the buffers once; the schedule keeps the last visitor
// resident for the next round, so blocks are written 1 + nb (nb - 1) / 2
// times for nb = ceil(N / block) (the plain i, j <= i loop takes
// nb (nb + 1) / 2). Choose block as large as memory allows: block >= N is
// the one-shot Gram with one write.
//
// Each entry is a dot product of two whole rows summed in an order fixed
// by P alone (chunks of gramChunk in sequence, each through the same
// micro-kernel), whatever the block size and the number of goroutines, so
// the result is reproducible bit for bit and equal to the one-shot Gram; the lower triangle is computed and
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
	// Two buffers: the resident block a and the visiting block b.
	bufA := make([]float64, block*p)
	var bufB []float64
	if block < n {
		bufB = make([]float64, block*p)
	}
	write := func(blk int, dst []float64) error {
		i0, i1 := blk*block, min((blk+1)*block, n)
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
	var buf scratch
	// pair fills K[rows of block hi, columns of block lo] for hi >= lo.
	pair := func(hi, lo int, rows, cols []float64) {
		i0, i1 := hi*block, min((hi+1)*block, n)
		j0, j1 := lo*block, min((lo+1)*block, n)
		buf.products(k[i0*n+j0:], n, rows, i1-i0, cols, j1-j0, p, hi == lo)
	}
	// The schedule: block 0 stays while blocks 1..nb-1 visit (their
	// diagonal blocks are done then); the last visitor stays while blocks
	// 1..a-1 visit, and so on down to block 1. Every pair meets once.
	nb := (n + block - 1) / block
	if err := write(0, bufA); err != nil {
		return nil, err
	}
	pair(0, 0, bufA, bufA)
	for a, first := 0, true; ; first = false {
		last := a - 1
		if first {
			last = nb - 1
		}
		if last < 1 {
			break
		}
		for b := 1; b <= last; b++ {
			if err := write(b, bufB); err != nil {
				return nil, err
			}
			pair(max(a, b), min(a, b), rowsOf(a, b, bufA, bufB), colsOf(a, b, bufA, bufB))
			if first {
				pair(b, b, bufB, bufB)
			}
		}
		a = last
		bufA, bufB = bufB, bufA
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

// gramChunk is the number of columns of the row blocks multiplied at a
// time: one K-block of internal/gemm, so a chunk of every row stays in
// cache while all pairs use it.
const gramChunk = 256

// products writes c[i*ldc+j] = <a_i, b_j> for the rows a_i (ra of them) and
// b_j (rb) of length p; with lower set (a and b the same block) only
// j <= i is needed.
//
// Chunk by chunk of columns, the rows of a are copied into a buffer padded
// with zero rows to a multiple of 4, and those of b transposed into panels
// of 8 (kl x 8, contiguous, zero-padded), so that every entry comes from
// internal/gemm's 4 x 8 micro-kernel, never its edge code, and sums the
// same way: chunk after chunk, and within a chunk in the kernel's order.
// An entry's value thus depends on p alone, not on the block shapes nor on
// the goroutines, which share out strips of 4 rows. A panel (16 KiB)
// stays in L1 while the strips pass over it.
func (s *scratch) products(c []float64, ldc int, a []float64, ra int, b []float64, rb int, p int, lower bool) {
	ra4, rb8 := (ra+3)&^3, (rb+7)&^7
	out := s.get(&s.out, ra4*rb8)
	clear(out)
	at := s.get(&s.at, ra4*gramChunk)
	bt := s.get(&s.bt, gramChunk*rb8)
	strips := ra4 / 4
	workers := min(runtime.GOMAXPROCS(0), strips)
	for c0 := 0; c0 < p; c0 += gramChunk {
		kl := min(gramChunk, p-c0)
		for i := 0; i < ra; i++ {
			copy(at[i*kl:(i+1)*kl], a[i*p+c0:i*p+c0+kl])
		}
		clear(at[ra*kl : ra4*kl])
		for j := 0; j < rb; j++ {
			panel := bt[(j/8)*kl*8:]
			for l, v := range b[j*p+c0 : j*p+c0+kl] {
				panel[l*8+j%8] = v
			}
		}
		for j := rb; j < rb8; j++ {
			panel := bt[(j/8)*kl*8:]
			for l := 0; l < kl; l++ {
				panel[l*8+j%8] = 0
			}
		}
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for j0 := 0; j0 < rb8; j0 += 8 {
					panel := bt[(j0/8)*kl*8 : (j0/8+1)*kl*8]
					// Interleaved strips balance the triangle.
					for s := w; s < strips; s += workers {
						i0 := 4 * s
						if lower && j0 >= i0+4 {
							continue
						}
						gemm.NN(4, 8, kl, at[i0*kl:], kl, panel, 8, out[i0*rb8+j0:], rb8, true)
					}
				}
			}(w)
		}
		wg.Wait()
	}
	for i := 0; i < ra; i++ {
		jn := rb
		if lower {
			jn = i + 1
		}
		copy(c[i*ldc:i*ldc+jn], out[i*rb8:i*rb8+jn])
	}
}

// rowsOf and colsOf return the buffers of the higher and the lower of the
// resident block a (in bufA) and the visitor b (in bufB).
func rowsOf(a, b int, bufA, bufB []float64) []float64 {
	if a > b {
		return bufA
	}
	return bufB
}

func colsOf(a, b int, bufA, bufB []float64) []float64 {
	if a > b {
		return bufB
	}
	return bufA
}

// scratch holds the padded buffers of products across calls.
type scratch struct{ out, at, bt []float64 }

func (s *scratch) get(b *[]float64, n int) []float64 {
	if cap(*b) < n {
		*b = make([]float64, n)
	}
	return (*b)[:n]
}
