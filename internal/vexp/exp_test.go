package vexp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mhattn/mha/internal/kernel"
)

func TestExpMatchesMath(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	src := []float64{0, -0.5, 0.5, 1, -1, math.Ln2 / 2, -math.Ln2 / 2, -700, -707.9, 709, 700, -1e-300, 1e-17, -20, -745, -800, math.Inf(-1), -1e10}
	for i := 0; i < 4000; i++ {
		src = append(src, -750*rng.Float64(), 20*rng.NormFloat64(), rng.NormFloat64())
	}
	dst := make([]float64, len(src))
	Exp(dst, src)
	for i, x := range src {
		want := math.Exp(x)
		if x < lowest {
			if dst[i] != 0 {
				t.Errorf("exp(%v) = %v, want 0 below the clamp", x, dst[i])
			}
			continue
		}
		if math.Abs(dst[i]-want) > 4e-16*want {
			t.Errorf("exp(%v) = %v, math.Exp %v (relative %.3g)", x, dst[i], want, (dst[i]-want)/want)
		}
	}
}

func TestExpNaN(t *testing.T) {
	src := []float64{math.NaN(), 0, math.NaN(), -3, math.NaN()}
	dst := make([]float64, len(src))
	Exp(dst, src)
	for i, x := range src {
		if math.IsNaN(x) != math.IsNaN(dst[i]) {
			t.Errorf("exp(%v) = %v", x, dst[i])
		}
	}
}

func TestExpPortable(t *testing.T) {
	saved := kernel.Name()
	defer kernel.Use(saved)
	if err := kernel.Use(kernel.Portable); err != nil {
		t.Fatal(err)
	}
	TestExpMatchesMath(t)
	TestExpNaN(t)
}

// expInputs covers the whole range: ordinary arguments, both clamps and
// their neighbours, infinities, NaN, tiny and huge magnitudes, and
// arguments whose results sit at the bottom of the normal range.
func expInputs() []float64 {
	rng := rand.New(rand.NewPCG(3, 3))
	src := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, math.Ln2 / 2, -math.Ln2 / 2, math.Ln2, -math.Ln2,
		lowest, math.Nextafter(lowest, 0), math.Nextafter(lowest, -1000), highest, math.Nextafter(highest, 0), math.Nextafter(highest, 1000),
		-707.99, -707.5, 708.5, 709.5, 709.78, 710, 800, 1e10, math.MaxFloat64, -math.MaxFloat64, -745, -745.2, -746, -1e10,
		math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 1e-300, -1e-300, 1e-17, -1e-17}
	for k := -1100; k <= 1100; k++ {
		x := float64(k) * math.Ln2 / 1.5 // near every binade's boundary, and halfway cases of the rounding
		src = append(src, x, math.Nextafter(x, math.Inf(1)), math.Nextafter(x, math.Inf(-1)), float64(k)*math.Ln2/2)
	}
	for i := 0; i < 20000; i++ {
		src = append(src, -800*rng.Float64(), 1500*(rng.Float64()-0.5), 20*rng.NormFloat64(), rng.NormFloat64(), 1e-8*rng.NormFloat64(),
			math.Float64frombits(rng.Uint64())) // any bit pattern: NaNs, infinities, subnormals
	}
	return src
}

// The portable kernel gives the vectorized kernel's bits on every input;
// lanes are shuffled across slice positions so that both the assembly and
// the scalar tail see every value.
func TestPortableMatchesVectorizedBits(t *testing.T) {
	if !kernel.Available() {
		t.Skip("no AVX2/FMA: only the portable kernel runs here")
	}
	saved := kernel.Name()
	defer kernel.Use(saved)
	src := expInputs()
	for _, offset := range []int{0, 1, 2, 3} {
		in := src[offset:]
		vec, port := make([]float64, len(in)), make([]float64, len(in))
		kernel.Use(kernel.Vectorized)
		Exp(vec, in)
		kernel.Use(kernel.Portable)
		Exp(port, in)
		for i, x := range in {
			if math.IsNaN(vec[i]) && math.IsNaN(port[i]) {
				continue
			}
			if math.Float64bits(vec[i]) != math.Float64bits(port[i]) {
				t.Fatalf("exp(%v) (bits %#x) = %v vectorized, %v portable", x, math.Float64bits(x), vec[i], port[i])
			}
		}
	}
}

func BenchmarkExp(b *testing.B) {
	src := make([]float64, 4096)
	for i := range src {
		src[i] = -float64(i%64) / 4
	}
	dst := make([]float64, len(src))
	b.Run("vexp", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			Exp(dst, src)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/exp")
	})
	b.Run("math", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, x := range src {
				dst[j] = math.Exp(x)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/exp")
	})
}
