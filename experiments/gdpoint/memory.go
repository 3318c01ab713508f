package gdpoint

import (
	"fmt"
	"sort"

	"github.com/mhattn/mha/experiments/runner"
)

// Memory estimates a training point's peak memory (runner.MemoryFunc)
// from its sizes alone, allocating nothing: the data (train and test
// tokens, generated and kept), the graph's buffers (the composed and
// fused engines keep a few tensors of n T H T attention scores and of
// n T H d head values, forward and backward, for the larger of the train
// and test batches) and the parameters with their gradients and copies.
func Memory(c runner.Config) (float64, []string) { return memory(Of(c), false) }

// MemoryNTK is Memory for a point that also forms the NTK Gram matrix
// (n^2 entries) from per-sample gradients (n P).
func MemoryNTK(c runner.Config) (float64, []string) { return memory(Of(c), true) }

// Tensors of each shape the graph keeps at once (forward values and
// gradients, softmax, products, Gorgonia's intermediates): measured
// near 20 for the composed engine at n = 10^6 (generalization, 19.6 GB
// and growing), so 16 is a lower estimate of the peak that still refuses it.
const graphTensors = 16

func memory(c *Config, ntk bool) (float64, []string) {
	n, nt := float64(c.Data.Train), float64(c.Data.Test)
	T, d, H := float64(c.Data.Tokens), float64(c.Data.Dim), float64(c.Heads)
	P := 0.0
	if m, err := c.NewModel(); err == nil {
		for _, s := range m.Specs() {
			k := 1.0
			for _, x := range s.Shape {
				k *= float64(x)
			}
			P += k
		}
	} else {
		P = H * (d*d + T*d)
	}
	type term struct {
		name  string
		bytes float64
		from  string
	}
	batch := max(n, nt)
	ts := []term{
		{"data", 8 * 2 * (n + nt) * T * d, fmt.Sprintf("data.train = %d, data.test = %d, data.tokens = %d, data.dim = %d", c.Data.Train, c.Data.Test, c.Data.Tokens, c.Data.Dim)},
		{"graph buffers", 8 * graphTensors * batch * T * H * (T + d), fmt.Sprintf("max(data.train, data.test) = %.0f, data.tokens = %d, heads = %d, data.dim = %d", batch, c.Data.Tokens, c.Heads, c.Data.Dim)},
		{"parameters", 8 * 6 * P, fmt.Sprintf("%.3g parameters from heads = %d, data.dim = %d", P, c.Heads, c.Data.Dim)},
	}
	if ntk {
		ts = append(ts,
			term{"NTK Gram", 8 * n * n, fmt.Sprintf("data.train = %d squared", c.Data.Train)},
			term{"per-sample gradients", 8 * n * P, fmt.Sprintf("data.train = %d times %.3g parameters", c.Data.Train, P)})
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].bytes > ts[j].bytes })
	total := 0.0
	var out []string
	for _, t := range ts {
		total += t.bytes
		out = append(out, fmt.Sprintf("%s %s from %s", t.name, runner.FormatBytes(t.bytes), t.from))
	}
	return total, out
}
