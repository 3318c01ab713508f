package ops

import (
	"fmt"
	"hash"
	"hash/fnv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// hashOf gives an Op's Hashcode from its WriteHash, as Gorgonia expects.
func hashOf(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// floats returns the float64 backing of a Value, or an error naming the op.
func floats(op string, v G.Value) ([]float64, tensor.Shape, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, nil, fmt.Errorf("ops.%s: want *tensor.Dense, got %T", op, v)
	}
	data, ok := t.Data().([]float64)
	if !ok {
		// A 1-element tensor may come back as a bare float64.
		if f, isScalar := t.Data().(float64); isScalar {
			return []float64{f}, t.Shape(), nil
		}
		return nil, nil, fmt.Errorf("ops.%s: want float64 data, got %v", op, t.Dtype())
	}
	return data, t.Shape(), nil
}

// preallocated returns prealloc's float64 backing when it has n elements.
func preallocated(op string, prealloc G.Value, n int) ([]float64, error) {
	out, _, err := floats(op, prealloc)
	if err != nil {
		return nil, err
	}
	if len(out) != n {
		return nil, fmt.Errorf("ops.%s: preallocated value has %d elements, want %d", op, len(out), n)
	}
	return out, nil
}

// writeHash is the shared WriteHash body: the op's name.
func writeHash(h hash.Hash, name string) { fmt.Fprint(h, name) }
