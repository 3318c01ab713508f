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

// AttentionShape fixes the sizes of a fused attention op.
type AttentionShape struct {
	N         int  // sequences in the batch
	Tokens    int  // T, keys per sequence
	Dim       int  // d
	Rows      int  // query rows per head: T (all-token) or 1 (first-token)
	Heads     int  // H
	PerSample bool // W and U carry a leading batch axis (one copy per sequence)
}

// Attention is the whole multi-head attention readout of one batch as a
// single operation:
//
//	raw_i = sum_{r,h} < u_{r,h} , sum_s a_{i,r,h,s} x_{i,s} >,  a_{i,r,h,.} = softmax_s(<q_{i,r,h}, x_{i,s}>)
//
// where q_{i,r,h} = xq_{i,r}^T W_h. The inputs are those of layers.Build:
//
//	x  [N, T, d]        the sequences
//	xq [N*Rows, d]      query tokens
//	w  [d, H*d]         packed W, or [N, d, H*d] per sample
//	u  [Rows*H*d]       packed U, or [N, Rows*H*d] per sample
//
// It returns raw [N] (not yet multiplied by scale(H)) and the attention
// weights [N, Rows*H, T], row r*H+h of a sequence being query r of head h;
// the weights node costs only a copy, and only when a program asks for it.
//
// Fusing matters for speed, not for what is computed: the op runs the
// per-sample products on small matrices through one GEMM micro-kernel,
// keeps its intermediates (the attention and A∘(UX^T - rowdot)) in buffers
// allocated once per graph, and its symbolic derivative is two ops, one for
// U and one for W, that read those buffers. Each softmax row is shifted by
// its own maximum, as in RowSoftmax.
//
// Each pass (forward, U derivative, W derivative) splits the batch into at
// most 32 parts of consecutive sequences, fixed by N alone, and works on
// them with up to Threads() goroutines. A part's share of dU and dW is
// summed over its sequences in order, and the parts' sums are added in part
// order; every other output belongs to one sequence. So raw, the weights
// and both gradients are the same bits whatever the number of goroutines.
func Attention(s AttentionShape, x, xq, w, u *G.Node) (raw, weights *G.Node, err error) {
	if err := s.check(x, xq, w, u); err != nil {
		return nil, nil, err
	}
	st := newAttnState(s)
	if raw, err = G.ApplyOp(&attention{st}, x, xq, w, u); err != nil {
		return nil, nil, err
	}
	if weights, err = G.ApplyOp(&attnWeights{st}, raw); err != nil {
		return nil, nil, err
	}
	return raw, weights, nil
}

func (s AttentionShape) check(x, xq, w, u *G.Node) error {
	hd := s.Heads * s.Dim
	want := map[string]tensor.Shape{
		"x":  {s.N, s.Tokens, s.Dim},
		"xq": {s.N * s.Rows, s.Dim},
		"w":  {s.Dim, hd},
		"u":  {s.Rows * hd},
	}
	if s.PerSample {
		want["w"] = tensor.Shape{s.N, s.Dim, hd}
		want["u"] = tensor.Shape{s.N, s.Rows * hd}
	}
	for _, in := range []struct {
		name string
		node *G.Node
	}{{"x", x}, {"xq", xq}, {"w", w}, {"u", u}} {
		if !in.node.Shape().Eq(want[in.name]) {
			return fmt.Errorf("ops.Attention: %s has shape %v, want %v", in.name, in.node.Shape(), want[in.name])
		}
	}
	if s.N < 1 || s.Tokens < 1 || s.Dim < 1 || s.Rows < 1 || s.Heads < 1 {
		return fmt.Errorf("ops.Attention: sizes %+v must be >= 1", s)
	}
	return nil
}

// chunkRows bounds the query rows whose products are formed at once: a
// chunk's queries (or their gradients) stay in L2 between the GEMMs that
// make and consume them.
const chunkRows = 64

// attnState is the memory shared by an Attention op and its derivatives:
// allocated once, rewritten by every run of the forward op.
type attnState struct {
	AttentionShape
	chunk   int        // sequences per chunk
	bounds  []int      // parts of the batch: part p is sequences [bounds[p], bounds[p+1])
	bufs    []*workBuf // scratch of each goroutine
	xt      []float64  // per sequence, X^T: [N][d][T]
	a       []float64  // attention [N][Rows*H][T]
	centred []float64  // a * (<u, x_s> - sum_s' a_s' <u, x_s'>), same layout
	partU   []float64  // per part, its sequences' share of dU (shared U only)
	partW   []float64  // per part, its sequences' share of dW (shared W only)
	raw     *tensor.Dense
	weights *tensor.Dense
	gradU   *tensor.Dense
	gradW   *tensor.Dense
}

