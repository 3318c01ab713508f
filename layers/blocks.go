package layers

import (
	"fmt"

	"github.com/mhattn/mha/layers/ops"
	G "gorgonia.org/gorgonia"
)

// The blocks below are the pieces attention models are composed of. Each
// builds a Gorgonia subgraph from primitive ops and the exact ops of
// layers/ops; shapes use n sequences, T tokens, d dimensions, H heads and R
// query rows per head (T for all-token queries, 1 for first-token). Query
// rows of a sequence are laid out head-fastest: row r*H+h is query r of
// head h.

// QueryTokens returns the query tokens of x [n, T, d]: all of them,
// [n*T, d], or only x_1 of each sequence, [n, d], when firstToken is set.
func QueryTokens(x *G.Node, firstToken bool) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 3 {
		return nil, fmt.Errorf("layers.QueryTokens: x has shape %v, want [n T d]", s)
	}
	if !firstToken {
		return ops.Reshape(x, s[0]*s[1], s[2])
	}
	first, err := G.Slice(x, nil, G.S(0), nil)
	if err != nil {
		return nil, err
	}
	return ops.Reshape(first, s[0], s[2])
}

// Queries projects the query tokens of every head through merged key-query
// matrices: row r*H+h of sequence i is xq_{i,r}^T W_h, or W_h xq_{i,r} when
// transposed is set (the first-token model, whose logits are x_s^T W_h x_1).
//
//	xq [n*R, d], w [H, d, d]  ->  [n, R*H, d]
//
// All heads are one product xq (d x H*d): the heads side by side need no
// per-head matrix products.
func Queries(xq, w *G.Node, n int, transposed bool) (*G.Node, error) {
	ws := w.Shape()
	if len(ws) != 3 || ws[1] != ws[2] {
		return nil, fmt.Errorf("layers.Queries: w has shape %v, want [H d d]", ws)
	}
	heads, d := ws[0], ws[1]
	axes := []int{1, 0, 2} // packed[j, h, k] = W_h[j, k]
	if transposed {
		axes = []int{2, 0, 1} // packed[k, h, j] = W_h[j, k]
	}
	packed, err := ops.Permute(w, axes...) // read as d x H*d
	if err != nil {
		return nil, err
	}
	rows := xq.Shape()[0] / n
	// One product, read as [n, R*H, d] without a copy: row r of sequence i
	// holds the H queries of that token side by side.
	return ops.BatchedMatMulAs(xq, packed, false, false, ops.MatDims{Batch: 1, M: n * rows, K: d, N: heads * d}, n, rows*heads, d)
}

// packHeads permutes a per-head parameter and flattens it to a matrix.
func packHeads(p *G.Node, axes []int, rows, cols int) (*G.Node, error) {
	t, err := ops.Permute(p, axes...)
	if err != nil {
		return nil, err
	}
	return ops.Reshape(t, rows, cols)
}

// FactoredKQ merges factored query and key matrices into the key-query
// matrix of each head: W_h = Q_h K_h^T, so that x_t^T W_h x_s =
// (Q_h^T x_t)^T (K_h^T x_s).
//
//	q [H, d, r], k [H, d, r]  ->  [H, d, d]
func FactoredKQ(q, k *G.Node) (*G.Node, error) {
	return ops.BatchedMatMul(q, k, false, true)
}

// Scores are the attention logits of every query row against every key:
//
//	q [n, Q, d], x [n, T, d]  ->  [n, Q, T],  s[i, r, t] = <q_{i,r}, x_{i,t}>
func Scores(q, x *G.Node) (*G.Node, error) {
	return ops.BatchedMatMul(q, x, false, true)
}

// SoftmaxWeights normalizes scores [n, Q, T] row by row with the exact row
// softmax (each row shifted by its own maximum).
func SoftmaxWeights(s *G.Node) (*G.Node, error) { return ops.RowSoftmax(s) }

// ReLUWeights replaces the softmax by relu(s) / T: scores [n, Q, T] ->
// weights of the same shape, which need not sum to one.
func ReLUWeights(s *G.Node) (*G.Node, error) {
	r, err := G.Rectify(s)
	if err != nil {
		return nil, err
	}
	t := s.Shape()[len(s.Shape())-1]
	return G.Mul(r, G.NewConstant(1/float64(t)))
}

