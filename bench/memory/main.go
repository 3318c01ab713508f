// Command memory trains the default model at large n in chunks of B samples
// (graph.Options.ChunkSamples) and reports the time per GD step and the
// peak resident memory of the process (VmHWM), to check that memory is
// bounded by B, not n (issue 18): n = 10^5 at T=16, d=32, H=16 within 2 GB.
//
//	go run ./bench/memory -n 100000 -chunk 1024 -steps 3
//
// The data set itself (n T d float64, 410 MB at n = 10^5) is part of the
// peak; so are the n values of Phi.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/layers/ops"
)

func main() {
	n := flag.Int("n", 100000, "sequences")
	heads := flag.Int("heads", 16, "heads H")
	chunk := flag.Int("chunk", graph.DefaultChunkSamples, "chunk samples B (graph.Options.ChunkSamples)")
	steps := flag.Int("steps", 3, "GD steps")
	threads := flag.Int("threads", 0, "intra-step threads (ops.SetThreads); 0 = GOMAXPROCS")
	flag.Parse()
	if *threads != 0 {
		if err := ops.SetThreads(*threads); err != nil {
			fail(fmt.Errorf("-threads: %w", err))
		}
	}
	cfg := layers.Config{Heads: *heads, Tokens: 16, Dim: 32}
	arch, err := layers.New(cfg)
	if err != nil {
		fail(err)
	}
	mix := datasets.DefaultMixture()
	mix.Dim, mix.Tokens = cfg.Dim, cfg.Tokens
	data, err := mix.Sample(*n, 1)
	if err != nil {
		fail(err)
	}
	afterData := peakKB()
	params, err := layers.NewParams(arch, layers.Init{Scheme: layers.InitRandom, UNorm: 1, WNorm: 1, Seed: 2})
	if err != nil {
		fail(err)
	}
	m, err := graph.NewModelOptions(arch, params, data, graph.Options{ChunkSamples: *chunk})
	if err != nil {
		fail(err)
	}
	t0 := time.Now()
	final, err := graph.GD{StepSize: 0.5, Steps: *steps}.Run(m, nil)
	if err != nil {
		fail(err)
	}
	wall := time.Since(t0).Seconds()
	fmt.Printf("# %s, GOMAXPROCS=%d, threads %d\n", runtime.Version(), runtime.GOMAXPROCS(0), ops.Threads())
	fmt.Printf("n=%d T=16 d=32 H=%d B=%d: %d steps (+1 evaluation) in %.1f s, %.2f s/evaluation; F(theta_K) = %.12g\n",
		*n, *heads, *chunk, *steps, wall, wall/float64(*steps+1), final.Loss)
	fmt.Printf("peak resident memory: %.0f MB after the data, %.0f MB after training\n", afterData/1024, peakKB()/1024)
}

// peakKB is VmHWM of this process in kB (0 without /proc).
func peakKB() float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(f), "%g", &kb)
			return kb
		}
	}
	return 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/memory:", err)
	os.Exit(1)
}
