package spectrum_test

import (
	"fmt"

	"github.com/mhattn/mha/theory"
	"github.com/mhattn/mha/theory/spectrum"
)

// A diagonal operator with eigenvalues -2, -1, 0, ..., 7: the instruments
// see it only through its products, like a model's Hessian.
func Example() {
	const dim = 10
	op := spectrum.Operator{Dim: dim, Apply: func(v, dst []float64) error {
		for i := range v {
			dst[i] = float64(i-2) * v[i]
		}
		return nil
	}}
	ext, err := spectrum.Extremes(op, 2, dim, 1)
	if err != nil {
		panic(err)
	}
	fmt.Printf("top %.3f %.3f, bottom %.3f %.3f\n", ext.Top[0].Value, ext.Top[1].Value, ext.Bottom[0].Value, ext.Bottom[1].Value)

	tr, err := spectrum.Trace(op, 1000, 1)
	if err != nil {
		panic(err)
	}
	// A diagonal operator has z^T H z = tr H for every +-1 vector z.
	fmt.Printf("trace %.3f ± %.3f\n", tr.Trace, tr.StdErr)

	q, err := spectrum.SLQ(op, 4, dim, 1)
	if err != nil {
		panic(err)
	}
	neg, err := q.Negative(0.5)
	if err != nil {
		panic(err)
	}
	fmt.Printf("below -0.5: %.3f of the spectrum, eigenvalue sum %.3f\n", neg.Fraction, neg.Sum)
	// Output:
	// top 7.000 6.000, bottom -2.000 -1.000
	// trace 25.000 ± 0.000
	// below -0.5: 0.200 of the spectrum, eigenvalue sum -3.000
}

// The NTK Gram of labelled gradients, block by block, and the margin of
// the NTK features on top of it.
func ExampleGram() {
	rows := [][]float64{{1, 0}, {0, 1}, {-1, 2}}
	labels := []float64{1, 1, -1}
	grads := spectrum.Gradients{N: 3, P: 2, Write: func(i0, i1 int, dst []float64) error {
		for i := i0; i < i1; i++ {
			copy(dst[(i-i0)*2:], rows[i])
		}
		return nil
	}}
	k, err := spectrum.Gram(grads, labels, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println(k)
	m := theory.MinNormPoint(k, 3, 0)
	fmt.Printf("margin %.4f\n", m.Gamma)
	// Output:
	// [1 0 1 0 1 -2 1 -2 5]
	// margin 0.3162
}
