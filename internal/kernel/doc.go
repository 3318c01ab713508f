// Package kernel chooses which implementation of the numeric kernels
// (internal/gemm's micro-kernel, internal/vexp's exponential) runs: the
// AVX2/FMA assembly ("vectorized") or plain Go ("portable").
//
// Both compute exactly the same bits: the portable kernels perform the
// same floating-point operations in the same order, with math.FMA wherever
// the assembly fuses a multiply-add. The choice is therefore one of speed
// only, and a result computed on a machine without AVX2/FMA is byte for
// byte the one computed with it. Recording the kernel in a run's
// config.json makes that claim checkable. The price is paid on CPUs without
// an FMA instruction (x86 before 2013): math.FMA runs in software there, so
// the portable kernels are exact but many times slower. On arm64 and on
// amd64 with FMA it is one instruction.
//
// Only the kernels are covered: the Go compiler may itself fuse x*y + z
// elsewhere (it does on arm64, and on amd64 with GOAMD64=v3), so the same
// bits everywhere also need every machine to run one amd64 binary built
// with the default GOAMD64=v1.
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
