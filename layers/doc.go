// Package layers defines attention models as values and the blocks they
// are composed of, as Gorgonia subgraphs.
//
// # Models
//
// A Model lists its parameters (ParamSpec: name, shape, whether it trains,
// a seeded initialization) and builds Phi, and the attention weights where
// it has them, from an input node X [n, T, d]. Everything downstream —
// graph.Model, GD, the Evaluator, per-sample gradients, Hessian-vector
// products, parameter files, checkpoints and the experiment runner — takes
// any Model and never names a particular weight. Parameters travel as
// Params, a named list in the order of Specs; theta, the vector of the
// theory, is the trainable ones concatenated (Params.Trainable).
//
// Kinds are registered by name (Register, New, Kinds) so a configuration
// selects them: "paper" (default), "kq", "relu" and "value" ship here, and
// a program can register its own. The paper's model, for a sequence X in
// R^{T x d} (rows x_1..x_T) and H heads, is
//
//	Phi(theta; X) = scale(H) * sum_h < U_h , softmax_rows(X W_h X^T) X >
//
// with merged key-query matrices W_h in R^{d x d} ("W", [H, d, d]), merged
// value-readout matrices U_h in R^{T x d} ("U", [H, T, d]) and
// scale(H) = 1/sqrt(H) (or 1/H). Row t of softmax_rows(X W_h X^T) is the
// attention of query x_t, with logits x_t^T W_h x_s. The first-token
// variant keeps one query x_1 and one readout vector per head (U is
// [H, 1, d]) and has logits x_s^T W_h x_1. The other kinds change one
// block each: "kq" factors W_h = Q_h K_h^T (Q, K [H, d, r]), "relu"
// replaces each softmax row by relu(logits) / T, and "value" mixes
// X V_h (V [H, d, d], initialized to the identity) instead of X.
//
// # Blocks and engines
//
// The blocks (QueryTokens, Queries, FactoredKQ, Scores, SoftmaxWeights,
// ReLUWeights, Mix, MixValues, Readout, ScaleHeads) compute all heads of a
// batch at once; query rows of a sequence are laid out head-fastest, row
// r*H+h being query r of head h, so the heads' queries are one matrix
// product and the readout one more. They are built from our exact ops in
// layers/ops (batched products, permutations and reshapes that write into
// buffers allocated once, the row softmax shifted by each row's maximum,
// the stable logistic loss) and Gorgonia's primitives; Gorgonia's Grad
// differentiates every composition.
//
// The composition is the definition. The fused op ops.Attention is an
// accelerated implementation of exactly the paper's composition with a
// hand-derived backward; Config.Engine "auto" (default) uses it for kind
// "paper", "composed" forces the blocks and "fused" insists on the op.
// Tests check that both agree to rounding (graph package).
//
// # Randomness
//
// Initializations draw from explicit seeds (math/rand/v2 PCG, one stream
// per parameter: FillGaussian), never from the clock. A "zero-W" init has
// the same U as a "random" init of the same seed, and the first h heads of
// a larger model equal a smaller model's heads.
package layers
