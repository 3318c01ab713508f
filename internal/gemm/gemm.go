package gemm

import (
	"fmt"
	"math"
)

// Block sizes: a kc x 8 strip of B (16 KiB) stays in L1 while mc/4 micro-
// blocks of A pass over it; an mc x kc block of A (128 KiB) stays in L2.
const (
	kc = 256
	mc = 64
)

// NN computes C = A B, or C += A B when acc is set. A is m x k with leading
// dimension lda, B is k x n (ldb), C is m x n (ldc).
func NN(m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	check("NN", m, n, k, len(a), (m-1)*lda+k, lda >= k, b, ldb, c, ldc)
	mul(m, n, k, a, lda, 1, b, ldb, c, ldc, acc)
}

// TN computes C = A^T B, or C += A^T B when acc is set. A is k x m with
// leading dimension lda (so A^T is m x k), B is k x n (ldb), C is m x n (ldc).
func TN(m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	check("TN", m, n, k, len(a), (k-1)*lda+m, lda >= m, b, ldb, c, ldc)
	mul(m, n, k, a, 1, lda, b, ldb, c, ldc, acc)
}

func check(name string, m, n, k, lenA, needA int, ldaOK bool, b []float64, ldb int, c []float64, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm.%s: negative size m=%d n=%d k=%d", name, m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	if !ldaOK || ldb < n || ldc < n {
		panic(fmt.Sprintf("gemm.%s: leading dimension too small for m=%d n=%d k=%d", name, m, n, k))
	}
	if k > 0 && (lenA < needA || len(b) < (k-1)*ldb+n) {
		panic(fmt.Sprintf("gemm.%s: A or B too short for m=%d n=%d k=%d", name, m, n, k))
	}
	if len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("gemm.%s: C too short for m=%d n=%d", name, m, n))
	}
}

// mul computes C (+)= op(A) B where op(A)[i, p] = a[i*rs + p*ks].
func mul(m, n, k int, a []float64, rs, ks int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	if !acc {
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	}
	if k == 0 {
		return
	}
	m4, n8 := m&^3, n&^7
	// With AVX-512, 8 x 16 tiles where they fit: the same chains.
	n16 := 0
	if wide() {
		n16 = n &^ 15
	}
	for p0 := 0; p0 < k; p0 += kc {
		kl := min(kc, k-p0)
		for i0 := 0; i0 < m4; i0 += mc {
			i1 := min(i0+mc, m4)
			i8 := i0 + (i1-i0)&^7
			for j := 0; j < n16; j += 16 {
				i := i0
				for ; i < i8; i += 8 {
					kernel8x16(kl, a[i*rs+p0*ks:], rs, ks, b[p0*ldb+j:], ldb, c[i*ldc+j:], ldc)
				}
				for ; i < i1; i += 4 {
					kernel4x8(kl, a[i*rs+p0*ks:], rs, ks, b[p0*ldb+j:], ldb, c[i*ldc+j:], ldc)
					kernel4x8(kl, a[i*rs+p0*ks:], rs, ks, b[p0*ldb+j+8:], ldb, c[i*ldc+j+8:], ldc)
				}
			}
			for j := n16; j < n8; j += 8 {
				for i := i0; i < i1; i += 4 {
					kernel4x8(kl, a[i*rs+p0*ks:], rs, ks, b[p0*ldb+j:], ldb, c[i*ldc+j:], ldc)
				}
			}
		}
		// Edges: the last m%4 rows, and the last n%8 columns of the others,
		// by the micro-kernel's rule (see the package doc).
		for i := 0; i < m; i++ {
			j0 := n8
			if i >= m4 {
				j0 = 0
			}
			for j := j0; j < n; j++ {
				var s float64
				for p := p0; p < p0+kl; p++ {
					s = math.FMA(a[i*rs+p*ks], b[p*ldb+j], s)
				}
				c[i*ldc+j] += s
			}
		}
	}
}

// kernel4x8Go is the portable micro-kernel: C[0:4, 0:8] += op(A)[0:4, 0:k] B[0:k, 0:8],
// each sum a chain of fused multiply-adds from zero in p order, added to C
// once: the operations of kernel4x8FMA, one lane at a time. It works in
// 2 x 4 tiles whose eight sums stay in registers; the tiling changes no
// element's chain, so not its bits.
func kernel4x8Go(k int, a []float64, rs, ks int, b []float64, ldb int, c []float64, ldc int) {
	for r := 0; r < 4; r += 2 {
		for j := 0; j < 8; j += 4 {
			tile2x4Go(k, a[r*rs:], rs, ks, b[j:], ldb, c[r*ldc+j:], ldc)
		}
	}
}

// tile2x4Go adds to C[0:2, 0:4] the sums s_ij = fma chain over p of
// a[i*rs+p*ks] b[p*ldb+j], from zero in p order, each added to C once:
// the portable kernels' one tile, for strided and packed operands alike.
func tile2x4Go(k int, a []float64, rs, ks int, b []float64, ldb int, c []float64, ldc int) {
	var s00, s01, s02, s03, s10, s11, s12, s13 float64
	for p := 0; p < k; p++ {
		x0, x1 := a[p*ks], a[rs+p*ks]
		bp := b[p*ldb : p*ldb+4]
		s00 = math.FMA(x0, bp[0], s00)
		s01 = math.FMA(x0, bp[1], s01)
		s02 = math.FMA(x0, bp[2], s02)
		s03 = math.FMA(x0, bp[3], s03)
		s10 = math.FMA(x1, bp[0], s10)
		s11 = math.FMA(x1, bp[1], s11)
		s12 = math.FMA(x1, bp[2], s12)
		s13 = math.FMA(x1, bp[3], s13)
	}
	c0, c1 := c[0:4], c[ldc:ldc+4]
	c0[0] += s00
	c0[1] += s01
	c0[2] += s02
	c0[3] += s03
	c1[0] += s10
	c1[1] += s11
	c1[2] += s12
	c1[3] += s13
}
