package ops

import (
	"errors"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"github.com/mhattn/mha/internal/vexp"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RowSoftmax applies softmax along the last axis of x: every row (the
// attention of one query over all keys) is shifted by its own maximum before
// exponentiation, so it is exact for logits of any finite size.
func RowSoftmax(x *G.Node) (*G.Node, error) {
	if x.Dims() < 1 {
		return nil, errors.New("ops.RowSoftmax: input must have at least one axis")
	}
	return G.ApplyOp(&rowSoftmax{}, x)
}

// SoftmaxRows computes RowSoftmax on plain slices: dst[r*width:(r+1)*width]
// is the softmax of src's row r, shifted by that row's own maximum, with the
// exponentials of all rows taken in one vectorized pass. dst and src may be
// the same slice.
func SoftmaxRows(dst, src []float64, width int) {
	if len(dst) > 0 && &dst[0] != &src[0] {
		copy(dst, src)
	}
	for r := 0; r+width <= len(dst); r += width {
		row := dst[r : r+width]
		// The maximum without branches (logits come in random order); a
		// NaN makes the row NaN either way, and x - (+0) and x - (-0) have
		// the same exponential.
		peak := math.Inf(-1)
		for _, v := range row {
			peak = max(peak, v)
		}
		for s := range row {
			row[s] -= peak
		}
	}
	vexp.Exp(dst, dst)
	for r := 0; r+width <= len(dst); r += width {
		row := dst[r : r+width]
		var sum float64
		for _, v := range row {
			sum += v
		}
		inv := 1 / sum
		for s := range row {
			row[s] *= inv
		}
	}
}

type rowSoftmax struct{ out outBuffer }

func (*rowSoftmax) Arity() int    { return 1 }
func (*rowSoftmax) Type() hm.Type { a := hm.TypeVariable('a'); return hm.NewFnType(a, a) }
func (*rowSoftmax) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (*rowSoftmax) ReturnsPtr() bool      { return false }
func (*rowSoftmax) CallsExtern() bool     { return false }
func (*rowSoftmax) OverwritesInput() int  { return -1 }
func (*rowSoftmax) WriteHash(h hash.Hash) { writeHash(h, "RowSoftmax") }
func (op *rowSoftmax) Hashcode() uint32   { return hashOf(op) }
func (*rowSoftmax) String() string        { return "RowSoftmax" }

func (op *rowSoftmax) Do(in ...G.Value) (G.Value, error) {
	out, _ := op.out.of(in[0].Shape())
	return op.compute(out, in...)
}

func (*rowSoftmax) compute(prealloc G.Value, in ...G.Value) (G.Value, error) {
	src, shape, err := floats("RowSoftmax", in[0])
	if err != nil {
		return nil, err
	}
	dst, err := preallocated("RowSoftmax", prealloc, len(src))
	if err != nil {
		return nil, err
	}
	SoftmaxRows(dst, src, shape[len(shape)-1])
	return prealloc, nil
}

func (*rowSoftmax) DiffWRT(int) []bool { return []bool{true} }

func (*rowSoftmax) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&rowSoftmaxGrad{}, output, grad)
	return G.Nodes{dx}, err
}

// rowSoftmaxGrad maps (s, g) to the input gradient of a row softmax:
// s * (g - <g, s>) row by row, the Jacobian diag(s) - s s^T applied to g.
type rowSoftmaxGrad struct{ out outBuffer }

func (*rowSoftmaxGrad) Arity() int { return 2 }
func (*rowSoftmaxGrad) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (*rowSoftmaxGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (*rowSoftmaxGrad) ReturnsPtr() bool      { return false }
func (*rowSoftmaxGrad) CallsExtern() bool     { return false }
func (*rowSoftmaxGrad) OverwritesInput() int  { return -1 }
func (*rowSoftmaxGrad) WriteHash(h hash.Hash) { writeHash(h, "RowSoftmaxGrad") }
func (op *rowSoftmaxGrad) Hashcode() uint32   { return hashOf(op) }
func (*rowSoftmaxGrad) String() string        { return "RowSoftmaxGrad" }
func (*rowSoftmaxGrad) DiffWRT(int) []bool    { return []bool{false, false} }
func (*rowSoftmaxGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New("ops: RowSoftmaxGrad has no derivative; take Hessian-vector products from gradient differences")
}

func (op *rowSoftmaxGrad) Do(in ...G.Value) (G.Value, error) {
	out, _ := op.out.of(in[0].Shape())
	return op.compute(out, in...)
}

func (*rowSoftmaxGrad) compute(prealloc G.Value, in ...G.Value) (G.Value, error) {
	s, shape, err := floats("RowSoftmaxGrad", in[0])
	if err != nil {
		return nil, err
	}
	g, _, err := floats("RowSoftmaxGrad", in[1])
	if err != nil {
		return nil, err
	}
	if len(g) != len(s) {
		return nil, errors.New("ops.RowSoftmaxGrad: gradient and softmax output differ in size")
	}
	dst, err := preallocated("RowSoftmaxGrad", prealloc, len(s))
	if err != nil {
		return nil, err
	}
	width := shape[len(shape)-1]
	for r := 0; r+width <= len(s); r += width {
		sr, gr, dr := s[r:r+width], g[r:r+width], dst[r:r+width]
		var dot float64
		for i := range sr {
			dot += sr[i] * gr[i]
		}
		for i := range sr {
			dr[i] = sr[i] * (gr[i] - dot)
		}
	}
	return prealloc, nil
}
