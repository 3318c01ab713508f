package vexp

import (
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

var useFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// table holds the kernel's constants, each broadcast to four lanes:
// log2(e), ln2 high and low parts, the clamps, the exponent bias, then the
// Taylor coefficients 1/13! .. 1/0!.
var table = func() (t [20][4]float64) {
	set := func(i int, v float64) { t[i] = [4]float64{v, v, v, v} }
	set(0, math.Log2E)
	set(1, 6.93147180369123816490e-01) // ln2 high: few bits, so k*ln2Hi is exact
	set(2, 1.90821492927058770002e-10) // ln2 low
	set(3, lowest)
	set(4, highest)
	set(5, math.Float64frombits(1023))
	c := 1.0
	for k := 1; k <= 13; k++ {
		c /= float64(k)
	}
	for k := 13; k >= 0; k-- {
		set(6+13-k, c)
		c *= float64(k)
	}
	return t
}()

//go:noescape
func expAVX2(n int, dst, src unsafe.Pointer, table unsafe.Pointer)

// expVector exponentiates the longest multiple-of-4 prefix and returns its
// length.
func expVector(dst, src []float64) int {
	n := len(src) &^ 3
	if !useFMA || n == 0 {
		return 0
	}
	_ = dst[n-1]
	expAVX2(n/4, unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), unsafe.Pointer(&table))
	return n
}