func newAttnState(s AttentionShape) *attnState {
	rowsH := s.Rows * s.Heads
	st := &attnState{
		AttentionShape: s,
		chunk:          max(1, min(s.N, chunkRows/s.Rows)),
		bounds:         partBounds(s.N),
		xt:             make([]float64, s.N*s.Dim*s.Tokens),
		a:              make([]float64, s.N*rowsH*s.Tokens),
		centred:        make([]float64, s.N*rowsH*s.Tokens),
		raw:            tensor.New(tensor.WithShape(s.N), tensor.Of(tensor.Float64)),
	}
	if s.PerSample {
		st.chunk = 1
	}
	return st
}

func (st *attnState) wShape() tensor.Shape {
	if st.PerSample {
		return tensor.Shape{st.N, st.Dim, st.Heads * st.Dim}
	}
	return tensor.Shape{st.Dim, st.Heads * st.Dim}
}

func (st *attnState) uShape() tensor.Shape {
	if st.PerSample {
		return tensor.Shape{st.N, st.Rows * st.Heads * st.Dim}
	}
	return tensor.Shape{st.Rows * st.Heads * st.Dim}
}

// forward fills xt, a, centred and raw.
func (st *attnState) forward(x, xq, w, u []float64) {
	raw := st.raw.Data().([]float64)
	st.forParts(func(buf *workBuf, p int) {
		st.forwardPart(buf, st.bounds[p], st.bounds[p+1], x, xq, w, u, raw)
	})
}

// forwardPart is forward for sequences lo..hi-1.
func (st *attnState) forwardPart(buf *workBuf, lo, hi int, x, xq, w, u, raw []float64) {
	t, d, rows := st.Tokens, st.Dim, st.Rows
	hd := st.Heads * d
	rowsH := rows * st.Heads
	td := t * d
	for i := lo; i < hi; i++ {
		xi, xti := x[i*td:(i+1)*td], st.xt[i*td:(i+1)*td]
		for s := 0; s < t; s++ {
			for k := 0; k < d; k++ {
				xti[k*t+s] = xi[s*d+k]
			}
		}
	}
	for i0 := lo; i0 < hi; i0 += st.chunk {
		c := min(st.chunk, hi-i0)
		wi := w
		if st.PerSample {
			wi = w[i0*d*hd:]
		}
		// Queries of the chunk: (c*Rows x d)(d x H*d); sequence i's block
		// read as (Rows*H x d) has row r*H+h = q_{i,r,h}.
		gemm.NN(c*rows, hd, d, xq[i0*rows*d:], d, wi, hd, buf.q, hd, false)
		for i := i0; i < i0+c; i++ {
			qi := buf.q[(i-i0)*rows*hd:]
			xti := st.xt[i*td : (i+1)*td]
			ai := st.a[i*rowsH*t : (i+1)*rowsH*t]
			ci := st.centred[i*rowsH*t : (i+1)*rowsH*t]
			ui := u
			if st.PerSample {
				ui = u[i*rowsH*d:]
			}
			gemm.NN(rowsH, t, d, qi, d, xti, t, ai, t, false)
			SoftmaxRows(ai, ai, t)
			gemm.NN(rowsH, t, d, ui, d, xti, t, ci, t, false) // <u_{r,h}, x_s>
			var sum float64
			for r := 0; r < rowsH; r++ {
				ar, cr := ai[r*t:(r+1)*t], ci[r*t:(r+1)*t]
				var m float64
				for s, v := range ar {
					// The conversion rounds the product, so no compiler
					// (arm64, GOAMD64=v3) fuses it into the sum.
					m += float64(v * cr[s])
				}
				for s, v := range ar {
					cr[s] = v * (cr[s] - m)
				}
				sum += m
			}
			raw[i] = sum
		}
	}
}

// grads returns g_i, the gradient of the loss with respect to raw_i.
func (st *attnState) grads(v G.Value, op string) ([]float64, error) {
	g, _, err := floats(op, v)
	if err != nil {
		return nil, err
	}
	if len(g) != 1 && len(g) != st.N {
		return nil, fmt.Errorf("ops.%s: gradient has %d entries, want %d", op, len(g), st.N)
	}
	return g, nil
}

func gradAt(g []float64, i int) float64 {
	if len(g) == 1 {
		return g[0]
	}
	return g[i]
}

