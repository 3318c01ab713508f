package ops

import (
	"fmt"
	"hash"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Permute reorders the axes of x: output axis i is input axis axes[i], so
// for x of shape [H, d, d], Permute(x, 1, 0, 2) has shape [d, H, d] with
// out[j, h, k] = x[h, j, k]. The data is copied into a buffer allocated
// once; the derivative is the inverse permutation of the upstream gradient.
func Permute(x *G.Node, axes ...int) (*G.Node, error) {
	if err := checkAxes(x.Shape(), axes); err != nil {
		return nil, err
	}
	return G.ApplyOp(&permute{axes: slices.Clone(axes)}, x)
}

func checkAxes(shape tensor.Shape, axes []int) error {
	if len(axes) != len(shape) {
		return fmt.Errorf("ops.Permute: %d axes for a shape %v", len(axes), shape)
	}
	seen := make([]bool, len(axes))
	for _, a := range axes {
		if a < 0 || a >= len(axes) || seen[a] {
			return fmt.Errorf("ops.Permute: axes %v are not a permutation of 0..%d", axes, len(axes)-1)
		}
		seen[a] = true
	}
	return nil
}

type permute struct {
	axes []int
	out  outBuffer
}

func (op *permute) outShape(in tensor.Shape) tensor.Shape {
	out := make(tensor.Shape, len(in))
	for i, a := range op.axes {
		out[i] = in[a]
	}
	return out
}

func (*permute) Arity() int { return 1 }
func (*permute) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *permute) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.outShape(in[0].(tensor.Shape)), nil
}
func (*permute) ReturnsPtr() bool         { return false }
func (*permute) CallsExtern() bool        { return false }
func (*permute) OverwritesInput() int     { return -1 }
func (op *permute) WriteHash(h hash.Hash) { fmt.Fprintf(h, "Permute %v", op.axes) }
func (op *permute) Hashcode() uint32      { return hashOf(op) }
func (op *permute) String() string        { return fmt.Sprintf("Permute%v", op.axes) }
func (*permute) DiffWRT(int) []bool       { return []bool{true} }

func (op *permute) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	inverse := make([]int, len(op.axes))
	for i, a := range op.axes {
		inverse[a] = i
	}
	dx, err := Permute(grad, inverse...)
	return G.Nodes{dx}, err
}

func (op *permute) Do(in ...G.Value) (G.Value, error) {
	out, _ := op.out.of(op.outShape(in[0].Shape()))
	return op.compute(out, in...)
}

func (op *permute) compute(prealloc G.Value, in ...G.Value) (G.Value, error) {
	src, shape, err := floats("Permute", in[0])
	if err != nil {
		return nil, err
	}
	dst, err := preallocated("Permute", prealloc, len(src))
	if err != nil {
		return nil, err
	}
	// Input strides, read in output-axis order.
	rank := len(shape)
	inStride := make([]int, rank)
	s := 1
	for i := rank - 1; i >= 0; i-- {
		inStride[i] = s
		s *= shape[i]
	}
	out := op.outShape(shape)
	stride := make([]int, rank)
	for i, a := range op.axes {
		stride[i] = inStride[a]
	}
	// Walk the output in order with an odometer over its index; the last
	// axis is a strided inner loop.
	idx := make([]int, rank)
	inner, innerStride := out[rank-1], stride[rank-1]
	off := 0
	for pos := 0; pos < len(dst); pos += inner {
		for j := 0; j < inner; j++ {
			dst[pos+j] = src[off+j*innerStride]
		}
		for ax := rank - 2; ax >= 0; ax-- {
			idx[ax]++
			off += stride[ax]
			if idx[ax] < out[ax] {
				break
			}
			off -= idx[ax] * stride[ax]
			idx[ax] = 0
		}
	}
	return prealloc, nil
}
