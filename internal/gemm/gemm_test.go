package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mhattn/mha/internal/kernel"

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
	saved := kernel.Name()
	defer kernel.Use(saved)
	if err := kernel.Use(kernel.Portable); err != nil {
		t.Fatal(err)
	}
	TestAgainstDefinition(t)
}

// run computes NN or TN under the named kernel into a copy of c.
func run(t *testing.T, name string, trans bool, m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) []float64 {
	t.Helper()
	if err := kernel.Use(name); err != nil {
		t.Fatal(err)
	}
	out := append([]float64(nil), c...)
	if trans {
		TN(m, n, k, a, lda, b, ldb, out, ldc, acc)
	} else {
		NN(m, n, k, a, lda, b, ldb, out, ldc, acc)
	}
	return out
}

// The portable kernel must give the vectorized kernel's bits exactly, on
// every size (edges not multiples of 4 or 8, k = 0, k beyond one K block),
// with and without accumulation.
func TestPortableMatchesVectorizedBits(t *testing.T) {
	if !kernel.Available() {
		t.Skip("no AVX2/FMA: only the portable kernel runs here")
	}
	saved := kernel.Name()
	defer kernel.Use(saved)
	rng := rand.New(rand.NewPCG(5, 6))
	sizes := []struct{ m, n, k int }{{0, 3, 2}, {3, 0, 2}, {5, 9, 0}, {1, 1, 1}, {4, 8, 1}, {4, 8, 256}, {4, 8, 257}, {9, 17, 513}, {256, 16, 32}, {16, 512, 32}}
	for i := 0; i < 300; i++ {
		sizes = append(sizes, struct{ m, n, k int }{rng.IntN(40), rng.IntN(40), rng.IntN(40)})
	}
	for i := 0; i < 20; i++ {
		sizes = append(sizes, struct{ m, n, k int }{1 + rng.IntN(70), 1 + rng.IntN(70), 200 + rng.IntN(400)})
	}
	for _, s := range sizes {
		for _, trans := range []bool{false, true} {
			for _, acc := range []bool{false, true} {
				lda, ldb, ldc := s.k+rng.IntN(3), s.n+rng.IntN(3), s.n+rng.IntN(3)
				if trans {
					lda = s.m + rng.IntN(3)
				}
				a := random(rng, max(s.m, s.k)*max(lda, 1)+1)
				b := random(rng, max(s.k, 1)*max(ldb, 1))
				c := random(rng, max(s.m, 1)*max(ldc, 1))
				// Scale some entries so that sums cancel and round.
				for j := range a {
					if rng.IntN(7) == 0 {
						a[j] *= 1e8
					}
				}
				vec := run(t, kernel.Vectorized, trans, s.m, s.n, s.k, a, lda, b, ldb, c, ldc, acc)
				port := run(t, kernel.Portable, trans, s.m, s.n, s.k, a, lda, b, ldb, c, ldc, acc)
				for j := range vec {
					if math.Float64bits(vec[j]) != math.Float64bits(port[j]) {
						t.Fatalf("%+v trans=%v acc=%v: c[%d] = %v vectorized, %v portable", s, trans, acc, j, vec[j], port[j])
					}
				}
			}
		}
	}
}

// A row of C is the same bits whether it is computed alone or inside a
// bigger product (on the micro-kernel or an edge), so callers may chunk.
func TestRowsIndependentOfShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, n, k := 13, 21, 300
	a, b := random(rng, m*k), random(rng, k*n)
	all := make([]float64, m*n)
	NN(m, n, k, a, k, b, n, all, n, false)
	for i := 0; i < m; i++ {
		row := make([]float64, n)
		NN(1, n, k, a[i*k:], k, b, n, row, n, false)
		for j := range row {
			if math.Float64bits(row[j]) != math.Float64bits(all[i*n+j]) {
				t.Fatalf("C[%d,%d] = %v alone, %v in the whole product", i, j, row[j], all[i*n+j])
			}
		}
	}
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
