package ops

import (
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/chewxy/hm"
	"github.com/mhattn/mha/internal/gemm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MatDims are the sizes of a batched matrix product: Batch products of an
// M x K matrix with a K x N one.
type MatDims struct{ Batch, M, K, N int }

// BatchedMatMul multiplies two stacks of matrices: c[b] = op(a[b]) op(b[b])
// for every leading batch index, where op transposes its matrix when the
// matching flag is set. Both inputs have the same leading axes (none for a
// plain matrix product), and the last two axes are the matrix:
//
//	a [..., m, k] (transA: [..., k, m])
//	b [..., k, n] (transB: [..., n, k])
//	c [..., m, n]
//
// Products run on the project's GEMM micro-kernel into a buffer allocated
// once; the derivative is two more batched products, so a composition
// differentiates through it (Hessian-vector products still come from
// gradient differences, as everywhere in this project).
func BatchedMatMul(a, b *G.Node, transA, transB bool) (*G.Node, error) {
	as, bs := a.Shape(), b.Shape()
	if len(as) < 2 || len(bs) != len(as) {
		return nil, fmt.Errorf("ops.BatchedMatMul: shapes %v and %v: want the same number (>= 2) of axes", as, bs)
	}
	batch := 1
	for i := 0; i < len(as)-2; i++ {
		if as[i] != bs[i] {
			return nil, fmt.Errorf("ops.BatchedMatMul: batch axes of %v and %v differ", as, bs)
		}
		batch *= as[i]
	}
	m, k := as[len(as)-2], as[len(as)-1]
	if transA {
		m, k = k, m
	}
	kb, n := bs[len(bs)-2], bs[len(bs)-1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return nil, fmt.Errorf("ops.BatchedMatMul: inner sizes differ: %v (transA=%v) times %v (transB=%v)", as, transA, bs, transB)
	}
	out := append(as[:len(as)-2].Clone(), m, n)
	return BatchedMatMulAs(a, b, transA, transB, MatDims{batch, m, k, n}, out...)
}

// BatchedMatMulAs is BatchedMatMul on inputs read as row-major stacks of
// the given sizes, whatever their node shapes (only the total sizes must
// fit), with an output of shape out (total size Batch*M*N). It saves the
// copies of reshapes around a product: for instance queries X (d x H*d)
// computed as one product and read as [n, T*H, d].
func BatchedMatMulAs(a, b *G.Node, transA, transB bool, d MatDims, out ...int) (*G.Node, error) {
	if d.Batch < 1 || d.M < 1 || d.K < 1 || d.N < 1 {
		return nil, fmt.Errorf("ops.BatchedMatMul: sizes %+v must be >= 1", d)
	}
	if a.Shape().TotalSize() != d.Batch*d.M*d.K || b.Shape().TotalSize() != d.Batch*d.K*d.N ||
		tensor.Shape(out).TotalSize() != d.Batch*d.M*d.N {
		return nil, fmt.Errorf("ops.BatchedMatMul: %v times %v as %+v into %v: sizes do not fit", a.Shape(), b.Shape(), d, out)
	}
	op := &batchedMatMul{transA: transA, transB: transB, dims: d, out: slices.Clone(out),
		ranks: [2]int{a.Shape().Dims(), b.Shape().Dims()}}
	return G.ApplyOp(op, a, b)
}

type batchedMatMul struct {
	transA, transB bool
	dims           MatDims
	out            []int
	ranks          [2]int      // of the inputs, for the op's type
	scratch        [][]float64 // per goroutine, one transposed matrix of b, for transB
	buf            outBuffer
}

func (*batchedMatMul) Arity() int { return 2 }
func (op *batchedMatMul) Type() hm.Type {
	in := func(dims int) hm.Type { return G.TensorType{Dims: dims, Of: tensor.Float64} }
	return hm.NewFnType(in(op.ranks[0]), in(op.ranks[1]), in(len(op.out)))
}
func (op *batchedMatMul) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape(op.out).Clone(), nil
}
func (*batchedMatMul) ReturnsPtr() bool     { return false }
func (*batchedMatMul) CallsExtern() bool    { return false }
func (*batchedMatMul) OverwritesInput() int { return -1 }
func (op *batchedMatMul) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "BatchedMatMul %v %v %+v %v", op.transA, op.transB, op.dims, op.out)
}
func (op *batchedMatMul) Hashcode() uint32 { return hashOf(op) }
func (op *batchedMatMul) String() string {
	return fmt.Sprintf("BatchedMatMul(tA=%v, tB=%v, %+v)", op.transA, op.transB, op.dims)
}

func (op *batchedMatMul) Do(in ...G.Value) (G.Value, error) {
	a, _, err := floats("BatchedMatMul", in[0])
	if err != nil {
		return nil, err
	}
	b, _, err := floats("BatchedMatMul", in[1])
	if err != nil {
		return nil, err
	}
	d := op.dims
	if len(a) != d.Batch*d.M*d.K || len(b) != d.Batch*d.K*d.N {
		return nil, fmt.Errorf("ops.BatchedMatMul: inputs of %d and %d entries, want %+v", len(a), len(b), d)
	}
	out, c := op.buf.of(tensor.Shape(op.out))
	// One clear of the whole output, then accumulating products: clearing
	// row by row inside each small product costs more than the products.
	clear(c)
	op.run(a, b, c)
	return out, nil
}

