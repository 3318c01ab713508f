//go:build !amd64

package gemm

func dots8x16(k int, a, b0, b1 []float64, c []float64, ldc int) { dots8x16Go(k, a, b0, b1, c, ldc) }

var hasAVX512 bool

func cpuHasAVX512() bool { return false }

func wide() bool { return false }

func kernel8x16(k int, a []float64, rs, ks int, b []float64, ldb int, c []float64, ldc int) {
	panic("gemm: no wide kernel")
}