// Mix averages the tokens with the weights: a [n, Q, T], x [n, T, d] ->
// [n, Q, d], row r*H+h being sum_t a_{r*H+h, t} x_t.
func Mix(a, x *G.Node) (*G.Node, error) { return ops.BatchedMatMul(a, x, false, false) }

// MixValues is Mix through a value matrix per head: row r*H+h becomes
// sum_t a_{r*H+h, t} V_h^T x_t, i.e. the rows of A_h X V_h.
//
//	a [n, R*H, T], x [n, T, d], v [H, d, d]  ->  [n, R*H, d]
func MixValues(a, x, v *G.Node) (*G.Node, error) {
	as, xs, vs := a.Shape(), x.Shape(), v.Shape()
	n, t, d, heads := xs[0], xs[1], xs[2], vs[0]
	rows := as[1] / heads
	// Values of every head at once: X (d x H*d) -> [n, T, H, d] -> [n*H, T, d].
	packed, err := packHeads(v, []int{1, 0, 2}, d, heads*d)
	if err != nil {
		return nil, err
	}
	flat, err := ops.Reshape(x, n*t, d)
	if err != nil {
		return nil, err
	}
	xv, err := ops.BatchedMatMulAs(flat, packed, false, false, ops.MatDims{Batch: 1, M: n * t, K: d, N: heads * d}, n, t, heads, d)
	if err != nil {
		return nil, err
	}
	byHead, err := regroup(xv, []int{n, t, heads, d}, []int{n * heads, t, d})
	if err != nil {
		return nil, err
	}
	// Weights per head: [n, R, H, T] -> [n*H, R, T].
	ah, err := regroup(a, []int{n, rows, heads, t}, []int{n * heads, rows, t})
	if err != nil {
		return nil, err
	}
	m, err := ops.BatchedMatMul(ah, byHead, false, false) // [n*H, R, d]
	if err != nil {
		return nil, err
	}
	return regroup(m, []int{n, heads, rows, d}, []int{n, rows * heads, d})
}

// regroup reshapes x to from, swaps axes 1 and 2, and reshapes to to.
func regroup(x *G.Node, from, to []int) (*G.Node, error) {
	r, err := ops.Reshape(x, from...)
	if err != nil {
		return nil, err
	}
	p, err := ops.Permute(r, 0, 2, 1, 3)
	if err != nil {
		return nil, err
	}
	return ops.Reshape(p, to...)
}

// Readout is the linear readout summed over query rows and heads:
//
//	m [n, R*H, d], u [H, R, d]  ->  [n],  out_i = sum_{r,h} <U_h[r], m_{i, r*H+h}>
func Readout(m, u *G.Node) (*G.Node, error) {
	us := u.Shape()
	packed, err := packUReadout(u)
	if err != nil {
		return nil, err
	}
	ms := m.Shape()
	size := us[0] * us[1] * us[2]
	if ms.TotalSize() != ms[0]*size {
		return nil, fmt.Errorf("layers.Readout: m has shape %v, u %v: want [n %d %d]", ms, us, us[0]*us[1], us[2])
	}
	// m read as [n, R*H*d] times the packed U as a column.
	return ops.BatchedMatMulAs(m, packed, false, false, ops.MatDims{Batch: 1, M: ms[0], K: size, N: 1}, ms[0])
}

// packUReadout lays U [H, R, d] out in the order of the query rows,
// [R, H, d]: entry (r, h, k) is U_h[r, k].
func packUReadout(u *G.Node) (*G.Node, error) {
	us := u.Shape()
	if len(us) != 3 {
		return nil, fmt.Errorf("layers.Readout: u has shape %v, want [H R d]", us)
	}
	return ops.Permute(u, 1, 0, 2)
}

// ScaleHeads multiplies the summed heads by scale(H).
func ScaleHeads(phi *G.Node, factor float64) (*G.Node, error) {
	return G.Mul(phi, G.NewConstant(factor))
}