// run computes the products on up to Threads() goroutines. The work is cut
// into fixed parts (whole matrices of the batch, or, for a single product,
// bands of 4-row blocks of C), each part computed by one goroutine with the
// same code: every entry of C is summed alike whatever the thread count.
func (op *batchedMatMul) run(a, b, c []float64) {
	d := op.dims
	type part struct{ first, last, row0, row1 int }
	var parts []part
	if d.Batch > 1 {
		for _, p := range fixedParts(d.Batch) {
			parts = append(parts, part{p[0], p[1], 0, d.M})
		}
	} else {
		blocks := (d.M + 3) / 4
		for _, p := range fixedParts(blocks) {
			parts = append(parts, part{0, 1, 4 * p[0], min(d.M, 4*p[1])})
		}
	}
	nt := min(Threads(), len(parts))
	// Below about a million multiply-adds goroutines cost more than they save.
	if d.Batch*d.M*d.N*d.K < 1<<20 {
		nt = 1
	}
	for len(op.scratch) < nt {
		op.scratch = append(op.scratch, nil)
	}
	work := func(worker int, p part) {
		sa, sb, sc := d.M*d.K, d.K*d.N, d.M*d.N
		for i := p.first; i < p.last; i++ {
			ai, bi, ci := a[i*sa:(i+1)*sa], b[i*sb:(i+1)*sb], c[i*sc:(i+1)*sc]
			if op.transB {
				// b[i] is N x K; lay it out K x N.
				if len(op.scratch[worker]) != sb {
					op.scratch[worker] = make([]float64, sb)
				}
				t := op.scratch[worker]
				for r := 0; r < d.N; r++ {
					for s := 0; s < d.K; s++ {
						t[s*d.N+r] = bi[r*d.K+s]
					}
				}
				bi = t
			}
			rows := p.row1 - p.row0
			if op.transA {
				gemm.TN(rows, d.N, d.K, ai[p.row0:], d.M, bi, d.N, ci[p.row0*d.N:], d.N, true)
			} else {
				gemm.NN(rows, d.N, d.K, ai[p.row0*d.K:], d.K, bi, d.N, ci[p.row0*d.N:], d.N, true)
			}
		}
	}
	if nt <= 1 {
		for _, p := range parts {
			work(0, p)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(nt)
	for w := 0; w < nt; w++ {
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(parts); i = int(next.Add(1) - 1) {
				work(w, parts[i])
			}
		}()
	}
	wg.Wait()
}

// fixedParts splits [0, n) into min(n, maxParts) ranges whose sizes differ
// by at most one; the split depends on n alone.
func fixedParts(n int) [][2]int {
	b := partBounds(n)
	out := make([][2]int, len(b)-1)
	for i := range out {
		out[i] = [2]int{b[i], b[i+1]}
	}
	return out
}

func (*batchedMatMul) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: for C = op(A) op(B) with upstream gradient G (read as
// Batch x M x N), each gradient is a batched product shaped as its input:
//
//	C = A B:       dA = G B^T,   dB = A^T G
//	C = A B^T:     dA = G B,     dB = G^T A
//	C = A^T B:     dA = B G^T,   dB = A G
//	C = A^T B^T:   dA = B^T G^T, dB = G^T A^T
func (op *batchedMatMul) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	a, b := inputs[0], inputs[1]
	d := op.dims
	as, bs := a.Shape(), b.Shape()
	var da, db *G.Node
	var err1, err2 error
	switch {
	case !op.transA && !op.transB:
		da, err1 = BatchedMatMulAs(grad, b, false, true, MatDims{d.Batch, d.M, d.N, d.K}, as...)
		db, err2 = BatchedMatMulAs(a, grad, true, false, MatDims{d.Batch, d.K, d.M, d.N}, bs...)
	case !op.transA && op.transB:
		da, err1 = BatchedMatMulAs(grad, b, false, false, MatDims{d.Batch, d.M, d.N, d.K}, as...)
		db, err2 = BatchedMatMulAs(grad, a, true, false, MatDims{d.Batch, d.N, d.M, d.K}, bs...)
	case op.transA && !op.transB:
		da, err1 = BatchedMatMulAs(b, grad, false, true, MatDims{d.Batch, d.K, d.N, d.M}, as...)
		db, err2 = BatchedMatMulAs(a, grad, false, false, MatDims{d.Batch, d.K, d.M, d.N}, bs...)
	default:
		da, err1 = BatchedMatMulAs(b, grad, true, true, MatDims{d.Batch, d.K, d.N, d.M}, as...)
		db, err2 = BatchedMatMulAs(grad, a, true, true, MatDims{d.Batch, d.N, d.M, d.K}, bs...)
	}
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return G.Nodes{da, db}, nil
}
