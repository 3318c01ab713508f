package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// attentionCase is one shape of the fused op with random inputs.
type attentionCase struct {
	s            AttentionShape
	x, xq, w, u  []float64
	coef         []float64 // the test's cost is sum_i coef_i raw_i
	wShape, uShp tensor.Shape
}

func newAttentionCase(s AttentionShape, seed uint64) *attentionCase {
	rng := rand.New(rand.NewPCG(seed, 5))
	draw := func(n int, scale float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = scale * rng.NormFloat64()
		}
		return v
	}
	st := &attnState{AttentionShape: s}
	c := &attentionCase{s: s, wShape: st.wShape(), uShp: st.uShape()}
	c.x = draw(s.N*s.Tokens*s.Dim, 1)
	// Query rows: the sequences themselves, or their first tokens.
	for i := 0; i < s.N; i++ {
		c.xq = append(c.xq, c.x[i*s.Tokens*s.Dim:i*s.Tokens*s.Dim+s.Rows*s.Dim]...)
	}
	c.w = draw(c.wShape.TotalSize(), 0.7)
	c.u = draw(c.uShp.TotalSize(), 1)
	c.coef = draw(s.N, 1)
	return c
}

// build returns the cost node and the W and U input nodes of a fresh graph.
func (c *attentionCase) build(w, u []float64) (cost, wn, un, raw, weights *G.Node) {
	s := c.s
	g := G.NewGraph()
	val := func(v []float64, shape ...int) G.NodeConsOpt {
		return G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), v...))))
	}
	x := G.NewTensor(g, tensor.Float64, 3, G.WithShape(s.N, s.Tokens, s.Dim), G.WithName("x"), val(c.x, s.N, s.Tokens, s.Dim))
	xq := G.NewMatrix(g, tensor.Float64, G.WithShape(s.N*s.Rows, s.Dim), G.WithName("xq"), val(c.xq, s.N*s.Rows, s.Dim))
	wn = G.NewTensor(g, tensor.Float64, len(c.wShape), G.WithShape(c.wShape...), G.WithName("w"), val(w, c.wShape...))
	un = G.NewTensor(g, tensor.Float64, len(c.uShp), G.WithShape(c.uShp...), G.WithName("u"), val(u, c.uShp...))
	coef := G.NewVector(g, tensor.Float64, G.WithShape(s.N), G.WithName("coef"), val(c.coef, s.N))
	raw, weights, err := Attention(s, x, xq, wn, un)
	if err != nil {
		panic(err)
	}
	return G.Must(G.Sum(G.Must(G.HadamardProd(raw, coef)))), wn, un, raw, weights
}

// naiveRaw is raw_i by the definition, one sequence, head and query at a time.
func (c *attentionCase) naiveRaw(w, u []float64) []float64 {
	s := c.s
	t, d, hd := s.Tokens, s.Dim, s.Heads*s.Dim
	out := make([]float64, s.N)
	for i := 0; i < s.N; i++ {
		wi, ui := w, u
		if s.PerSample {
			wi, ui = w[i*d*hd:], u[i*s.Rows*hd:]
		}
		for r := 0; r < s.Rows; r++ {
			for h := 0; h < s.Heads; h++ {
				logits := make([]float64, t)
				for key := 0; key < t; key++ {
					for j := 0; j < d; j++ {
						for k := 0; k < d; k++ {
							logits[key] += c.xq[(i*s.Rows+r)*d+j] * wi[j*hd+h*d+k] * c.x[(i*t+key)*d+k]
						}
					}
				}
				a := naiveSoftmax(logits)
				for key := 0; key < t; key++ {
					for k := 0; k < d; k++ {
						out[i] += a[key] * ui[(r*s.Heads+h)*d+k] * c.x[(i*t+key)*d+k]
					}
				}
			}
		}
	}
	return out
}

func attentionShapes() []AttentionShape {
	return []AttentionShape{
		{N: 3, Tokens: 4, Dim: 3, Rows: 4, Heads: 2},
		{N: 3, Tokens: 4, Dim: 3, Rows: 1, Heads: 3},
		{N: 2, Tokens: 8, Dim: 8, Rows: 8, Heads: 4},  // every product on the 4 x 8 micro-kernel
		{N: 40, Tokens: 4, Dim: 3, Rows: 4, Heads: 2}, // several chunks
		{N: 3, Tokens: 4, Dim: 3, Rows: 4, Heads: 2, PerSample: true},
		{N: 2, Tokens: 5, Dim: 4, Rows: 1, Heads: 2, PerSample: true},
	}
}