// backwardU fills gradU: dU_{r,h} = sum_i g_i sum_s a_{i,r,h,s} x_{i,s}.
func (st *attnState) backwardU(x, g []float64) {
	t, d, rowsH := st.Tokens, st.Dim, st.Rows*st.Heads
	size := rowsH * d
	gu := st.gradU.Data().([]float64)
	if !st.PerSample && st.partU == nil {
		st.partU = make([]float64, (len(st.bounds)-1)*size)
	}
	st.forParts(func(buf *workBuf, p int) {
		lo, hi := st.bounds[p], st.bounds[p+1]
		for i := lo; i < hi; i++ {
			gi := gradAt(g, i)
			for k, v := range st.a[i*rowsH*t : (i+1)*rowsH*t] {
				buf.scratch[k] = gi * v
			}
			xi := x[i*t*d : (i+1)*t*d]
			if st.PerSample {
				gemm.NN(rowsH, d, t, buf.scratch, t, xi, d, gu[i*size:], d, false)
			} else {
				gemm.NN(rowsH, d, t, buf.scratch, t, xi, d, st.partU[p*size:], d, i > lo)
			}
		}
	})
	if !st.PerSample {
		sumParts(gu, st.partU)
	}
}

// backwardW fills gradW. The logit gradient of row (r,h) is g_i times
// centred (the softmax Jacobian applied to <u_{r,h}, x_s>), the query
// gradient is its product with X, and dW_h = sum_{i,r} xq_{i,r} dq_{i,r,h}^T.
func (st *attnState) backwardW(x, xq, g []float64) {
	t, d, rows := st.Tokens, st.Dim, st.Rows
	hd := st.Heads * d
	rowsH := rows * st.Heads
	size := d * hd
	gw := st.gradW.Data().([]float64)
	if !st.PerSample && st.partW == nil {
		st.partW = make([]float64, (len(st.bounds)-1)*size)
	}
	st.forParts(func(buf *workBuf, p int) {
		lo, hi := st.bounds[p], st.bounds[p+1]
		for i0 := lo; i0 < hi; i0 += st.chunk {
			c := min(st.chunk, hi-i0)
			for i := i0; i < i0+c; i++ {
				gi := gradAt(g, i)
				for k, v := range st.centred[i*rowsH*t : (i+1)*rowsH*t] {
					buf.scratch[k] = gi * v
				}
				gemm.NN(rowsH, d, t, buf.scratch, t, x[i*t*d:(i+1)*t*d], d, buf.q[(i-i0)*rows*hd:], d, false)
			}
			if st.PerSample {
				gemm.TN(d, hd, rows, xq[i0*rows*d:], d, buf.q, hd, gw[i0*size:], hd, false)
			} else {
				gemm.TN(d, hd, c*rows, xq[i0*rows*d:], d, buf.q, hd, st.partW[p*size:], hd, i0 > lo)
			}
		}
	})
	if !st.PerSample {
		sumParts(gw, st.partW)
	}
}

// attention is the forward op: (x, xq, w, u) -> raw.
type attention struct{ st *attnState }

func (*attention) Arity() int { return 4 }
func (*attention) Type() hm.Type {
	return hm.NewFnType(hm.TypeVariable('p'), hm.TypeVariable('q'), hm.TypeVariable('r'), hm.TypeVariable('s'),
		G.TensorType{Dims: 1, Of: tensor.Float64})
}
func (op *attention) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.st.N}, nil
}
func (*attention) ReturnsPtr() bool         { return false }
func (*attention) CallsExtern() bool        { return false }
func (*attention) OverwritesInput() int     { return -1 }
func (op *attention) WriteHash(h hash.Hash) { fmt.Fprintf(h, "Attention %p", op.st) }
func (op *attention) Hashcode() uint32      { return hashOf(op) }
func (*attention) String() string           { return "Attention" }
func (*attention) DiffWRT(int) []bool       { return []bool{false, false, true, true} }

func (op *attention) Do(in ...G.Value) (G.Value, error) {
	st := op.st
	sizes := []int{st.N * st.Tokens * st.Dim, st.N * st.Rows * st.Dim, st.wShape().TotalSize(), st.uShape().TotalSize()}
	vals := make([][]float64, 4)
	for k, v := range in {
		f, _, err := floats("Attention", v)
		if err != nil {
			return nil, err
		}
		if len(f) != sizes[k] {
			return nil, fmt.Errorf("ops.Attention: input %d has %d values, want %d", k, len(f), sizes[k])
		}
		vals[k] = f
	}
	st.forward(vals[0], vals[1], vals[2], vals[3])
	return st.raw, nil
}

func (op *attention) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, xq, w, u := inputs[0], inputs[1], inputs[2], inputs[3]
	du, err := G.ApplyOp(&attnGradU{op.st}, u, x, output, grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&attnGradW{op.st}, w, x, xq, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, nil, dw, du}, nil
}

