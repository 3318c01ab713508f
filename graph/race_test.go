package graph

import (
	"sync"
	"testing"

	"github.com/mhattn/mha/layers"
)

// TestConcurrentBuilds: models compiled and run by several goroutines at
// once (as a sweep's workers do) give the same loss as one built alone;
// under -race (the test command runs it so) shared Gorgonia state would
// be reported (when this test is the first to build a graph: Gorgonia
// caches the shared constants' hashes on first use; run it alone with
// -run to see the race without graph.buildMu).
func TestConcurrentBuilds(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 4, Dim: 6}
	data := randomData(8, 4, 6, 1)
	p := randomParams(t, c, 2)
	var wg sync.WaitGroup
	losses := make([]Eval, 8)
	for i := range losses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := NewModel(arch(t, c), p, data)
			if err != nil {
				t.Error(err)
				return
			}
			if losses[i], err = m.Step(0.1); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	want, err := newModel(t, c, p, data).Step(0.1)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range losses {
		if l != want {
			t.Errorf("goroutine %d: loss %v, want %v", i, l, want)
		}
	}
}
