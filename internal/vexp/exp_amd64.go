package vexp

import (
	"math"
	"unsafe"

	"github.com/mhattn/mha/internal/kernel"
)

// table holds the kernel's constants, each broadcast to four lanes:
// log2(e), ln2 high and low parts, the clamps, the exponent bias, then the
// Taylor coefficients 1/13! .. 1/0!.
var table = func() (t [20][4]float64) {
	set := func(i int, v float64) { t[i] = [4]float64{v, v, v, v} }
	set(0, math.Log2E)
	set(1, ln2Hi)
	set(2, ln2Lo)
	set(3, lowest)
	set(4, highest)
	set(5, math.Float64frombits(1023))
	for i, c := range coef {
		set(6+i, c)
	}
	return t
}()

//go:noescape
func expAVX2(n int, dst, src unsafe.Pointer, table unsafe.Pointer)

// expVector exponentiates the longest multiple-of-4 prefix and returns its
// length.
func expVector(dst, src []float64) int {
	n := len(src) &^ 3
	if !kernel.IsVectorized() || n == 0 {
		return 0
	}
	_ = dst[n-1]
	expAVX2(n/4, unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), unsafe.Pointer(&table))
	return n
}