// attnWeights copies the attention of the last forward run: raw -> weights.
type attnWeights struct{ st *attnState }

func (*attnWeights) Arity() int { return 1 }
func (*attnWeights) Type() hm.Type {
	return hm.NewFnType(hm.TypeVariable('p'), G.TensorType{Dims: 3, Of: tensor.Float64})
}
func (op *attnWeights) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.st.N, op.st.Rows * op.st.Heads, op.st.Tokens}, nil
}
func (*attnWeights) ReturnsPtr() bool         { return false }
func (*attnWeights) CallsExtern() bool        { return false }
func (*attnWeights) OverwritesInput() int     { return -1 }
func (op *attnWeights) WriteHash(h hash.Hash) { fmt.Fprintf(h, "AttentionWeights %p", op.st) }
func (op *attnWeights) Hashcode() uint32      { return hashOf(op) }
func (*attnWeights) String() string           { return "AttentionWeights" }
func (*attnWeights) DiffWRT(int) []bool       { return []bool{false} }
func (*attnWeights) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New("ops: attention weights are an output for analysis, not differentiable")
}

func (op *attnWeights) Do(...G.Value) (G.Value, error) {
	st := op.st
	if st.weights == nil {
		st.weights = tensor.New(tensor.WithShape(st.N, st.Rows*st.Heads, st.Tokens), tensor.Of(tensor.Float64))
	}
	copy(st.weights.Data().([]float64), st.a)
	return st.weights, nil
}

// attnGradU is the U derivative: (u, x, raw, g) -> dU, shaped like u.
type attnGradU struct{ st *attnState }

func (*attnGradU) Arity() int { return 4 }
func (*attnGradU) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, hm.TypeVariable('q'), hm.TypeVariable('r'), hm.TypeVariable('s'), a)
}
func (op *attnGradU) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.st.uShape(), nil }
func (*attnGradU) ReturnsPtr() bool                                  { return false }
func (*attnGradU) CallsExtern() bool                                 { return false }
func (*attnGradU) OverwritesInput() int                              { return -1 }
func (op *attnGradU) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "AttentionGradU %p", op.st) }
func (op *attnGradU) Hashcode() uint32                               { return hashOf(op) }
func (*attnGradU) String() string                                    { return "AttentionGradU" }
func (*attnGradU) DiffWRT(int) []bool                                { return []bool{false, false, false, false} }
func (*attnGradU) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New("ops: AttentionGradU has no derivative; take Hessian-vector products from gradient differences")
}

func (op *attnGradU) Do(in ...G.Value) (G.Value, error) {
	st := op.st
	x, _, err := floats("AttentionGradU", in[1])
	if err != nil {
		return nil, err
	}
	g, err := st.grads(in[3], "AttentionGradU")
	if err != nil {
		return nil, err
	}
	if st.gradU == nil {
		st.gradU = tensor.New(tensor.WithShape(st.uShape()...), tensor.Of(tensor.Float64))
	}
	st.backwardU(x, g)
	return st.gradU, nil
}

// attnGradW is the W derivative: (w, x, xq, raw, g) -> dW, shaped like w.
type attnGradW struct{ st *attnState }

func (*attnGradW) Arity() int { return 5 }
func (*attnGradW) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, hm.TypeVariable('q'), hm.TypeVariable('r'), hm.TypeVariable('s'), hm.TypeVariable('t'), a)
}
func (op *attnGradW) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.st.wShape(), nil }
func (*attnGradW) ReturnsPtr() bool                                  { return false }
func (*attnGradW) CallsExtern() bool                                 { return false }
func (*attnGradW) OverwritesInput() int                              { return -1 }
func (op *attnGradW) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "AttentionGradW %p", op.st) }
func (op *attnGradW) Hashcode() uint32                               { return hashOf(op) }
func (*attnGradW) String() string                                    { return "AttentionGradW" }
func (*attnGradW) DiffWRT(int) []bool                                { return []bool{false, false, false, false, false} }
func (*attnGradW) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New("ops: AttentionGradW has no derivative; take Hessian-vector products from gradient differences")
}

func (op *attnGradW) Do(in ...G.Value) (G.Value, error) {
	st := op.st
	x, _, err := floats("AttentionGradW", in[1])
	if err != nil {
		return nil, err
	}
	xq, _, err := floats("AttentionGradW", in[2])
	if err != nil {
		return nil, err
	}
	g, err := st.grads(in[4], "AttentionGradW")
	if err != nil {
		return nil, err
	}
	if st.gradW == nil {
		st.gradW = tensor.New(tensor.WithShape(st.wShape()...), tensor.Of(tensor.Float64))
	}
	st.backwardW(x, xq, g)
	return st.gradW, nil
}
