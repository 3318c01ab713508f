package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveSoftmax is the textbook formula, trustworthy for small logits.
func naiveSoftmax(x []float64) []float64 {
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(v)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func close(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestSoftmaxRowsSmallLogitsMatchTextbook(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, 6*5)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	got := make([]float64, len(x))
	SoftmaxRows(got, x, 5)
	for r := 0; r < 6; r++ {
		want := naiveSoftmax(x[r*5 : r*5+5])
		for i, w := range want {
			if !close(got[r*5+i], w, 1e-15) {
				t.Fatalf("row %d entry %d: got %v want %v", r, i, got[r*5+i], w)
			}
		}
	}
}

// runGraph evaluates f(x) for a 2-D input through a Gorgonia graph.
func runGraph(t *testing.T, rows, cols int, x []float64, build func(*G.Node) (*G.Node, error)) []float64 {
	t.Helper()
	g := G.NewGraph()
	in := G.NewMatrix(g, tensor.Float64, G.WithShape(rows, cols), G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(x))))
	out, err := build(in)
	if err != nil {
		t.Fatal(err)
	}
	var v G.Value
	read := G.Read(out, &v)
	vm := G.NewTapeMachine(g.ExactSubgraphRoots(read))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return append([]float64(nil), v.Data().([]float64)...)
}

// One row saturated with logits in the thousands next to an O(1) row: the
// case where Gorgonia's own SoftMax, which shifts by the tensor's first
// element, overflows.
func TestRowSoftmaxSaturatedRowsExact(t *testing.T) {
	x := []float64{
		1000, 999, 0,
		0.1, 0.2, -0.3,
		-5000, -4999.5, -6000,
	}
	got := runGraph(t, 3, 3, x, RowSoftmax)
	e1 := math.Exp(-1)
	e05 := math.Exp(-0.5)
	want := []float64{1 / (1 + e1), e1 / (1 + e1), 0}
	want = append(want, naiveSoftmax(x[3:6])...)
	want = append(want, e05/(1+e05), 1/(1+e05), 0)
	for i := range want {
		if math.IsNaN(got[i]) || !close(got[i], want[i], 1e-15) {
			t.Fatalf("entry %d: got %v want %v (all: %v)", i, got[i], want[i], got)
		}
	}
}

func TestLogisticLossStable(t *testing.T) {
	for _, c := range []struct{ z, loss, slope float64 }{
		{0, math.Ln2, -0.5},
		{1000, 0, 0},
		{-1000, 1000, -1},
		{40, math.Exp(-40), -math.Exp(-40)},
		{-40, 40 + math.Exp(-40), -1},
	} {
		if got := LogisticLoss(c.z); !close(got, c.loss, 1e-15) {
			t.Errorf("l(%v) = %v, want %v", c.z, got, c.loss)
		}
		if got := LogisticSlope(c.z); !close(got, c.slope, 1e-15) {
			t.Errorf("l'(%v) = %v, want %v", c.z, got, c.slope)
		}
	}
	for _, z := range []float64{-3, -0.5, 0.7, 2.5} {
		if got, want := LogisticLoss(z), math.Log(1+math.Exp(-z)); !close(got, want, 1e-14) {
			t.Errorf("l(%v) = %v, textbook %v", z, got, want)
		}
	}
}

// gradCheck compares the graph gradient of sum(c * op(x)) with central
// finite differences.
func gradCheck(t *testing.T, name string, rows, cols int, scale float64, op func(*G.Node) (*G.Node, error)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, rows*cols)
	coef := make([]float64, rows*cols)
	for i := range x {
		x[i] = scale * rng.NormFloat64()
		coef[i] = rng.NormFloat64()
	}
	f := func(v []float64) float64 {
		out := runGraph(t, rows, cols, v, op)
		var s float64
		for i := range out {
			s += coef[i] * out[i]
		}
		return s
	}
	g := G.NewGraph()
	xv := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float64(nil), x...)))
	// Input nodes need distinct names: Gorgonia merges unnamed inputs of
	// equal type and shape into one node.
	in := G.NewMatrix(g, tensor.Float64, G.WithShape(rows, cols), G.WithName("x"), G.WithValue(xv))
	c := G.NewMatrix(g, tensor.Float64, G.WithShape(rows, cols), G.WithName("c"), G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(coef))))
	out, err := op(in)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, c))))
	grads, err := G.Grad(cost, in)
	if err != nil {
		t.Fatal(err)
	}
	var gv G.Value
	read := G.Read(grads[0], &gv)
	vm := G.NewTapeMachine(g.ExactSubgraphRoots(read))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	got := gv.Data().([]float64)
	want := fd.Gradient(nil, f, x, &fd.Settings{Formula: fd.Central, Step: 1e-6})
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-7*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s: d/dx[%d]: graph %v, finite differences %v", name, i, got[i], want[i])
		}
	}
}

func TestRowSoftmaxGradient(t *testing.T) {
	gradCheck(t, "RowSoftmax", 4, 5, 2, RowSoftmax)
}

func TestLogisticGradient(t *testing.T) {
	gradCheck(t, "Logistic", 3, 4, 3, Logistic)
}
