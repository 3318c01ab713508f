package gemm

import "math"

// Panel is the number of rows of a packed panel (see Dots8x16).
const Panel = 8

// Dots8x16 adds the dot products of 8 rows with 16 rows, all packed in
// panels of 8 over k terms: a[p*8+i] is term p of row i, b0[p*8+j] term p of
// row j and b1[p*8+j] term p of row 8+j. For i < 8 and j < 16 it computes
//
//	s = 0, s = fma(a[p*8+i], b[p][j], s) for p = 0..k-1 in order, C[i, j] += s
//
// the package's rule for one block, so an element's bits depend neither on
// the kernel (AVX-512, AVX2 or Go) nor on where the tile lies. C has
// leading dimension ldc. This is the tile of a Gram matrix: both operands
// stream contiguously, and from L1 the AVX-512 kernel runs at the
// machine's FMA rate.
func Dots8x16(k int, a, b0, b1 []float64, c []float64, ldc int) {
	if k <= 0 {
		return
	}
	_ = a[k*Panel-1]
	_ = b0[k*Panel-1]
	_ = b1[k*Panel-1]
	_ = c[7*ldc+15]
	dots8x16(k, a, b0, b1, c, ldc)
}

// dots8x16Go is the portable Dots8x16.
func dots8x16Go(k int, a, b0, b1 []float64, c []float64, ldc int) {
	for r := 0; r < Panel; r += 2 {
		for j := 0; j < 2*Panel; j += 4 {
			b, jb := b0, j
			if j >= Panel {
				b, jb = b1, j-Panel
			}
			var s00, s01, s02, s03, s10, s11, s12, s13 float64
			for p := 0; p < k; p++ {
				x0, x1 := a[p*Panel+r], a[p*Panel+r+1]
				bp := b[p*Panel+jb : p*Panel+jb+4]
				s00 = math.FMA(x0, bp[0], s00)
				s01 = math.FMA(x0, bp[1], s01)
				s02 = math.FMA(x0, bp[2], s02)
				s03 = math.FMA(x0, bp[3], s03)
				s10 = math.FMA(x1, bp[0], s10)
				s11 = math.FMA(x1, bp[1], s11)
				s12 = math.FMA(x1, bp[2], s12)
				s13 = math.FMA(x1, bp[3], s13)
			}
			c0, c1 := c[r*ldc+j:r*ldc+j+4], c[(r+1)*ldc+j:(r+1)*ldc+j+4]
			c0[0] += s00
			c0[1] += s01
			c0[2] += s02
			c0[3] += s03
			c1[0] += s10
			c1[1] += s11
			c1[2] += s12
			c1[3] += s13
		}
	}
}
