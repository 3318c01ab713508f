// Package gemm multiplies small and medium row-major float64 matrices, the
// shapes a multi-head attention step is made of: per-sample products of a
// few hundred rows by T or d columns, and tall reductions over all samples.
//
// Matrices are float64 slices with a leading dimension (the stride between
// rows, in elements). NN computes C = A B and TN computes C = A^T B, each
// optionally accumulating into C. Both run on the calling goroutine only:
// parallelism belongs to the caller (layers/ops splits a batch over
// goroutines; a sweep runs several models at once).
//
// On amd64 with AVX2 and FMA the 4 x 8 blocks of C come from an assembly
// micro-kernel reading A and B in place (no packing: the matrices here are
// small enough that packing would cost more than it saves); with AVX-512,
// 8 x 16 blocks come from a zmm kernel where they fit (2-4x faster on the
// attention shapes). K is blocked so that a strip of B stays in L1 while
// the rows of A pass over it. Elsewhere,
// or with MHA_KERNEL=portable (see internal/kernel), the same blocking runs
// a Go kernel.
//
// Every element of C is computed by one rule, whatever the kernel, the
// shape or the element's place in it: for each block of kc = 256 terms in
// p order, s = 0, s = fma(op(A)[i,p], B[p,j], s) for each p of the block,
// then C[i,j] += s (C starts at 0 unless acc is set). The Go kernel and the
// edges use math.FMA, so the assembly and Go results are the same bits, and
// a row of C does not change when rows are added to or removed from A.
//
// Dots8x16 is the tile of a Gram matrix under the same rule: the dot
// products of 8 rows with 16 rows, both packed in panels of 8 rows term by
// term, so that every operand streams contiguously. On amd64 with AVX-512
// it runs on 16 zmm accumulators (about 100 GFLOP/s from L1 on the
// reference machine against 40 for the AVX2 kernel); elsewhere the AVX2
// kernel or Go computes the same chains, bit for bit.
package gemm
