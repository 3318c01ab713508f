package graph

import (
	"fmt"
	"testing"

	"github.com/mhattn/mha/layers"
)

// BenchmarkStep times one full-batch GD step (forward, backward, update) at
// the reference size n=512, T=16, d=32, on the fused op and on the
// composition of blocks.
func BenchmarkStep(b *testing.B) {
	for _, heads := range []int{1, 4, 16, 64} {
		for _, engine := range []string{layers.EngineFused, layers.EngineComposed} {
			b.Run(fmt.Sprintf("n512_T16_d32_H%d_%s", heads, engine), func(b *testing.B) {
				c := layers.Config{Heads: heads, Tokens: 16, Dim: 32, Engine: engine}
				m := newModel(b, c, randomParams(b, c, 1), randomData(512, 16, 32, 2))
				// The first run allocates the graph's buffers once.
				if _, err := m.Step(1e-3); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := m.Step(1e-3); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
