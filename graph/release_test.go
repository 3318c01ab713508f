package graph

import (
	"runtime"
	"testing"
	"weak"

	"github.com/mhattn/mha/layers"
)

// TestModelsAreFreed: a compiled and run model, evaluator and per-sample
// gradient program are garbage once dropped (a finalizer on a cycle kept
// every one of them alive until the process exited), for both engines.
func TestModelsAreFreed(t *testing.T) {
	for _, engine := range []string{layers.EngineFused, layers.EngineComposed} {
		c := layers.Config{Heads: 2, Tokens: 4, Dim: 6, Engine: engine}
		data := randomData(8, 4, 6, 1)
		p := randomParams(t, c, 2)
		var ptrs []func() bool
		func() {
			m := newModel(t, c, p, data)
			if _, err := m.Step(0.1); err != nil {
				t.Fatal(err)
			}
			// The graph's input buffers are on the tape machine's cycle.
			wm := weak.Make(&m.prog.full.params[0][0])
			ptrs = append(ptrs, func() bool { return wm.Value() == nil })
			e, err := NewEvaluator(arch(t, c), data)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Evaluate(p); err != nil {
				t.Fatal(err)
			}
			we := weak.Make(&e.prog.full.x[0])
			ptrs = append(ptrs, func() bool { return we.Value() == nil })
		}()
		for range 4 {
			runtime.GC()
		}
		for i, freed := range ptrs {
			if !freed() {
				t.Errorf("%s: object %d (model, evaluator) still reachable after GC", engine, i)
			}
		}
	}
}
