// Package ops holds the Gorgonia operations this project needs and Gorgonia
// lacks or gets wrong.
//
// Gorgonia v0.9.18's SoftMax shifts every row by the first element of the
// whole tensor instead of each row's own maximum, so a row whose logits sit
// ~709 above that element overflows to NaN, and graphs containing it return
// wrong gradients from a later Grad. Its Softplus is off by about 1e-7. Both
// matter here: saturated attention (logits in the hundreds or thousands) is a
// regime the theory talks about, and the logistic loss is the training
// objective.
//
// RowSoftmax and Logistic are exact in float64 for any finite input. Each has a
// symbolic derivative (SymDiff) whose backward operation is a plain
// non-differentiable Op: the project never takes a second Grad of a graph
// (Hessian-vector products come from differences of gradients instead).
//
// Attention fuses the whole multi-head attention readout of a batch into
// one operation with a hand-derived backward pass (one op for U, one for W).
// It exists for speed: built from Gorgonia's BatchedMatMul, a step spent its
// time in thousands of tiny GEMM calls and reallocated ~200 MB of
// intermediates. Its products run on internal/gemm and its softmax
// exponentials on internal/vexp; its intermediates and outputs live in
// buffers owned by the op and reused by every run, so one graph must not be
// run from two goroutines at once (separate graphs are independent). Inside
// one run, each pass works on fixed parts of the batch with up to Threads()
// goroutines (SetThreads; GOMAXPROCS by default) and adds the parts'
// gradients in part order, so its results are the same bits for any number
// of goroutines, and, through internal/kernel, for either kernel. Its
// softmax is SoftmaxRows, the same per-row-max routine behind RowSoftmax;
// the model uses Attention, and RowSoftmax stays as the building block for
// attention variants composed from ordinary Gorgonia ops.
//
// All operations work on float64 *tensor.Dense values only.
package ops
