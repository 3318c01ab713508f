package ops

import (
	"slices"

	"gorgonia.org/tensor"
)

// outBuffer is an op's output, allocated on the first run and rewritten by
// every later one: Gorgonia's tape machine would otherwise allocate (and
// clear) a fresh tensor per run, which for the [n, Q, T] intermediates of a
// composed model costs more than the arithmetic. An op value that owns an
// outBuffer belongs to one graph node; Read copies values out, so handing
// out the same tensor on every run is safe.
type outBuffer struct{ t *tensor.Dense }

// of returns the buffer shaped as shape, allocating only when the size
// changed. The tape machine shares registers between nodes whose values
// are dead, so another op may have written into (and reshaped) the buffer
// since the last run; its contents are rewritten by the caller anyway.
//
// Ops owning an outBuffer do not implement UsePreallocDoer: a shared
// register of equal size but another shape would be handed to them, and
// an op trusting its shape would compute on the wrong axes.
func (b *outBuffer) of(shape tensor.Shape) (*tensor.Dense, []float64) {
	switch {
	case b.t == nil || b.t.Shape().TotalSize() != shape.TotalSize():
		b.t = tensor.New(tensor.WithShape(shape.Clone()...), tensor.Of(tensor.Float64))
	case !slices.Equal([]int(b.t.Shape()), []int(shape)):
		if err := b.t.Reshape(shape...); err != nil {
			b.t = tensor.New(tensor.WithShape(shape.Clone()...), tensor.Of(tensor.Float64))
		}
	}
	return b.t, b.t.Data().([]float64)
}
