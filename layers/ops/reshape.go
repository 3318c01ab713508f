package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Reshape gives x a new shape of the same total size, row-major order
// unchanged. It copies into a buffer allocated once rather than aliasing
// x: Gorgonia's in-place reuse of registers does not know about aliases.
// The derivative reshapes the upstream gradient back.
func Reshape(x *G.Node, shape ...int) (*G.Node, error) {
	to := tensor.Shape(shape).Clone()
	if to.TotalSize() != x.Shape().TotalSize() {
		return nil, fmt.Errorf("ops.Reshape: %v cannot become %v", x.Shape(), to)
	}
	return G.ApplyOp(&reshape{to: to, from: x.Shape().Dims()}, x)
}

type reshape struct {
	to   tensor.Shape
	from int // rank of the input, for the op's type
	out  outBuffer
}

func (*reshape) Arity() int { return 1 }
func (op *reshape) Type() hm.Type {
	return hm.NewFnType(G.TensorType{Dims: op.from, Of: tensor.Float64}, G.TensorType{Dims: len(op.to), Of: tensor.Float64})
}
func (op *reshape) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.to.Clone(), nil }
func (*reshape) ReturnsPtr() bool                                  { return false }
func (*reshape) CallsExtern() bool                                 { return false }
func (*reshape) OverwritesInput() int                              { return -1 }
func (op *reshape) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "Reshape %v", op.to) }
func (op *reshape) Hashcode() uint32                               { return hashOf(op) }
func (op *reshape) String() string                                 { return fmt.Sprintf("Reshape%v", op.to) }
func (*reshape) DiffWRT(int) []bool                                { return []bool{true} }

func (op *reshape) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := Reshape(grad, inputs[0].Shape()...)
	return G.Nodes{dx}, err
}

func (op *reshape) Do(in ...G.Value) (G.Value, error) {
	src, _, err := floats("Reshape", in[0])
	if err != nil {
		return nil, err
	}
	out, dst := op.out.of(op.to)
	if len(dst) != len(src) {
		return nil, fmt.Errorf("ops.Reshape: input has %d entries, shape %v needs %d", len(src), op.to, len(dst))
	}
	copy(dst, src)
	return out, nil
}
