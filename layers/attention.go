package layers

import (
	"fmt"

	"github.com/mhattn/mha/graph/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Outputs are the nodes of one forward pass over a batch of n sequences.
type Outputs struct {
	// Weights is the attention, shape [n, Rows*H, T]: row r*H+h is the
	// softmax of query r of head h over the T keys.
	Weights *G.Node
	// Phi is the model output, shape [n].
	Phi *G.Node
}

// Build adds the model to x's graph for a batch of n sequences.
//
//	x  [n, T, d]    the sequences
//	xq [n*Rows, d]  the query tokens: X itself reshaped (all-token) or x_1 of each sequence (first-token)
//	w  [d, H*d]     packed W shared by the batch, or [n, d, H*d] per-sample copies
//	u  [Rows*H*d]   packed U shared by the batch, or [n, Rows*H*d] per-sample copies
//
// Per-sample copies make sample i's Phi depend only on copy i, so one Grad
// of sum_i Phi_i yields every per-sample gradient.
func Build(c Config, x, xq, w, u *G.Node) (*Outputs, error) {
	xs := x.Shape()
	if len(xs) != 3 || xs[1] != c.Tokens || xs[2] != c.Dim {
		return nil, fmt.Errorf("layers.Build: x has shape %v, want [n %d %d]", xs, c.Tokens, c.Dim)
	}
	n, rows, heads, d := xs[0], c.Rows(), c.Heads, c.Dim
	perSample := w.Dims() == 3
	var q *G.Node
	var err error
	if perSample {
		var xb *G.Node
		if xb, err = G.Reshape(xq, tensor.Shape{n, rows, d}); err != nil {
			return nil, err
		}
		q, err = G.BatchedMatMul(xb, w)
	} else {
		q, err = G.Mul(xq, w)
	}
	if err != nil {
		return nil, fmt.Errorf("layers.Build: queries: %w", err)
	}
	if q, err = G.Reshape(q, tensor.Shape{n, rows * heads, d}); err != nil {
		return nil, err
	}
	logits, err := G.BatchedMatMul(q, x, false, true)
	if err != nil {
		return nil, fmt.Errorf("layers.Build: logits: %w", err)
	}
	weights, err := ops.RowSoftmax(logits)
	if err != nil {
		return nil, err
	}
	mixed, err := G.BatchedMatMul(weights, x)
	if err != nil {
		return nil, fmt.Errorf("layers.Build: mixing: %w", err)
	}
	flat, err := G.Reshape(mixed, tensor.Shape{n, rows * heads * d})
	if err != nil {
		return nil, err
	}
	var raw *G.Node
	if perSample {
		var prod *G.Node
		if prod, err = G.HadamardProd(flat, u); err == nil {
			raw, err = G.Sum(prod, 1)
		}
	} else {
		raw, err = G.Mul(flat, u)
	}
	if err != nil {
		return nil, fmt.Errorf("layers.Build: readout: %w", err)
	}
	phi, err := G.Mul(raw, G.NewConstant(c.ScaleFactor()))
	if err != nil {
		return nil, err
	}
	return &Outputs{Weights: weights, Phi: phi}, nil
}
