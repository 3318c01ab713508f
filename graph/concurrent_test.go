package graph

import (
	"math"
	"sync"
	"testing"

	"github.com/mhattn/mha/layers"
)

// Sweep points run Models in parallel goroutines: nothing mutable may be
// shared between graphs, so concurrent runs must match sequential ones bit
// for bit.
func TestConcurrentModelsMatchSequential(t *testing.T) {
	c := layers.Config{Heads: 4, Tokens: 8, Dim: 8}
	data := randomData(24, 8, 8, 30)
	run := func(seed uint64) []float64 {
		m, err := NewModel(arch(t, c), randomParams(t, c, seed), data)
		if err != nil {
			t.Error(err)
			return nil
		}
		if _, err := (GD{StepSize: 0.1, Steps: 15}).Run(m, nil); err != nil {
			t.Error(err)
		}
		return m.Params().Trainable(arch(t, c), nil)
	}
	const points = 4
	want := make([][]float64, points)
	for p := range want {
		want[p] = run(uint64(p))
	}
	got := make([][]float64, points)
	var wg sync.WaitGroup
	for p := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[p] = run(uint64(p))
		}()
	}
	wg.Wait()
	for p := range want {
		for i := range want[p] {
			if math.Float64bits(got[p][i]) != math.Float64bits(want[p][i]) {
				t.Fatalf("point %d, theta[%d]: %v concurrently, %v alone", p, i, got[p][i], want[p][i])
			}
		}
	}
}