func TestAttentionMatchesDefinition(t *testing.T) {
	for k, s := range attentionShapes() {
		t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
			c := newAttentionCase(s, uint64(k))
			got := runAttention(t, c, c.w, c.u)
			want := c.naiveRaw(c.w, c.u)
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-13*math.Max(1, math.Abs(want[i])) {
					t.Fatalf("raw[%d] = %v, definition %v", i, got[i], want[i])
				}
			}
		})
	}
}

// runAttention evaluates raw at w and u in a fresh graph.
func runAttention(t *testing.T, c *attentionCase, w, u []float64) []float64 {
	t.Helper()
	_, _, _, raw, _ := c.build(w, u)
	var v G.Value
	read := G.Read(raw, &v)
	vm := G.NewTapeMachine(raw.Graph().ExactSubgraphRoots(read))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return append([]float64(nil), v.Data().([]float64)...)
}

func TestAttentionGradient(t *testing.T) {
	for k, s := range attentionShapes() {
		t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
			c := newAttentionCase(s, uint64(10+k))
			cost, wn, un, _, _ := c.build(c.w, c.u)
			grads, err := G.Grad(cost, wn, un)
			if err != nil {
				t.Fatal(err)
			}
			var gw, gu G.Value
			roots := G.Nodes{G.Read(grads[0], &gw), G.Read(grads[1], &gu)}
			vm := G.NewTapeMachine(cost.Graph().ExactSubgraphRoots(roots...))
			defer vm.Close()
			// Twice: the second run reuses every buffer of the first.
			for run := 0; run < 2; run++ {
				vm.Reset()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
			}
			f := func(w, u []float64) float64 {
				var sum float64
				for i, v := range runAttention(t, c, w, u) {
					sum += c.coef[i] * v
				}
				return sum
			}
			settings := &fd.Settings{Formula: fd.Central, Step: 1e-6}
			wantW := fd.Gradient(nil, func(w []float64) float64 { return f(w, c.u) }, c.w, settings)
			wantU := fd.Gradient(nil, func(u []float64) float64 { return f(c.w, u) }, c.u, settings)
			for _, cmp := range []struct {
				name      string
				got, want []float64
			}{{"W", gw.Data().([]float64), wantW}, {"U", gu.Data().([]float64), wantU}} {
				for i := range cmp.want {
					if math.Abs(cmp.got[i]-cmp.want[i]) > 1e-7*math.Max(1, math.Abs(cmp.want[i])) {
						t.Fatalf("d/d%s[%d]: graph %v, finite differences %v", cmp.name, i, cmp.got[i], cmp.want[i])
					}
				}
			}
		})
	}
}

// Logits in the thousands next to O(1) ones: every row is shifted by its
// own maximum, as in RowSoftmax.
func TestAttentionSaturatedWeights(t *testing.T) {
	s := AttentionShape{N: 2, Tokens: 4, Dim: 3, Rows: 4, Heads: 2}
	c := newAttentionCase(s, 30)
	for k := 0; k < s.Tokens*s.Dim; k++ {
		c.x[k] *= 60
	}
	c.xq = append(c.x[:0:0], c.x...)
	got := runAttention(t, c, c.w, c.u)
	want := c.naiveRaw(c.w, c.u)
	for i := range want {
		if math.IsNaN(got[i]) || math.Abs(got[i]-want[i]) > 1e-12*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("raw[%d] = %v, definition %v", i, got[i], want[i])
		}
	}
}

// runAll evaluates raw, the weights and both gradients in one graph, run
// twice so that the second run reuses every buffer of the first.
func runAll(t *testing.T, c *attentionCase) [][]float64 {
	t.Helper()
	cost, wn, un, raw, weights := c.build(c.w, c.u)
	grads, err := G.Grad(cost, wn, un)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]G.Value, 4)
	roots := G.Nodes{G.Read(raw, &vals[0]), G.Read(weights, &vals[1]), G.Read(grads[0], &vals[2]), G.Read(grads[1], &vals[3])}
	vm := G.NewTapeMachine(cost.Graph().ExactSubgraphRoots(roots...))
	defer vm.Close()
	for run := 0; run < 2; run++ {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	out := make([][]float64, len(vals))
	for k, v := range vals {
		out[k] = append([]float64(nil), v.Data().([]float64)...)
	}
	return out
}

