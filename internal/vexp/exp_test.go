package vexp

import (
	"math"
	"math/rand/v2"
	"testing"
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
	saved := useFMA
	defer func() { useFMA = saved }()
	useFMA = false
	TestExpMatchesMath(t)
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
