package graph

import (
	"fmt"
	"math"
	"syscall"
	"testing"

	"github.com/mhattn/mha/internal/kernel"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/layers/ops"
)

// gdRun trains a fresh model for a few steps and returns the loss of every
// step, the last gradient and the final parameters.
func gdRun(t *testing.T, c layers.Config, n int, steps int) (losses, grad, theta []float64) {
	t.Helper()
	m := newModel(t, c, randomParams(t, c, 31), randomData(n, c.Tokens, c.Dim, 32))
	_, err := GD{StepSize: 0.3, Steps: steps}.Run(m, RecorderFunc(func(p Progress) error {
		losses = append(losses, p.Loss)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return losses, m.Gradient(nil), m.Params().Trainable(arch(nil, c), nil)
}

func sameBits(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v (bits differ)", what, i, got[i], want[i])
		}
	}
}

// The portable kernels compute the vectorized kernels' bits, so a GD run
// gives the same losses, gradient and parameters under both (issue 17).
func TestKernelsGiveSameBits(t *testing.T) {
	if !kernel.Available() {
		t.Skip("no AVX2/FMA: only the portable kernel runs here")
	}
	defer kernel.Use(kernel.Name())
	for _, c := range []layers.Config{
		{Heads: 3, Tokens: 5, Dim: 7},
		{Heads: 4, Tokens: 8, Dim: 8, Query: layers.FirstToken},
		{Heads: 3, Tokens: 5, Dim: 7, Engine: layers.EngineComposed},
		{Heads: 2, Tokens: 5, Dim: 4, Kind: layers.KindValue},
	} {
		t.Run(name(c), func(t *testing.T) {
			kernel.Use(kernel.Vectorized)
			lossV, gradV, thetaV := gdRun(t, c, 37, 5)
			kernel.Use(kernel.Portable)
			lossP, gradP, thetaP := gdRun(t, c, 37, 5)
			sameBits(t, "portable loss", lossP, lossV)
			sameBits(t, "portable gradient", gradP, gradV)
			sameBits(t, "portable theta", thetaP, thetaV)
		})
	}
}

// One step uses up to ops.Threads() goroutines and gives the same bits for
// any count (issue 18).
func TestThreadsGiveSameBits(t *testing.T) {
	defer ops.SetThreads(ops.Threads())
	for _, c := range []layers.Config{
		{Heads: 4, Tokens: 6, Dim: 5},
		{Heads: 3, Tokens: 4, Dim: 3, Query: layers.FirstToken, Train: layers.TrainW},
		// Large enough that the composed engine's products run in parts.
		{Heads: 8, Tokens: 16, Dim: 16, Engine: layers.EngineComposed},
		{Heads: 8, Tokens: 16, Dim: 16, Kind: layers.KindKQ},
	} {
		t.Run(name(c), func(t *testing.T) {
			var lossOne, gradOne, thetaOne []float64
			for _, n := range []int{1, 2, 3, 8} {
				if err := ops.SetThreads(n); err != nil {
					t.Fatal(err)
				}
				loss, grad, theta := gdRun(t, c, 70, 4)
				if n == 1 {
					lossOne, gradOne, thetaOne = loss, grad, theta
					continue
				}
				sameBits(t, fmt.Sprintf("loss with %d threads", n), loss, lossOne)
				sameBits(t, fmt.Sprintf("gradient with %d threads", n), grad, gradOne)
				sameBits(t, fmt.Sprintf("theta with %d threads", n), theta, thetaOne)
			}
		})
	}
}

// BenchmarkStepThreads times one full-batch GD step at the reference
// (n=512, T=16, d=32, H=16) and large (n=1024, H=64) sizes with 1 and 2
// goroutines for the fused attention op. Run with -cpu 2 (or more).
func BenchmarkStepThreads(b *testing.B) {
	defer ops.SetThreads(ops.Threads())
	for _, s := range []struct{ n, heads int }{{512, 16}, {1024, 64}} {
		b.Run(fmt.Sprintf("n%d_H%d", s.n, s.heads), func(b *testing.B) {
			c := layers.Config{Heads: s.heads, Tokens: 16, Dim: 32}
			m := newModel(b, c, randomParams(b, c, 1), randomData(s.n, 16, 32, 2))
			// The first step allocates the op's buffers once.
			if _, err := m.Step(1e-3); err != nil {
				b.Fatal(err)
			}
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("threads%d", threads), func(b *testing.B) {
					if err := ops.SetThreads(threads); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					cpu0 := cpuSeconds()
					for i := 0; i < b.N; i++ {
						if _, err := m.Step(1e-3); err != nil {
							b.Fatal(err)
						}
					}
					// CPU time, all threads: equal for 1 and 2 threads when the
					// parallel passes cost nothing extra; the machine may be shared.
					b.ReportMetric((cpuSeconds()-cpu0)*1e3/float64(b.N), "cpu-ms/op")
				})
			}
		})
	}
}

// cpuSeconds is the user and system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
