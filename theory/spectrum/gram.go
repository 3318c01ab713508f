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
	// Two buffers: the resident block a and the visiting block b.
	bufA := getBlock(block * p)
	defer putBlock(bufA)
	var bufB []float64
	if block < n {
		bufB = getBlock(block * p)
		defer putBlock(bufB)
	}
	write := func(blk int, dst []float64) error {
		i0, i1 := blk*block, min((blk+1)*block, n)
		dst = dst[:(i1-i0)*p]
		if err := g.Write(i0, i1, dst); err != nil {
			return err
		}
		if allFinite(dst) {
			return nil
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
// Chunk by chunk of columns, the rows of a and b are packed into panels of
// 8 rows (gemm.Panel: term l of row 8q+r at panel q, l*8+r), zero rows
// padding a to a multiple of 8 and b to one of 16, and every 8 x 16 tile
// of the block comes from gemm.Dots8x16: the terms of the chunk chained
// by fused multiply-adds in order, added to the entry. An entry's value
// thus depends on p alone, not on the block shapes, the kernel nor the
// goroutines, which share out the panels of a; all operands of a tile
// stream contiguously (a b panel pair, 32 KiB, stays in L1 while the a
// panels pass over it). Packing costs O((ra + rb) p), the products
// O(ra rb p).
func (s *scratch) products(c []float64, ldc int, a []float64, ra int, b []float64, rb int, p int, lower bool) {
	ra8, rb16 := (ra+7)&^7, (rb+15)&^15
	out := s.get(&s.out, ra8*rb16)
	clear(out)
	// With lower set, a is b: one packing, padded to b's 16-row panels.
	aRows := ra8
	if lower {
		aRows = rb16
	}
	at := s.get(&s.at, aRows*gramChunk)
	bt := at
	if !lower {
		bt = s.get(&s.bt, rb16*gramChunk)
	}
	panels := ra8 / gemm.Panel
	workers := min(runtime.GOMAXPROCS(0), panels)
	tiles := func(w, kl int) {
		for j0 := 0; j0 < rb16; j0 += 16 {
			b0, b1 := bt[j0*kl:(j0+8)*kl], bt[(j0+8)*kl:(j0+16)*kl]
			// Interleaved panels balance the triangle.
			for q := w; q < panels; q += workers {
				i0 := q * gemm.Panel
				if lower && j0 > i0+gemm.Panel-1 {
					continue
				}
				gemm.Dots8x16(kl, at[i0*kl:(i0+8)*kl], b0, b1, out[i0*rb16+j0:], rb16)
			}
		}
	}
	for c0 := 0; c0 < p; c0 += gramChunk {
		kl := min(gramChunk, p-c0)
		pack(at[:aRows*kl], a, ra, p, c0, kl)
		if !lower {
			pack(bt[:rb16*kl], b, rb, p, c0, kl)
		}
		if workers <= 1 {
			tiles(0, kl)
			continue
		}
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				tiles(w, kl)
			}(w)
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

// pack writes columns [c0, c0+kl) of the rows (each p long, r of them)
// into dst in panels of gemm.Panel rows, term l of row 8q+i at
// dst[q*kl*8 + l*8 + i], and zeros for the rows from r to len(dst)/kl.
func pack(dst, rows []float64, r, p, c0, kl int) {
	const w = gemm.Panel
	full := r / w * w
	for i0 := 0; i0 < full; i0 += w {
		panel := dst[i0*kl : (i0+w)*kl]
		r0, r1, r2, r3 := rows[i0*p+c0:], rows[(i0+1)*p+c0:], rows[(i0+2)*p+c0:], rows[(i0+3)*p+c0:]
		r4, r5, r6, r7 := rows[(i0+4)*p+c0:], rows[(i0+5)*p+c0:], rows[(i0+6)*p+c0:], rows[(i0+7)*p+c0:]
		for l := 0; l < kl; l++ {
			t := panel[l*w : l*w+w]
			t[0], t[1], t[2], t[3] = r0[l], r1[l], r2[l], r3[l]
			t[4], t[5], t[6], t[7] = r4[l], r5[l], r6[l], r7[l]
		}
	}
	clear(dst[full*kl:])
	for i := full; i < r; i++ {
		panel := dst[full*kl:]
		for l, v := range rows[i*p+c0 : i*p+c0+kl] {
			panel[l*w+i-full] = v
		}
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
