// Package graph compiles any attention model of package layers (a
// layers.Model) into a Gorgonia graph over a batch and trains it by
// full-batch gradient descent.
//
// A Model holds one compiled graph for a training set: X (n x T x d) and the
// labels are inputs fixed at build time; the parameters, one input node per
// layers.ParamSpec, are backed by slices the graph reads on every run, so a
// GD step updates them in place and nothing is rebuilt. One run of the tape machine gives
// Phi for every sample, the empirical risk F = mean_i l(y_i Phi_i) with the
// logistic loss, and grad F from gorgonia.Grad over the trainable blocks.
//
// Conventions:
//
//   - float64 throughout; parameters are the named list of layers.Params,
//     each in its spec's shape, at the API and inside graphs.
//   - Vectors over the trainable parameters (gradients, Hessian-vector
//     products, per-sample gradients) use the layout of
//     layers.Params.Trainable: the trainable parameters in spec order.
//   - Parameter files: SaveParams writes <name>.npy per parameter and
//     params.json (kind, names, shapes); LoadParams checks them against
//     the model.
//   - Values leave a graph through gorgonia.Read into preallocated buffers
//     (a node's own Value may be a buffer the machine reuses); every run
//     starts with Reset.
//   - Only the subgraph the Read nodes need is compiled: gorgonia.Grad also
//     differentiates the data inputs, which nobody needs.
//   - Input nodes are always named: Gorgonia merges unnamed inputs of equal
//     type and shape into one node.
//
// Second derivatives never come from a second gorgonia.Grad, which returns
// wrong values on these graphs: Model.HessVec takes central differences of
// exact gradients, and SampleGradients gets per-sample gradients from a
// graph compiled for one sequence and run once per sample, or, for the
// paper's model on the fused engine, from its closed form
// (layers.ClosedFormSampleGradients: the fused op's backward without the
// sum over samples, about 4x faster, equal to the graph's to 1e-12).
//
// Memory: a data set of n > Options.ChunkSamples = B samples (default
// DefaultChunkSamples) is worked through in chunks: one graph compiled for
// B samples (and one for the n mod B left over) is run on each chunk in
// turn, its inputs refilled, and the chunks' shares of F = mean_i l_i and
// of grad F (sum over the chunk divided by n) are added in chunk order.
// Memory is then bounded by B, apart from the data set and the n values of
// Phi; n = 10^5 at T=16, d=32, H=16 trains within 2 GB (BENCHMARKS.md).
// The chunk bounds depend on n and B only, and each chunk's run gives the
// same bits for any ops.SetThreads, so a chunked run does too; it agrees
// with the whole batch to rounding (about 1e-15 relative), not bit for
// bit, because the mean is summed in another order. With n <= B the graph
// is the unchunked one, bit for bit.
//
// GD.Run reports every state theta_0..theta_K to a Recorder and stops with
// a *DivergedError naming the step when the loss or gradient stops being
// finite or the loss exceeds the threshold. Evaluator computes risk, 0-1
// error and attention on another dataset with its own graph, leaving the
// training state untouched. None of these types is safe for concurrent
// use; run one per goroutine.
package graph