// The parts of a batch and the order their gradient sums are added in
// depend on N alone, so every output is the same bits for any number of
// goroutines.
func TestAttentionBitIdenticalAcrossThreads(t *testing.T) {
	defer threads.Store(threads.Load())
	shapes := append(attentionShapes(),
		AttentionShape{N: 77, Tokens: 5, Dim: 3, Rows: 5, Heads: 3}, // parts of 2 and 3 sequences, chunks inside parts
		AttentionShape{N: 100, Tokens: 4, Dim: 9, Rows: 1, Heads: 2},
		AttentionShape{N: 33, Tokens: 16, Dim: 8, Rows: 16, Heads: 4},
		AttentionShape{N: 37, Tokens: 3, Dim: 2, Rows: 1, Heads: 2, PerSample: true},
	)
	names := []string{"raw", "weights", "dW", "dU"}
	for k, s := range shapes {
		t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
			c := newAttentionCase(s, uint64(40+k))
			var want [][]float64
			for _, n := range []int{1, 2, 3, 8} {
				if err := SetThreads(n); err != nil {
					t.Fatal(err)
				}
				got := runAll(t, c)
				if want == nil {
					want = got
					continue
				}
				for o := range want {
					for i := range want[o] {
						if math.Float64bits(got[o][i]) != math.Float64bits(want[o][i]) {
							t.Fatalf("%s[%d] = %v with %d threads, %v with 1", names[o], i, got[o][i], n, want[o][i])
						}
					}
				}
			}
		})
	}
}

func TestSetThreads(t *testing.T) {
	defer threads.Store(threads.Load())
	for _, n := range []int{0, -1} {
		err := SetThreads(n)
		if err == nil || !strings.Contains(err.Error(), "threads") || !strings.Contains(err.Error(), ">= 1") {
			t.Errorf("SetThreads(%d): %v, want an error naming threads and >= 1", n, err)
		}
	}
	if err := SetThreads(3); err != nil || Threads() != 3 {
		t.Errorf("SetThreads(3): %v, Threads() = %d", err, Threads())
	}
}

func TestPartBounds(t *testing.T) {
	for _, n := range []int{1, 2, 31, 32, 33, 77, 512, 1000} {
		b := partBounds(n)
		if b[0] != 0 || b[len(b)-1] != n || len(b)-1 != min(n, maxParts) {
			t.Fatalf("n=%d: bounds %v", n, b)
		}
		for p := 1; p < len(b); p++ {
			if size := b[p] - b[p-1]; size < n/maxParts || size > n/maxParts+1 || size == 0 {
				t.Fatalf("n=%d: part %d has %d sequences", n, p-1, size)
			}
		}
	}
}

// BenchmarkAttentionThreads times the fused op's forward and both backward
// passes at the reference (n=512, T=16, d=32, H=16) and large (n=1024,
// H=64) sizes with 1 and 2 goroutines. Run with -cpu 2 (or more).
func BenchmarkAttentionThreads(b *testing.B) {
	defer threads.Store(threads.Load())
	for _, size := range []struct{ n, heads int }{{512, 16}, {1024, 64}} {
		b.Run(fmt.Sprintf("n%d_H%d", size.n, size.heads), func(b *testing.B) {
			s := AttentionShape{N: size.n, Tokens: 16, Dim: 32, Rows: 16, Heads: size.heads}
			c := newAttentionCase(s, 50)
			cost, wn, un, _, _ := c.build(c.w, c.u)
			if _, err := G.Grad(cost, wn, un); err != nil {
				b.Fatal(err)
			}
			vm := G.NewTapeMachine(cost.Graph())
			defer vm.Close()
			for _, n := range []int{1, 2} {
				b.Run(fmt.Sprintf("threads%d", n), func(b *testing.B) {
					if err := SetThreads(n); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					cpu0 := cpuSeconds()
					for i := 0; i < b.N; i++ {
						vm.Reset()
						if err := vm.RunAll(); err != nil {
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
