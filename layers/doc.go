// Package layers defines the multi-head softmax attention model of
// arXiv 2310.12680 and builds it as Gorgonia graph blocks.
//
// The model, for a sequence X in R^{T x d} (rows x_1..x_T) and H heads, is
//
//	Phi(theta; X) = scale(H) * sum_h < U_h , softmax_rows(X W_h X^T) X >
//
// with merged key-query matrices W_h in R^{d x d}, merged value-readout
// matrices U_h in R^{T x d}, and scale(H) = 1/sqrt(H) (or 1/H). Row t of
// softmax_rows(X W_h X^T) is the attention of query x_t over all keys, with
// logits x_t^T W_h x_s. The first-token variant keeps one query x_1 and one
// readout vector u_h in R^d per head: Phi = scale(H) sum_h u_h^T X^T
// softmax(X W_h x_1), whose logits are x_s^T W_h x_1.
//
// # Layouts
//
// Params holds the public layout, the one saved to .npy and shown to users:
// U is Heads x Rows x Dim (Rows = T, or 1 for first-token) and W is
// Heads x Dim x Dim, both row-major float64.
//
// Inside a graph all heads are computed at once. W is packed as one
// Dim x (Heads*Dim) matrix, so a single product X(n*Rows, d) x W(d, H*d)
// gives every head's query rows; reshaped to (n, Rows*H, d) it needs no
// transpose. Query row r*H+h of a sequence belongs to query r and head h.
// U is packed in the same (Rows, Heads, Dim) order so that the readout is one
// matrix-vector product. PackW, PackU and their inverses convert; first-token
// packs each W_h transposed, because its query is W_h x_1 rather than
// x_t^T W_h.
//
// Build accepts shared parameters (one W, one U for the whole batch) or
// per-sample copies (a leading batch axis on both), which is how per-sample
// gradients come from a single Grad.
//
// Random initialization draws from explicit seeds (math/rand/v2 PCG); U and W
// use separate streams, so a "zero-W" init has the same U as a "random" init
// of the same seed, and the first h heads of a larger model equal a smaller
// model's heads.
package layers
