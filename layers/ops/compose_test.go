package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graphGradCheck builds loss = <f(inputs), R> for a fixed random R, and checks
// the graph's value of f against want and its gradient with respect to
// every input against central differences (gonum diff/fd). It runs the
// machine twice, so ops that reuse buffers are exercised on reuse.
func graphGradCheck(t *testing.T, shapes [][]int, build func(in []*G.Node) (*G.Node, error), want func(vals [][]float64) []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(shapes)), 5))
	vals := make([][]float64, len(shapes))
	for i, s := range shapes {
		vals[i] = make([]float64, tensor.Shape(s).TotalSize())
		for j := range vals[i] {
			vals[i][j] = rng.NormFloat64()
		}
	}
	var coef []float64
	eval := func(withGrad bool) (float64, []float64, [][]float64) {
		g := G.NewGraph()
		nodes := make([]*G.Node, len(shapes))
		for i, s := range shapes {
			nodes[i] = G.NewTensor(g, tensor.Float64, len(s), G.WithShape(s...), G.WithName(fmt.Sprintf("in%d", i)),
				G.WithValue(tensor.New(tensor.WithShape(s...), tensor.WithBacking(append([]float64(nil), vals[i]...)))))
		}
		out, err := build(nodes)
		if err != nil {
			t.Fatal(err)
		}
		if coef == nil {
			coef = make([]float64, out.Shape().TotalSize())
			for j := range coef {
				coef[j] = rng.NormFloat64()
			}
		}
		r := G.NewTensor(g, tensor.Float64, out.Dims(), G.WithShape(out.Shape()...), G.WithName("R"),
			G.WithValue(tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(append([]float64(nil), coef...)))))
		prod, err := G.HadamardProd(out, r)
		if err != nil {
			t.Fatal(err)
		}
		loss, err := G.Sum(prod)
		if err != nil {
			t.Fatal(err)
		}
		var lv, ov G.Value
		roots := G.Nodes{G.Read(loss, &lv), G.Read(out, &ov)}
		gv := make([]G.Value, len(nodes))
		if withGrad {
			grads, err := G.Grad(loss, nodes...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range grads {
				roots = append(roots, G.Read(grads[i], &gv[i]))
			}
		}
		vm := G.NewTapeMachine(g.ExactSubgraphRoots(roots...))
		defer vm.Close()
		for rep := 0; rep < 2; rep++ {
			vm.Reset()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
		}
		var grads [][]float64
		for _, v := range gv {
			if v != nil {
				grads = append(grads, append([]float64(nil), v.Data().([]float64)...))
			}
		}
		return lv.Data().(float64), append([]float64(nil), ov.Data().([]float64)...), grads
	}
	_, out, grads := eval(true)
	if w := want(vals); w != nil {
		for j := range w {
			if math.Abs(out[j]-w[j]) > 1e-12*math.Max(1, math.Abs(w[j])) {
				t.Fatalf("output[%d] = %v, want %v", j, out[j], w[j])
			}
		}
	}
	for i := range shapes {
		f := func(x []float64) float64 {
			saved := vals[i]
			vals[i] = x
			l, _, _ := eval(false)
			vals[i] = saved
			return l
		}
		num := fd.Gradient(nil, f, vals[i], &fd.Settings{Formula: fd.Central, Step: 1e-6})
		for j := range num {
			if math.Abs(grads[i][j]-num[j]) > 1e-6*math.Max(1, math.Abs(num[j])) {
				t.Fatalf("input %d, entry %d: gradient %v, central differences %v", i, j, grads[i][j], num[j])
			}
		}
	}
}

// refMatMul computes op(A) op(B) for one matrix pair stored row-major.
func refMatMul(a, b []float64, m, k, n int, transA, transB bool) []float64 {
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				x, y := a[i*k+p], b[p*n+j]
				if transA {
					x = a[p*m+i]
				}
				if transB {
					y = b[j*k+p]
				}
				c[i*n+j] += x * y
			}
		}
	}
	return c
}

func TestBatchedMatMulAllTranspositions(t *testing.T) {
	const batch, m, k, n = 3, 5, 4, 9 // n > 8 exercises the kernel's edges
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			t.Run(fmt.Sprintf("tA=%v/tB=%v", tA, tB), func(t *testing.T) {
				as, bs := []int{batch, m, k}, []int{batch, k, n}
				if tA {
					as = []int{batch, k, m}
				}
				if tB {
					bs = []int{batch, n, k}
				}
				graphGradCheck(t, [][]int{as, bs}, func(in []*G.Node) (*G.Node, error) {
					return BatchedMatMul(in[0], in[1], tA, tB)
				}, func(v [][]float64) []float64 {
					var out []float64
					for i := 0; i < batch; i++ {
						out = append(out, refMatMul(v[0][i*m*k:(i+1)*m*k], v[1][i*k*n:(i+1)*k*n], m, k, n, tA, tB)...)
					}
					return out
				})
			})
		}
	}
}

