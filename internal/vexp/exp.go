package vexp

import "math"

// Exp sets dst[i] = e^src[i]; dst and src may be the same slice.
func Exp(dst, src []float64) {
	if len(dst) < len(src) {
		panic("vexp.Exp: dst shorter than src")
	}
	n := expVector(dst, src)
	for i := n; i < len(src); i++ {
		dst[i] = expScalar(src[i])
	}
}

// lowest is the smallest argument with a normal result; highest the
// largest argument whose result is finite, rounded down.
const (
	lowest  = -708
	highest = 709
)

// Cody-Waite split of ln 2: ln2Hi has few enough bits that k*ln2Hi is
// exact for every k the clamp allows.
const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
)

// coef holds the Taylor coefficients 1/13!, 1/12!, ..., 1/0! in Horner
// order, computed the same way for both kernels.
var coef = func() (c [14]float64) {
	v := 1.0
	for k := 1; k <= 13; k++ {
		v /= float64(k)
	}
	for k := 13; k >= 0; k-- {
		c[13-k] = v
		v *= float64(k)
	}
	return c
}()

// expScalar is the portable kernel, one lane of the vector kernel
// (exp_amd64.s) operation by operation: clamp, k = round-to-even(x log2 e),
// r = x - k ln2Hi - k ln2Lo by two fused multiply-adds, Horner with fused
// multiply-adds, one multiplication by 2^k, and 0 below lowest. NaN stays
// NaN; above highest the result is e^highest.
func expScalar(x float64) float64 {
	if x < lowest {
		return 0
	}
	xc := x
	if xc > highest {
		xc = highest
	}
	k := math.RoundToEven(xc * math.Log2E)
	r := math.FMA(-k, ln2Hi, xc)
	r = math.FMA(-k, ln2Lo, r)
	p := coef[0]
	for _, c := range coef[1:] {
		p = math.FMA(p, r, c)
	}
	return p * math.Float64frombits(uint64(int64(k)+1023)<<52)
}
