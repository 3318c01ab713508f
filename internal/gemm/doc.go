// Package gemm multiplies small and medium row-major float64 matrices, the
// shapes a multi-head attention step is made of: per-sample products of a
// few hundred rows by T or d columns, and tall reductions over all samples.
//
// Matrices are float64 slices with a leading dimension (the stride between
// rows, in elements). NN computes C = A B and TN computes C = A^T B, each
// optionally accumulating into C. Both run on the calling goroutine only:
// parallelism belongs to the caller (one model per core in a sweep).
//
// On amd64 with AVX2 and FMA the 4 x 8 blocks of C come from an assembly
// micro-kernel reading A and B in place (no packing: the matrices here are
// small enough that packing would cost more than it saves); K is blocked so
// that a strip of B stays in L1 while the rows of A pass over it. Elsewhere
// the same blocking runs a plain Go kernel. Results do not depend on the
// kernel beyond rounding: the FMA kernel rounds once per multiply-add.
package gemm
