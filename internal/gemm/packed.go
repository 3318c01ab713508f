package gemm

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
			tile2x4Go(k, a[r:], 1, Panel, b[jb:], Panel, c[r*ldc+j:], ldc)
		}
	}
}
