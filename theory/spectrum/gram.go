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
// 2 x block x P gradient numbers are held at once (block rounded up to a
// multiple of 16, plus 8 P numbers in which Write fills 8 rows at a time). Each pair of blocks
// must meet in the buffers once; the schedule keeps the last visitor
// resident for the next round, so blocks are written 1 + nb (nb - 1) / 2
// times for nb = ceil(N / block) (the plain i, j <= i loop takes
// nb (nb + 1) / 2). Choose block as large as memory allows: block >= N is
// the one-shot Gram with one write. A block is written 8 samples at a time
// (Write never gets more than 8 rows), each group packed for the products
// while it is in cache.
//
// Each entry is a dot product of two whole rows summed in an order fixed
// by P alone (chunks of gramChunk in sequence, each a chain of fused
// multiply-adds through gemm.Dots8x16, whose AVX-512, AVX2 and Go kernels
// give the same bits), whatever the block size and the number of
// goroutines, so the result is reproducible bit for bit and equal to the
// one-shot Gram; the lower triangle is computed and mirrored, so K is
// exactly symmetric. The NTK margin is theory.MinNormPoint(K, N, 0) on the
// labelled Gram.
//
// The two block buffers go back to a pool when Gram returns, so repeated
// calls (along a GD path, in a benchmark) do not pay a page fault per
// 4 KiB of fresh memory; the pool lets them go after garbage collections.
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
	// Two buffers: the resident block a and the visiting block b, packed
	// (see products) with room for zero rows up to a multiple of 16.
	size := (block + 15) &^ 15 * p
	bufA := getBlock(size)
	defer putBlock(bufA)
	var bufB []float64
	if block < n {
		bufB = getBlock(size)
		defer putBlock(bufB)
	}
	var buf scratch
	// write fills dst with block blk, packed: panel by panel of 8 rows,
	// each written into a staging buffer (which stays in cache), checked
	// and interleaved into place.
	write := func(blk int, dst []float64) error {
		i0, i1 := blk*block, min((blk+1)*block, n)
		stage := buf.get(&buf.stage, gemm.Panel*p)
		r16 := (i1 - i0 + 15) &^ 15
		for q0 := 0; q0 < r16; q0 += gemm.Panel {
			panel := dst[q0*p : (q0+gemm.Panel)*p]
			nr := min(max(i1-i0-q0, 0), gemm.Panel)
			if nr == 0 {
				clear(panel)
				continue
			}
			rows := stage[:nr*p]
			if err := g.Write(i0+q0, i0+q0+nr, rows); err != nil {
				return err
			}
			if !allFinite(rows) {
				for i, x := range rows {
					if math.IsNaN(x) || math.IsInf(x, 0) {
						return fmt.Errorf("spectrum: gradient of sample %d has %v at entry %d", i0+q0+i/p, x, i%p)
					}
				}
			}
			clear(stage[nr*p:])
			interleave(panel, stage, p)
		}
		return nil
	}
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

// gramChunk is the number of terms of the rows multiplied at a time: one
// K-block of internal/gemm, so that a chunk of every panel stays in cache
// while all pairs use it.
const gramChunk = 256

// products writes c[i*ldc+j] = <a_i, b_j> for the rows a_i (ra of them) and
// b_j (rb) of length p, both packed by interleave; with lower set (a and b
// the same block) only j <= i is needed.
//
// Every 8 x 16 tile of the block comes from gemm.Dots8x16, chunk by chunk
// of gramChunk terms in order: the terms of a chunk chained by fused
// multiply-adds, added to the entry. An entry's value thus depends on p
// alone, not on the block shapes, the kernel nor the goroutines, which
// share out the panels of a. The b panel pair of a chunk (32 KiB) stays in
// L1 while the a panels of the chunk pass over it.
func (s *scratch) products(c []float64, ldc int, a []float64, ra int, b []float64, rb int, p int, lower bool) {
	const w = gemm.Panel
	ra8, rb16 := (ra+w-1)&^(w-1), (rb+15)&^15
	out := s.get(&s.out, ra8*rb16)
	clear(out)
	panels := ra8 / w
	workers := min(runtime.GOMAXPROCS(0), panels)
	tiles := func(worker, c0, kl int) {
		for j0 := 0; j0 < rb16; j0 += 16 {
			b0, b1 := b[j0*p+w*c0:j0*p+w*(c0+kl)], b[(j0+w)*p+w*c0:(j0+w)*p+w*(c0+kl)]
			// Interleaved panels balance the triangle.
			for q := worker; q < panels; q += workers {
				i0 := q * w
				if lower && j0 > i0+w-1 {
					continue
				}
				gemm.Dots8x16(kl, a[i0*p+w*c0:i0*p+w*(c0+kl)], b0, b1, out[i0*rb16+j0:], rb16)
			}
		}
	}
	for c0 := 0; c0 < p; c0 += gramChunk {
		kl := min(gramChunk, p-c0)
		if workers <= 1 {
			tiles(0, c0, kl)
			continue
		}
		var wg sync.WaitGroup
		for worker := 0; worker < workers; worker++ {
			wg.Add(1)
			go func(worker int) {
				defer wg.Done()
				tiles(worker, c0, kl)
			}(worker)
		}
		wg.Wait()
	}
	for i := 0; i < ra; i++ {
		jn := rb
		if lower {
			jn = i + 1
		}
		copy(c[i*ldc:i*ldc+jn], out[i*rb16:i*rb16+jn])
	}
}

// interleave writes the 8 rows of length p in rows (row-major) into the
// panel of gemm.Panel = 8 rows, term by term: term l of row i at
// panel[8l + i]. A block is a sequence of such panels, 8 p numbers each, so
// that the terms [c0, c0+kl) of the panel of rows 8q.. are the contiguous
// blk[8q*p+8c0 : 8q*p+8(c0+kl)] that gemm.Dots8x16 reads.
func interleave(panel, rows []float64, p int) {
	const w = gemm.Panel
	r0, r1, r2, r3 := rows[0:p], rows[p:2*p], rows[2*p:3*p], rows[3*p:4*p]
	r4, r5, r6, r7 := rows[4*p:5*p], rows[5*p:6*p], rows[6*p:7*p], rows[7*p:8*p]
	for l := range r0 {
		t := panel[l*w : l*w+w]
		t[0], t[1], t[2], t[3] = r0[l], r1[l], r2[l], r3[l]
		t[4], t[5], t[6], t[7] = r4[l], r5[l], r6[l], r7[l]
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
type scratch struct{ out, stage []float64 }

func (s *scratch) get(b *[]float64, n int) []float64 {
	if cap(*b) < n {
		*b = make([]float64, n)
	}
	return (*b)[:n]
}

// blocks keeps the block buffers of Gram between calls: a fresh buffer of
// block x P numbers costs a page fault per 4 KiB on first touch, as much
// as computing its gradients. The pool drops them after garbage
// collections, as any sync.Pool.
var blocks sync.Pool

func getBlock(size int) []float64 {
	if b, ok := blocks.Get().(*[]float64); ok && cap(*b) >= size {
		return (*b)[:size]
	}
	return make([]float64, size)
}

func putBlock(b []float64) { blocks.Put(&b) }

// allFinite reports whether every x is finite: x - x is 0 for finite x and
// NaN for an infinity or NaN, and a NaN stays in the sums.
func allFinite(x []float64) bool {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] - x[i]
		s1 += x[i+1] - x[i+1]
		s2 += x[i+2] - x[i+2]
		s3 += x[i+3] - x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] - x[i]
	}
	return s0+s1+s2+s3 == 0
}