// A product read through other shapes: [2, 6] times [3, 2, 2] as a
// (4 x 3)(3 x 4) product into a [2, 8] output.
func TestBatchedMatMulAs(t *testing.T) {
	graphGradCheck(t, [][]int{{2, 6}, {3, 2, 2}}, func(in []*G.Node) (*G.Node, error) {
		return BatchedMatMulAs(in[0], in[1], false, false, MatDims{Batch: 1, M: 4, K: 3, N: 4}, 2, 8)
	}, func(v [][]float64) []float64 { return refMatMul(v[0], v[1], 4, 3, 4, false, false) })
}

func TestPermuteAndReshape(t *testing.T) {
	graphGradCheck(t, [][]int{{2, 3, 4}}, func(in []*G.Node) (*G.Node, error) {
		return Permute(in[0], 2, 0, 1)
	}, func(v [][]float64) []float64 {
		out := make([]float64, 24)
		for i := 0; i < 2; i++ {
			for j := 0; j < 3; j++ {
				for k := 0; k < 4; k++ {
					out[(k*2+i)*3+j] = v[0][(i*3+j)*4+k]
				}
			}
		}
		return out
	})
	graphGradCheck(t, [][]int{{2, 3, 4, 2}}, func(in []*G.Node) (*G.Node, error) {
		p, err := Permute(in[0], 0, 2, 1, 3)
		if err != nil {
			return nil, err
		}
		return Reshape(p, 8, 6)
	}, func(v [][]float64) []float64 {
		out := make([]float64, 48)
		for a := 0; a < 2; a++ {
			for b := 0; b < 3; b++ {
				for c := 0; c < 4; c++ {
					for d := 0; d < 2; d++ {
						out[((a*4+c)*3+b)*2+d] = v[0][((a*3+b)*4+c)*2+d]
					}
				}
			}
		}
		return out
	})
	for _, bad := range [][]int{{0, 1}, {0, 0, 1}, {0, 1, 3}} {
		g := G.NewGraph()
		x := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 3, 4), G.WithName("x"))
		if _, err := Permute(x, bad...); err == nil {
			t.Errorf("axes %v accepted", bad)
		}
	}
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 3), G.WithName("x"))
	if _, err := Reshape(x, 4, 2); err == nil {
		t.Error("reshape [2 3] to [4 2] accepted")
	}
}

// Batched products split their work in parts fixed by the sizes alone, so
// their bits do not depend on the number of goroutines.
func TestBatchedMatMulSameBitsAnyThreads(t *testing.T) {
	defer func() { threads.Store(0) }()
	rng := rand.New(rand.NewPCG(9, 9))
	for _, d := range []MatDims{{Batch: 40, M: 33, K: 30, N: 20}, {Batch: 1, M: 1030, K: 40, N: 37}} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				a := make([]float64, d.Batch*d.M*d.K)
				b := make([]float64, d.Batch*d.K*d.N)
				for i := range a {
					a[i] = rng.NormFloat64()
				}
				for i := range b {
					b[i] = rng.NormFloat64()
				}
				var ref []float64
				for _, n := range []int{1, 2, 3, 8} {
					if err := SetThreads(n); err != nil {
						t.Fatal(err)
					}
					op := &batchedMatMul{transA: tA, transB: tB, dims: d, out: []int{d.Batch, d.M, d.N}}
					c := make([]float64, d.Batch*d.M*d.N)
					op.run(a, b, c)
					if ref == nil {
						ref = c
						// Spot-check one product against the plain loop.
						want := refMatMul(a[:d.M*d.K], b[:d.K*d.N], d.M, d.K, d.N, tA, tB)
						for j, w := range want {
							if math.Abs(c[j]-w) > 1e-12*math.Max(1, math.Abs(w)) {
								t.Fatalf("%+v tA=%v tB=%v: c[%d] = %v, want %v", d, tA, tB, j, c[j], w)
							}
						}
						continue
					}
					for j := range c {
						if math.Float64bits(c[j]) != math.Float64bits(ref[j]) {
							t.Fatalf("%+v tA=%v tB=%v: %d threads differ from 1 at %d", d, tA, tB, n, j)
						}
					}
				}
			}
		}
	}
}
