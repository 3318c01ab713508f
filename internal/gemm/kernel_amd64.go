package gemm

import (
	"unsafe"

	"github.com/mhattn/mha/internal/kernel"
)

// kernel4x8FMA is the AVX2/FMA micro-kernel; strides are in bytes.
//
//go:noescape
func kernel4x8FMA(k int, a unsafe.Pointer, rs, ks uintptr, b unsafe.Pointer, ldb uintptr, c unsafe.Pointer, ldc uintptr)

func kernel4x8(k int, a []float64, rs, ks int, b []float64, ldb int, c []float64, ldc int) {
	if !kernel.IsVectorized() {
		kernel4x8Go(k, a, rs, ks, b, ldb, c, ldc)
		return
	}
	// mul's bounds check covers every element the kernel touches:
	// a[3*rs + (k-1)*ks], b[(k-1)*ldb + 7] and c[3*ldc + 7].
	_ = a[3*rs+(k-1)*ks]
	_ = b[(k-1)*ldb+7]
	_ = c[3*ldc+7]
	kernel4x8FMA(k, unsafe.Pointer(&a[0]), uintptr(rs)*8, uintptr(ks)*8,
		unsafe.Pointer(&b[0]), uintptr(ldb)*8, unsafe.Pointer(&c[0]), uintptr(ldc)*8)
}
