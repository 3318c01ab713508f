//go:build !amd64

package gemm

func kernel4x8(k int, a []float64, rs, ks int, b []float64, ldb int, c []float64, ldc int) {
	kernel4x8Go(k, a, rs, ks, b, ldb, c, ldc)
}
