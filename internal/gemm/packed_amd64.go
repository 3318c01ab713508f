package gemm

import (
	"unsafe"

	"github.com/mhattn/mha/internal/kernel"
	"golang.org/x/sys/cpu"
)

// hasAVX512 reports AVX-512 Foundation with the OS saving its registers
// (x/sys/cpu checks both).
var hasAVX512 = cpu.X86.HasAVX512F

// dots8x16AVX512 is Dots8x16 on 16 zmm accumulators; ldc is in bytes.
//
//go:noescape
func dots8x16AVX512(k int, a, b0, b1, c unsafe.Pointer, ldc uintptr)

func dots8x16(k int, a, b0, b1 []float64, c []float64, ldc int) {
	switch {
	case kernel.IsVectorized() && hasAVX512:
		dots8x16AVX512(k, unsafe.Pointer(&a[0]), unsafe.Pointer(&b0[0]), unsafe.Pointer(&b1[0]),
			unsafe.Pointer(&c[0]), uintptr(ldc)*8)
	case kernel.IsVectorized():
		// Four 4 x 8 tiles of the AVX2 kernel: the same chains.
		for r := 0; r < Panel; r += 4 {
			for j, b := range [][]float64{b0, b1} {
				kernel4x8FMA(k, unsafe.Pointer(&a[r]), 8, Panel*8, unsafe.Pointer(&b[0]), Panel*8,
					unsafe.Pointer(&c[r*ldc+j*Panel]), uintptr(ldc)*8)
			}
		}
	default:
		dots8x16Go(k, a, b0, b1, c, ldc)
	}
}

// cpuHasAVX512 is the machine's answer, whatever tests set hasAVX512 to.
func cpuHasAVX512() bool { return cpu.X86.HasAVX512F }

// kernel8x16AVX512 is kernel4x8FMA twice as tall and wide on zmm
// registers; strides are in bytes.
//
//go:noescape
func kernel8x16AVX512(k int, a unsafe.Pointer, rs, ks uintptr, b unsafe.Pointer, ldb uintptr, c unsafe.Pointer, ldc uintptr)

// wide reports whether mul may use kernel8x16.
func wide() bool { return hasAVX512 && kernel.IsVectorized() }

// kernel8x16 is C[0:8, 0:16] += op(A)[0:8, 0:k] B[0:k, 0:16] by the rule of
// kernel4x8Go, on AVX-512 (only when wide reports true).
func kernel8x16(k int, a []float64, rs, ks int, b []float64, ldb int, c []float64, ldc int) {
	_ = a[7*rs+(k-1)*ks]
	_ = b[(k-1)*ldb+15]
	_ = c[7*ldc+15]
	kernel8x16AVX512(k, unsafe.Pointer(&a[0]), uintptr(rs)*8, uintptr(ks)*8,
		unsafe.Pointer(&b[0]), uintptr(ldb)*8, unsafe.Pointer(&c[0]), uintptr(ldc)*8)
}
