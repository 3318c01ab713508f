package ops

import (
	"errors"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Logistic applies the logistic loss l(z) = log(1 + e^{-z}) elementwise,
// computed without overflow or cancellation for any finite z.
func Logistic(z *G.Node) (*G.Node, error) { return G.ApplyOp(logistic{}, z) }

// LogisticLoss is l(z) = log(1 + e^{-z}) evaluated stably.
func LogisticLoss(z float64) float64 {
	if z >= 0 {
		return math.Log1p(math.Exp(-z))
	}
	return -z + math.Log1p(math.Exp(z))
}

// LogisticSlope is l'(z) = -1 / (1 + e^{z}), evaluated stably.
func LogisticSlope(z float64) float64 {
	if z >= 0 {
		e := math.Exp(-z)
		return -e / (1 + e)
	}
	return -1 / (1 + math.Exp(z))
}

type logistic struct{}

func (logistic) Arity() int    { return 1 }
func (logistic) Type() hm.Type { a := hm.TypeVariable('a'); return hm.NewFnType(a, a) }
func (logistic) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (logistic) ReturnsPtr() bool      { return false }
func (logistic) CallsExtern() bool     { return false }
func (logistic) OverwritesInput() int  { return -1 }
func (logistic) WriteHash(h hash.Hash) { writeHash(h, "Logistic") }
func (op logistic) Hashcode() uint32   { return hashOf(op) }
func (logistic) String() string        { return "Logistic" }

func (op logistic) Do(in ...G.Value) (G.Value, error) {
	out := tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(tensor.Float64))
	return op.UsePreallocDo(out, in...)
}

func (logistic) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	z, _, err := floats("Logistic", in[0])
	if err != nil {
		return nil, err
	}
	dst, err := preallocated("Logistic", prealloc, len(z))
	if err != nil {
		return nil, err
	}
	for i, v := range z {
		dst[i] = LogisticLoss(v)
	}
	return prealloc, nil
}

func (logistic) DiffWRT(int) []bool { return []bool{true} }

func (logistic) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(logisticGrad{}, inputs[0], grad)
	return G.Nodes{dz}, err
}

// logisticGrad maps (z, g) to g * l'(z).
type logisticGrad struct{}

func (logisticGrad) Arity() int { return 2 }
func (logisticGrad) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (logisticGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (logisticGrad) ReturnsPtr() bool      { return false }
func (logisticGrad) CallsExtern() bool     { return false }
func (logisticGrad) OverwritesInput() int  { return -1 }
func (logisticGrad) WriteHash(h hash.Hash) { writeHash(h, "LogisticGrad") }
func (op logisticGrad) Hashcode() uint32   { return hashOf(op) }
func (logisticGrad) String() string        { return "LogisticGrad" }
func (logisticGrad) DiffWRT(int) []bool    { return []bool{false, false} }
func (logisticGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New("ops: LogisticGrad has no derivative; take Hessian-vector products from gradient differences")
}

func (op logisticGrad) Do(in ...G.Value) (G.Value, error) {
	out := tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(tensor.Float64))
	return op.UsePreallocDo(out, in...)
}

func (logisticGrad) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	z, _, err := floats("LogisticGrad", in[0])
	if err != nil {
		return nil, err
	}
	g, _, err := floats("LogisticGrad", in[1])
	if err != nil {
		return nil, err
	}
	dst, err := preallocated("LogisticGrad", prealloc, len(z))
	if err != nil {
		return nil, err
	}
	if len(g) == 1 && len(z) > 1 {
		for i, v := range z {
			dst[i] = g[0] * LogisticSlope(v)
		}
		return prealloc, nil
	}
	if len(g) != len(z) {
		return nil, errors.New("ops.LogisticGrad: gradient and input differ in size")
	}
	for i, v := range z {
		dst[i] = g[i] * LogisticSlope(v)
	}
	return prealloc, nil
}
