package layers

import (
	"fmt"

	"github.com/mhattn/mha/layers/ops"
	G "gorgonia.org/gorgonia"
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
	shape := ops.AttentionShape{
		N: xs[0], Tokens: c.Tokens, Dim: c.Dim, Rows: c.Rows(), Heads: c.Heads,
		PerSample: w.Dims() == 3,
	}
	// One fused op for all heads and samples: a product of n small graph
	// nodes per head would allocate its intermediates on every run and
	// spend the step in tiny GEMM calls.
	raw, weights, err := ops.Attention(shape, x, xq, w, u)
	if err != nil {
		return nil, fmt.Errorf("layers.Build: %w", err)
	}
	phi, err := G.Mul(raw, G.NewConstant(c.ScaleFactor()))
	if err != nil {
		return nil, err
	}
	return &Outputs{Weights: weights, Phi: phi}, nil
}
