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

// expScalar is the scalar rule for the lanes the vector kernel leaves.
func expScalar(x float64) float64 {
	if x < lowest {
		return 0
	}
	return math.Exp(x)
}

// lowest is the smallest argument with a normal result; highest the
// largest argument whose result is finite, rounded down.
const (
	lowest  = -708
	highest = 709
)
