// Package kernel chooses which implementation of the numeric kernels
// (internal/gemm's micro-kernel, internal/vexp's exponential) runs: the
// AVX2/FMA assembly ("vectorized") or plain Go ("portable").
//
// Both compute exactly the same bits: the portable kernels perform the
// same floating-point operations in the same order, with math.FMA wherever
// the assembly fuses a multiply-add. The choice is therefore one of speed
// only, and a result computed on a machine without AVX2/FMA is byte for
// byte the one computed with it. Recording the kernel in a run's
// config.json makes that claim checkable.
//
// The environment variable MHA_KERNEL picks the kernel when the process
// starts: "" or "auto" (vectorized when the CPU has AVX2 and FMA, else
// portable), "vectorized" or "portable". A program should call Select
// first and exit 2 with its error when the value is not one of those;
// until then a bad value leaves the automatic choice in force.
//
// Use switches the kernel at run time (tests compare the two); it must not
// be called while a computation runs.
package kernel
