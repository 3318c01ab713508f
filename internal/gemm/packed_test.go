package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mhattn/mha/internal/kernel"
)

// dotsRule is Dots8x16 by its rule, element by element.
func dotsRule(k int, a, b0, b1, c []float64, ldc int) {
	for i := 0; i < Panel; i++ {
		for j := 0; j < 2*Panel; j++ {
			b, jb := b0, j
			if j >= Panel {
				b, jb = b1, j-Panel
			}
			var s float64
			for p := 0; p < k; p++ {
				s = math.FMA(a[p*Panel+i], b[p*Panel+jb], s)
			}
			c[i*ldc+j] += s
		}
	}
}

// TestDots8x16 checks every kernel this machine runs against the rule,
// bit for bit, and the rule against the plain sum.
func TestDots8x16(t *testing.T) {
	defer kernel.Use(kernel.Auto)
	defer func(saved bool) { hasAVX512 = saved }(hasAVX512)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, name := range []string{kernel.Auto, kernel.Portable} {
		if err := kernel.Use(name); err != nil {
			t.Fatal(err)
		}
		for _, avx512 := range []bool{false, true} {
			if avx512 && !cpuHasAVX512() {
				continue
			}
			hasAVX512 = avx512
			for _, k := range []int{1, 2, 7, 256, 300} {
				t.Run(fmt.Sprintf("%s/avx512=%v/k=%d", name, avx512, k), func(t *testing.T) {
					const ldc = 19
					a, b0, b1 := random(rng, k*Panel), random(rng, k*Panel), random(rng, k*Panel)
					c := random(rng, 8*ldc)
					want := append([]float64(nil), c...)
					dotsRule(k, a, b0, b1, want, ldc)
					plain := append([]float64(nil), c...)
					naive(Panel, Panel, k, a, 1, Panel, b0, Panel, plain, ldc, true)
					naive(Panel, Panel, k, a, 1, Panel, b1, Panel, plain[Panel:], ldc, true)
					Dots8x16(k, a, b0, b1, c, ldc)
					for i := range c {
						if math.Float64bits(c[i]) != math.Float64bits(want[i]) {
							t.Fatalf("c[%d] = %v, rule gives %v", i, c[i], want[i])
						}
						if math.Abs(c[i]-plain[i]) > 1e-12*float64(k) {
							t.Fatalf("c[%d] = %v, plain sum %v", i, c[i], plain[i])
						}
					}
				})
			}
		}
	}
}

// BenchmarkDots8x16 times one tile from L1 (8 x 16 x 256 FMAs) on each
// kernel the machine has.
func BenchmarkDots8x16(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	const k = 256
	x, y0, y1, z := random(rng, k*Panel), random(rng, k*Panel), random(rng, k*Panel), make([]float64, 8*16)
	defer func(saved bool) { hasAVX512 = saved }(hasAVX512)
	for _, avx512 := range []bool{true, false} {
		if avx512 && !cpuHasAVX512() {
			continue
		}
		b.Run(fmt.Sprint("avx512=", avx512), func(b *testing.B) {
			hasAVX512 = avx512
			for b.Loop() {
				Dots8x16(k, x, y0, y1, z, 16)
			}
			b.ReportMetric(2*8*16*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// NN and TN give the same bits with the AVX-512 tiles as with the AVX2
// kernel alone, on sizes that mix 8 x 16 tiles, 4 x 8 tiles and edges.
func TestWideMatchesAVX2Bits(t *testing.T) {
	if !cpuHasAVX512() || !kernel.Available() {
		t.Skip("no AVX-512 here: the 8 x 16 tiles never run")
	}
	defer kernel.Use(kernel.Auto)
	defer func(saved bool) { hasAVX512 = saved }(hasAVX512)
	if err := kernel.Use(kernel.Vectorized); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	sizes := []struct{ m, n, k int }{{8, 16, 1}, {8, 16, 256}, {8, 16, 257}, {16, 512, 32}, {256, 16, 32}, {256, 32, 16}, {32, 32, 16}, {75, 130, 300}, {12, 24, 5}}
	for i := 0; i < 100; i++ {
		sizes = append(sizes, struct{ m, n, k int }{rng.IntN(90), rng.IntN(90), rng.IntN(300)})
	}
	for _, s := range sizes {
		for _, trans := range []bool{false, true} {
			lda, ldb, ldc := s.k+rng.IntN(3), s.n+rng.IntN(3), s.n+rng.IntN(3)
			if trans {
				lda = s.m + rng.IntN(3)
			}
			a := random(rng, max(s.m, s.k)*max(lda, 1)+1)
			b := random(rng, max(s.k, 1)*max(ldb, 1))
			c := random(rng, max(s.m, 1)*max(ldc, 1))
			var out [2][]float64
			for w, avx512 := range []bool{true, false} {
				hasAVX512 = avx512
				out[w] = append([]float64(nil), c...)
				if trans {
					TN(s.m, s.n, s.k, a, lda, b, ldb, out[w], ldc, true)
				} else {
					NN(s.m, s.n, s.k, a, lda, b, ldb, out[w], ldc, true)
				}
			}
			for j := range out[0] {
				if math.Float64bits(out[0][j]) != math.Float64bits(out[1][j]) {
					t.Fatalf("%+v trans=%v: c[%d] = %v with AVX-512, %v with AVX2", s, trans, j, out[0][j], out[1][j])
				}
			}
		}
	}
}
