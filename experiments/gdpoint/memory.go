package gdpoint

import (
	"fmt"
	"sort"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
)

// Memory estimates a training point's peak memory (runner.MemoryFunc)
// from its sizes alone, allocating nothing: the data (train and test
// tokens, generated and kept), the graph's buffers (the composed and
// fused engines keep a few tensors of B T H T attention scores and of
// B T H d head values, forward and backward, where B is the samples the
// compiled graphs of the larger of the train and test sets hold: n when
// n <= chunk_samples, else chunk_samples plus the n mod chunk_samples of
// the tail's graph) and the parameters with their gradients and copies.
func Memory(c runner.Config) (float64, []string) { return memory(Of(c), false, false) }

// MemoryNTK is Memory for a point that also forms the NTK Gram matrix
// (n^2 entries) from per-sample gradients (n P).
func MemoryNTK(c runner.Config) (float64, []string) { return memory(Of(c), true, false) }

// MemoryTrain is MemoryNTK for a point that also builds the
// realizability certificate (theory.Realize, the paper's model only):
// its evaluator of the training set works in chunks of
// graph.DefaultChunkSamples whatever chunk_samples says, so the graph's
// buffers hold max(chunk_samples, graph.DefaultChunkSamples) samples
// there. Train's points and the generalization experiment's are such.
func MemoryTrain(c runner.Config) (float64, []string) {
	g := Of(c)
	return memory(g, true, g.IsPaper())
}

// Tensors of each shape the graph keeps at once (forward values and
// gradients, softmax, products, Gorgonia's intermediates): measured
// near 20 for the composed engine at n = 10^6 (generalization, 19.6 GB
// and growing), so 16 is a lower estimate of the peak that still refuses it.
// The fused engine keeps far fewer: a GD graph of 4096 samples at T = 16,
// d = 32, H = 16 peaked at 299 MB, 0.75 such tensors (go run ./bench/memory
// -n 4096 -chunk 4096 vs -chunk 256), and a whole head-sweep point about
// 3.5 (n = 4096, T = 16, d = 32, H = 4, 3 steps: peak 715 MB in one chunk,
// 460 MB in chunks of 256; several graphs live at once), so for it the
// estimate is high by 4x or more.
const graphTensors = 16

// chunkBytes is the estimate of a graph's buffers for b samples.
func (c *Config) chunkBytes(b int) float64 {
	T, d, H := float64(c.Data.Tokens), float64(c.Data.Dim), float64(c.Heads)
	return 8 * graphTensors * float64(b) * T * H * (T + d)
}

// chunkSamples is B in force for sets of up to n samples: min(n,
// chunk_samples), chunk_samples 0 selecting graph.DefaultChunkSamples.
func (c *Config) chunkSamples(n int) int {
	b := c.ChunkSamples
	if b == 0 {
		b = graph.DefaultChunkSamples
	}
	return max(min(n, b), 0)
}

// ChunkMemory is the estimated memory of the graph buffers of one chunk
// (the part of Memory that chunk_samples bounds) and the samples B of
// that chunk: min(chunk_samples, max(data.train, data.test)).
func (c *Config) ChunkMemory() (bytes float64, samples int) {
	b := c.chunkSamples(max(c.Data.Train, c.Data.Test))
	return c.chunkBytes(b), b
}

func memory(c *Config, ntk, cert bool) (float64, []string) {
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
	// A set of N > B samples keeps two compiled graphs, for B samples
	// and for the N mod B of the tail.
	held := func(N, B int) int {
		if N <= B {
			return N
		}
		return B + N%B
	}
	_, b := c.ChunkMemory()
	gs := max(held(c.Data.Train, b), held(c.Data.Test, b))
	sizes := fmt.Sprintf("data.tokens = %d, heads = %d, data.dim = %d", c.Data.Tokens, c.Heads, c.Data.Dim)
	gfrom := fmt.Sprintf("%d samples in graphs (one chunk: max(data.train, data.test) <= chunk_samples = %d), %s", gs, c.ChunkSamples, sizes)
	if big := max(c.Data.Train, c.Data.Test); big > b {
		gfrom = fmt.Sprintf("%d samples in graphs (chunks of chunk_samples = %d and the tail, of max(data.train, data.test) = %d), %s", gs, c.ChunkSamples, big, sizes)
	}
	if cs := held(c.Data.Train, min(c.Data.Train, graph.DefaultChunkSamples)); cert && cs > gs {
		gs = cs
		gfrom = fmt.Sprintf("%d samples in the graphs of the certificate's evaluator (chunks of %d samples whatever chunk_samples = %d, and the tail, of data.train = %d), %s",
			cs, graph.DefaultChunkSamples, c.ChunkSamples, c.Data.Train, sizes)
	}
	gbytes := c.chunkBytes(gs)
	ts := []term{
		{"data", 8 * 2 * (n + nt) * T * d, fmt.Sprintf("data.train = %d, data.test = %d, data.tokens = %d, data.dim = %d", c.Data.Train, c.Data.Test, c.Data.Tokens, c.Data.Dim)},
		{"graph buffers", gbytes, gfrom},
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
