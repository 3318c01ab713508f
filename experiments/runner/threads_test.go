package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mhattn/mha/layers/ops"
)

// Workers share the cores with the threads of one step: a point sees
// max(1, cores/workers) threads, and the setting is restored after the run.
func TestWorkersShareCores(t *testing.T) {
	defer func(f func() int) { numCPU = f }(numCPU)
	numCPU = func() int { return 8 }
	before := ops.Threads()
	for _, tc := range []struct{ workers, points, want int }{
		{1, 3, 8}, {2, 3, 4}, {3, 3, 2}, {8, 8, 1}, {9, 10, 1},
		{4, 2, 4}, // only 2 points: 2 workers start, 4 threads each
	} {
		var mu sync.Mutex
		seen := map[int]bool{}
		e := Experiment{
			Name:     "threads",
			Defaults: func() Config { return newToy() },
			Point: func(ctx context.Context, w *Work) (Outcome, error) {
				mu.Lock()
				seen[ops.Threads()] = true
				mu.Unlock()
				return Outcome{Status: StatusOK, Record: map[string]int{"threads": ops.Threads()}}, nil
			},
		}
		c := newToy()
		c.Out = t.TempDir()
		c.Workers = tc.workers
		var vals []string
		for a := 1; a <= tc.points; a++ {
			vals = append(vals, fmt.Sprint(a))
		}
		c.Sweep = Axes{axis("a", vals...)}
		if _, err := Run(e, c, Options{}); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 1 || !seen[tc.want] {
			t.Errorf("%d workers, %d points on 8 cores: points saw threads %v, want %d", tc.workers, tc.points, seen, tc.want)
		}
		if got := ops.Threads(); got != before {
			t.Errorf("after the run: %d threads, want %d as before", got, before)
		}
	}
}

// The threads setting overrides the sharing: every point sees that many
// threads whatever the workers; it is a runner setting, so it does not
// change a point's identity; < 0 is refused naming the field.
func TestThreadsSetting(t *testing.T) {
	defer func(f func() int) { numCPU = f }(numCPU)
	numCPU = func() int { return 8 }
	var mu sync.Mutex
	seen := map[int]bool{}
	e := Experiment{
		Name:     "threads",
		Defaults: func() Config { return newToy() },
		Point: func(ctx context.Context, w *Work) (Outcome, error) {
			mu.Lock()
			seen[ops.Threads()] = true
			mu.Unlock()
			return Outcome{Status: StatusOK, Record: map[string]int{}}, nil
		},
	}
	c := newToy()
	c.Out = t.TempDir()
	c.Workers, c.Threads = 4, 3
	c.Sweep = Axes{axis("a", "1", "2", "3", "4")}
	if _, err := Run(e, c, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || !seen[3] {
		t.Errorf("threads = 3 with 4 workers: points saw threads %v, want 3", seen)
	}
	c2 := newToy()
	c2.Threads = 5
	if Identity("x", "v", c2) != Identity("x", "v", newToy()) {
		t.Error("threads changes the identity of a point")
	}
	c.Threads = -1
	_, err := Grid("threads", c, false, nil)
	if err == nil || !strings.Contains(err.Error(), "threads = -1") || !strings.Contains(err.Error(), "[0, 1024]") {
		t.Errorf("threads = -1: %v, want an error naming threads and [0, 1024]", err)
	}
}
