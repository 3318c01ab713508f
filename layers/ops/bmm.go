package ops

import (
	"errors"
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/mhattn/mha/internal/gemm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchedMatMul multiplies two stacks of matrices: c[b] = op(a[b]) op(b[b])
// for every leading batch index, where op transposes its matrix when the
// matching flag is set. Both inputs have the same leading axes (at least
// one), and the last two axes are the matrix:
//
//	a [..., m, k] (transA: [..., k, m])
//	b [..., k, n] (transB: [..., n, k])
//	c [..., m, n]
//
// Products run on the project's GEMM micro-kernel and write into an output
// buffer the tape machine allocates once; its derivative is two more
// BatchedMatMuls, so composed models differentiate through it to any depth
// of composition (but take Hessian-vector products from gradient
// differences, as everywhere in this project).
func BatchedMatMul(a, b *G.Node, transA, transB bool) (*G.Node, error) {
	op := &batchedMatMul{transA: transA, transB: transB}
	if _, err := op.shapes(a.Shape(), b.Shape()); err != nil {
		return nil, err
	}
	return G.ApplyOp(op, a, b)
}

type batchedMatMul struct {
	transA, transB bool
	scratch        []float64 // one transposed matrix of b, for transB
}

// dims are the sizes of one product: batch count, m, k, n.
type dims struct{ batch, m, k, n int }

func (op *batchedMatMul) shapes(as, bs tensor.Shape) (dims, error) {
	if len(as) < 3 || len(bs) != len(as) {
		return dims{}, fmt.Errorf("ops.BatchedMatMul: shapes %v and %v: want the same number (>= 3) of axes", as, bs)
	}
	batch := 1
	for i := 0; i < len(as)-2; i++ {
		if as[i] != bs[i] {
			return dims{}, fmt.Errorf("ops.BatchedMatMul: batch axes of %v and %v differ", as, bs)
		}
		batch *= as[i]
	}
	m, k := as[len(as)-2], as[len(as)-1]
	if op.transA {
		m, k = k, m
	}
	kb, n := bs[len(bs)-2], bs[len(bs)-1]
	if op.transB {
		kb, n = n, kb
	}
	if k != kb {
		return dims{}, fmt.Errorf("ops.BatchedMatMul: inner sizes differ: %v (transA=%v) times %v (transB=%v)", as, op.transA, bs, op.transB)
	}
	return dims{batch, m, k, n}, nil
}

func (*batchedMatMul) Arity() int { return 2 }
func (*batchedMatMul) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op *batchedMatMul) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	as, bs := in[0].(tensor.Shape), in[1].(tensor.Shape)
	d, err := op.shapes(as, bs)
	if err != nil {
		return nil, err
	}
	out := as.Clone()
	out[len(out)-2], out[len(out)-1] = d.m, d.n
	return out, nil
}
func (*batchedMatMul) ReturnsPtr() bool     { return false }
func (*batchedMatMul) CallsExtern() bool    { return false }
func (*batchedMatMul) OverwritesInput() int { return -1 }
func (op *batchedMatMul) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "BatchedMatMul %v %v", op.transA, op.transB)
}
func (op *batchedMatMul) Hashcode() uint32 { return hashOf(op) }
func (op *batchedMatMul) String() string {
	return fmt.Sprintf("BatchedMatMul(tA=%v, tB=%v)", op.transA, op.transB)
}

func (op *batchedMatMul) Do(in ...G.Value) (G.Value, error) {
	shape, err := op.InferShape(in[0].Shape(), in[1].Shape())
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float64))
	return op.UsePreallocDo(out, in...)
}

func (op *batchedMatMul) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	a, as, err := floats("BatchedMatMul", in[0])
	if err != nil {
		return nil, err
	}
	b, bs, err := floats("BatchedMatMul", in[1])
	if err != nil {
		return nil, err
	}
	d, err := op.shapes(as, bs)
	if err != nil {
		return nil, err
	}
	c, err := preallocated("BatchedMatMul", prealloc, d.batch*d.m*d.n)
	if err != nil {
		return nil, err
	}
	sa, sb, sc := d.m*d.k, d.k*d.n, d.m*d.n
	if op.transB && len(op.scratch) != sb {
		op.scratch = make([]float64, sb)
	}
	for i := 0; i < d.batch; i++ {
		ai, bi, ci := a[i*sa:(i+1)*sa], b[i*sb:(i+1)*sb], c[i*sc:(i+1)*sc]
		if op.transB {
			// b[i] is n x k; lay it out k x n.
			for r := 0; r < d.n; r++ {
				for s := 0; s < d.k; s++ {
					op.scratch[s*d.n+r] = bi[r*d.k+s]
				}
			}
			bi = op.scratch
		}
		if op.transA {
			gemm.TN(d.m, d.n, d.k, ai, d.m, bi, d.n, ci, d.n, false)
		} else {
			gemm.NN(d.m, d.n, d.k, ai, d.k, bi, d.n, ci, d.n, false)
		}
	}
	return prealloc, nil
}

func (*batchedMatMul) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: for C = op(A) op(B) with upstream gradient G,
//
//	C = A B:       dA = G B^T,   dB = A^T G
//	C = A B^T:     dA = G B,     dB = G^T A
//	C = A^T B:     dA = B G^T,   dB = A G
//	C = A^T B^T:   dA = B^T G^T, dB = G^T A^T
func (op *batchedMatMul) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	a, b := inputs[0], inputs[1]
	var da, db *G.Node
	var err1, err2 error
	switch {
	case !op.transA && !op.transB:
		da, err1 = BatchedMatMul(grad, b, false, true)
		db, err2 = BatchedMatMul(a, grad, true, false)
	case !op.transA && op.transB:
		da, err1 = BatchedMatMul(grad, b, false, false)
		db, err2 = BatchedMatMul(grad, a, true, false)
	case op.transA && !op.transB:
		da, err1 = BatchedMatMul(b, grad, false, true)
		db, err2 = BatchedMatMul(a, grad, false, false)
	default:
		da, err1 = BatchedMatMul(b, grad, true, true)
		db, err2 = BatchedMatMul(grad, a, true, true)
	}
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return G.Nodes{da, db}, nil
}
