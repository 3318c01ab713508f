// Command sweep measures sweep throughput: P independent sweep points (one
// Model each, K GD steps) run by W worker goroutines, for several W. A step
// runs on one goroutine, so points in parallel are how a sweep uses every
// core; the wall time should fall as 1/W up to the core count and stay flat
// beyond it.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

func main() {
	points := flag.Int("points", 4, "sweep points (independent models)")
	steps := flag.Int("steps", 20, "GD steps per point")
	n := flag.Int("n", 512, "sequences")
	heads := flag.Int("heads", 4, "heads H")
	maxWorkers := flag.Int("workers", 4, "largest worker count tried (1, 2, ... up to it)")
	flag.Parse()
	cfg := layers.Config{Heads: *heads, Tokens: 16, Dim: 32}
	mix := datasets.DefaultMixture()
	mix.Dim, mix.Tokens = cfg.Dim, cfg.Tokens
	data, err := mix.Sample(*n, 1)
	if err != nil {
		fail(err)
	}
	fmt.Printf("# %s, GOMAXPROCS=%d, %d CPUs; %d points x %d steps at n=%d T=16 d=32 H=%d\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), *points, *steps, *n, *heads)
	fmt.Println("| workers | wall s | speed-up | CPU s / wall s | final losses agree |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	var base float64
	var ref []float64
	for w := 1; w <= *maxWorkers; w++ {
		cpu0 := cpuSeconds()
		wall, losses, err := sweep(cfg, data, *points, *steps, w)
		busy := (cpuSeconds() - cpu0) / wall
		if err != nil {
			fail(err)
		}
		if w == 1 {
			base, ref = wall, losses
		}
		same := true
		for i := range losses {
			same = same && losses[i] == ref[i]
		}
		fmt.Printf("| %d | %.2f | %.2f | %.2f | %v |\n", w, wall, base/wall, busy, same)
	}
}

// sweep runs the points on w workers and returns the wall time and each
// point's final loss (point p starts from seed p).
func sweep(cfg layers.Config, data *datasets.Dataset, points, steps, w int) (float64, []float64, error) {
	losses := make([]float64, points)
	errs := make([]error, points)
	jobs := make(chan int)
	var wg sync.WaitGroup
	t0 := time.Now()
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				losses[p], errs[p] = point(cfg, data, steps, uint64(p+1))
			}
		}()
	}
	for p := 0; p < points; p++ {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(t0).Seconds()
	for _, err := range errs {
		if err != nil {
			return 0, nil, err
		}
	}
	return wall, losses, nil
}

func point(cfg layers.Config, data *datasets.Dataset, steps int, seed uint64) (float64, error) {
	arch, err := layers.New(cfg)
	if err != nil {
		return 0, err
	}
	params, err := layers.NewParams(arch, layers.Init{Scheme: layers.InitRandom, UNorm: 1, WNorm: 1, Seed: seed})
	if err != nil {
		return 0, err
	}
	m, err := graph.NewModel(arch, params, data)
	if err != nil {
		return 0, err
	}
	final, err := graph.GD{StepSize: 0.5, Steps: steps}.Run(m, nil)
	return final.Loss, err
}

// cpuSeconds is the user+system time of this process so far: divided by the
// wall time it says how many cores the sweep kept busy, whatever else the
// machine runs.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/sweep:", err)
	os.Exit(1)
}
