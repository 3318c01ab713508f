package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

func random(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// naive is C (+)= op(A) B by the definition, with op(A)[i,p] = a[i*rs+p*ks].
func naive(m, n, k int, a []float64, rs, ks int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += a[i*rs+p*ks] * b[p*ldb+j]
			}
			if acc {
				c[i*ldc+j] += s
			} else {
				c[i*ldc+j] = s
			}
		}
	}
}

func TestAgainstDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, n, k int }{
		{1, 1, 1}, {3, 5, 2}, {4, 8, 1}, {4, 8, 7}, {7, 9, 3}, {16, 16, 32}, {65, 24, 300}, {32, 40, 600}, {256, 16, 32}, {5, 17, 0},
	} {
		for _, trans := range []bool{false, true} {
			for _, acc := range []bool{false, true} {
				t.Run(fmt.Sprintf("%dx%dx%d/T%v/acc%v", s.m, s.n, s.k, trans, acc), func(t *testing.T) {
					// Leading dimensions wider than the matrices test strides.
					lda, ldb, ldc := s.k+3, s.n+2, s.n+5
					rs, ks := lda, 1
					if trans {
						lda = s.m + 3
						rs, ks = 1, lda
					}
					a := random(rng, max(s.m, s.k)*lda+1)
					b := random(rng, max(s.k, 1)*ldb)
					c := random(rng, s.m*ldc)
					want := append([]float64(nil), c...)
					naive(s.m, s.n, s.k, a, rs, ks, b, ldb, want, ldc, acc)
					if trans {
						TN(s.m, s.n, s.k, a, lda, b, ldb, c, ldc, acc)
					} else {
						NN(s.m, s.n, s.k, a, lda, b, ldb, c, ldc, acc)
					}
					for i := range c {
						if math.Abs(c[i]-want[i]) > 1e-12*math.Max(1, math.Abs(want[i])) {
							t.Fatalf("c[%d] = %v, want %v", i, c[i], want[i])
						}
					}
				})
			}
		}
	}
}

func TestPortableKernel(t *testing.T) {
	saved := useFMA
	defer func() { useFMA = saved }()
	useFMA = false
	TestAgainstDefinition(t)
}

// BenchmarkNN compares this package with gonum's Dgemm on the shapes of one
// attention step (reference size: n=512, T=16, d=32, H=16).
func BenchmarkNN(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{
		{256, 16, 32},   // logits of one sample: (T*H x d)(d x T)
		{256, 32, 16},   // one sample's dQ: (T*H x T)(T x d)
		{16, 512, 32},   // one sample's queries: (T x d)(d x H*d)
		{512, 512, 512}, // large square, for the machine's GEMM rate
	} {
		rng := rand.New(rand.NewPCG(3, 4))
		x, y, z := random(rng, s.m*s.k), random(rng, s.k*s.n), make([]float64, s.m*s.n)
		flops := 2 * float64(s.m*s.n*s.k)
		b.Run(fmt.Sprintf("own/%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				NN(s.m, s.n, s.k, x, s.k, y, s.n, z, s.n, false)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("gonum/%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			A := blas64.General{Rows: s.m, Cols: s.k, Stride: s.k, Data: x}
			B := blas64.General{Rows: s.k, Cols: s.n, Stride: s.n, Data: y}
			C := blas64.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: z}
			for i := 0; i < b.N; i++ {
				blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, A, B, 0, C)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
