// Command spectrum races the instruments of theory/spectrum against the same
// computations in PyTorch (bench/torch_spectrum.py) on the same model, data
// and parameters, exchanged as .npy files: the top/bottom-k eigenvalues by
// Lanczos, Hutchinson's trace, stochastic Lanczos quadrature and the
// blockwise NTK Gram, with the same numbers of Hessian-vector products and
// gradient blocks on both sides. Before timing, PyTorch checks that both
// sides agree on the loss, on one Hessian-vector product and on the Gram.
//
//	go run ./bench/spectrum                  # reference size n=512 T=16 d=32 H=16
//	go run ./bench/spectrum -reps 3 -threads 2
//
// Both sides get the same number of threads (-threads, default 1): GOMAXPROCS
// for Go, torch.set_num_threads and OMP/OPENBLAS/MKL_NUM_THREADS for PyTorch.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/datasets/npy"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory/spectrum"
)

func main() {
	n := flag.Int("n", 512, "sequences")
	tokens := flag.Int("T", 16, "tokens per sequence")
	dim := flag.Int("d", 32, "token dimension")
	heads := flag.Int("H", 16, "heads")
	k := flag.Int("k", 5, "Extremes: eigenvalues at each end")
	iters := flag.Int("iters", 20, "Extremes and SLQ: Lanczos steps")
	probes := flag.Int("probes", 10, "Trace: Rademacher probes")
	starts := flag.Int("starts", 2, "SLQ: starts")
	block := flag.Int("block", 128, "Gram: samples per block")
	reps := flag.Int("reps", 3, "alternating repetitions")
	threads := flag.Int("threads", 1, "threads on each side")
	python := flag.String("python", "/usr/bin/python3", "interpreter that sees Debian's python3-torch")
	noTorch := flag.Bool("notorch", false, "time the Go side only")
	only := flag.String("only", "extremes,trace,slq,gram", "comma-separated instruments to race")
	flag.Parse()
	runtime.GOMAXPROCS(*threads)
	if err := run(*n, *tokens, *dim, *heads, *k, *iters, *probes, *starts, *block, *reps, *threads, *python, *noTorch, strings.Split(*only, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "bench/spectrum:", err)
		os.Exit(1)
	}
}

type torchSide struct {
	cmd *exec.Cmd
	in  *bufio.Writer
	out *bufio.Scanner
}

func (p *torchSide) ask(line string, v any) error {
	fmt.Fprintln(p.in, line)
	if err := p.in.Flush(); err != nil {
		return err
	}
	if !p.out.Scan() {
		return fmt.Errorf("torch: no answer to %q (%v)", line, p.out.Err())
	}
	return json.Unmarshal(p.out.Bytes(), v)
}

func startTorch(python, dir string, threads int) (*torchSide, string, error) {
	t := strconv.Itoa(threads)
	cmd := exec.Command(python, filepath.Join("bench", "torch_spectrum.py"), dir, t)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+t, "OPENBLAS_NUM_THREADS="+t, "MKL_NUM_THREADS="+t)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Sprintf("PyTorch skipped: cannot start %s: %v", python, err), nil
	}
	p := &torchSide{cmd: cmd, in: bufio.NewWriter(stdin), out: bufio.NewScanner(stdout)}
	p.out.Buffer(make([]byte, 1<<16), 1<<20)
	var hello struct {
		Ready   bool
		Error   string
		Threads int
		Torch   string
	}
	if !p.out.Scan() {
		cmd.Wait()
		return nil, "PyTorch skipped: torch_spectrum.py exited (is python3-torch installed? bench/setup.sh)", nil
	}
	if err := json.Unmarshal(p.out.Bytes(), &hello); err != nil || !hello.Ready {
		cmd.Wait()
		return nil, "PyTorch skipped: " + hello.Error, nil
	}
	if hello.Threads != threads {
		return nil, "", fmt.Errorf("torch runs %d threads, asked for %d", hello.Threads, threads)
	}
	return p, fmt.Sprintf("PyTorch %s, %d thread(s)", hello.Torch, hello.Threads), nil
}

func run(n, tokens, dim, heads, k, iters, probes, starts, block, reps, threads int, python string, noTorch bool, only []string) error {
	model, err := layers.New(layers.Config{Heads: heads, Tokens: tokens, Dim: dim})
	if err != nil {
		return err
	}
	mix := datasets.DefaultMixture()
	mix.Dim, mix.Tokens = dim, tokens
	data, err := mix.Sample(n, 1)
	if err != nil {
		return err
	}
	params, err := layers.NewParams(model, layers.DefaultInit())
	if err != nil {
		return err
	}
	m, err := graph.NewModel(model, params, data)
	if err != nil {
		return err
	}
	ev, err := m.Evaluate()
	if err != nil {
		return err
	}
	P := layers.NumTrainable(model)
	op := spectrum.Operator{Dim: P, Apply: func(v, dst []float64) error {
		_, err := m.HessVec(v, dst)
		return err
	}}
	sg, err := graph.NewSampleGradients(model)
	if err != nil {
		return err
	}
	grads := spectrum.Gradients{N: n, P: P, Write: func(i0, i1 int, dst []float64) error {
		_, err := sg.ComputeRange(params, data, i0, i1, dst)
		return err
	}}

	dir, err := os.MkdirTemp("", "mha-spectrum-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// One product and the Gram, for the agreement check.
	v := make([]float64, P)
	for i := range v {
		v[i] = math.Sin(float64(i) + 1)
	}
	hv, err := m.HessVec(v, nil)
	if err != nil {
		return err
	}
	gram, err := spectrum.Gram(grads, data.Y, block)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		shape []int
		data  []float64
	}{
		{"X", []int{n, tokens, dim}, data.X}, {"y", []int{n}, data.Y},
		{"U", params.List[0].Shape, params.Get("U")}, {"W", params.List[1].Shape, params.Get("W")},
		{"v", []int{P}, v}, {"hv", []int{P}, hv}, {"K", []int{n, n}, gram},
	} {
		if err := npy.WriteFile(filepath.Join(dir, f.name+".npy"), f.shape, f.data); err != nil {
			return err
		}
	}
	check, _ := json.Marshal(map[string]any{"loss": ev.Loss, "block": block})
	if err := os.WriteFile(filepath.Join(dir, "check.json"), check, 0o644); err != nil {
		return err
	}

	fmt.Printf("# %s, GOMAXPROCS=%d, n=%d T=%d d=%d H=%d, P=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), n, tokens, dim, heads, P)
	var torch *torchSide
	note := "PyTorch skipped: -notorch"
	if !noTorch {
		if torch, note, err = startTorch(python, dir, threads); err != nil {
			return err
		}
	}
	fmt.Printf("# %s\n", note)
	if torch != nil {
		defer func() {
			fmt.Fprintln(torch.in, "quit")
			torch.in.Flush()
			torch.cmd.Wait()
		}()
		var c struct{ Loss, HVP, Gram float64 }
		if err := torch.ask("check", &c); err != nil {
			return err
		}
		fmt.Printf("# agreement with PyTorch (relative): loss %.1e, one HVP %.1e (ours: central differences of exact gradients), Gram %.1e\n", c.Loss, c.HVP, c.Gram)
		if !(c.Loss < 1e-12 && c.HVP < 1e-5 && c.Gram < 1e-10) {
			return fmt.Errorf("the two sides disagree: loss %.3g, HVP %.3g, Gram %.3g", c.Loss, c.HVP, c.Gram)
		}
	}

	nb := (n + block - 1) / block
	instruments := []struct {
		name, work string
		ours       func() error
		torchCmd   string
	}{
		{"extremes", fmt.Sprintf("k=%d, %d Lanczos steps: %d HVPs", k, iters, iters+2*k), func() error {
			_, err := spectrum.Extremes(op, k, iters, 1)
			return err
		}, fmt.Sprintf("extremes %d %d", k, iters)},
		{"trace", fmt.Sprintf("%d Rademacher probes: %d HVPs", probes, probes), func() error {
			_, err := spectrum.Trace(op, probes, 1)
			return err
		}, fmt.Sprintf("trace %d", probes)},
		{"slq", fmt.Sprintf("%d starts x %d steps: %d HVPs, density on 512 points", starts, iters, starts*iters), func() error {
			q, err := spectrum.SLQ(op, starts, iters, 1)
			if err != nil {
				return err
			}
			grid, err := q.Grid(512, 1e-3)
			if err != nil {
				return err
			}
			_, err = q.Density(grid, 1e-3)
			return err
		}, fmt.Sprintf("slq %d %d", starts, iters)},
		{"gram", fmt.Sprintf("n=%d, blocks of %d: %d block gradient writes", n, block, 1+nb*(nb-1)/2), func() error {
			_, err := spectrum.Gram(grads, data.Y, block)
			return err
		}, fmt.Sprintf("gram %d", block)},
	}
	fmt.Println("| instrument | work | ours s (range) | PyTorch s (range) | ours/PyTorch |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, in := range instruments {
		if !slices.Contains(only, in.name) {
			continue
		}
		var oursT, torchT []float64
		for r := 0; r < reps; r++ {
			t0 := time.Now()
			if err := in.ours(); err != nil {
				return err
			}
			oursT = append(oursT, time.Since(t0).Seconds())
			if torch != nil {
				var res struct{ Seconds float64 }
				if err := torch.ask(in.torchCmd, &res); err != nil {
					return err
				}
				torchT = append(torchT, res.Seconds)
			}
		}
		row := fmt.Sprintf("| %s | %s | %s | ", in.name, in.work, secRange(oursT))
		if torch != nil {
			row += fmt.Sprintf("%s | **%.2f** |", secRange(torchT), median(oursT)/median(torchT))
		} else {
			row += "– | – |"
		}
		fmt.Println(row)
	}
	return nil
}

func median(v []float64) float64 {
	w := slices.Clone(v)
	slices.Sort(w)
	if len(w)%2 == 1 {
		return w[len(w)/2]
	}
	return (w[len(w)/2-1] + w[len(w)/2]) / 2
}

func secRange(v []float64) string {
	return fmt.Sprintf("%.2f (%.2f-%.2f)", median(v), slices.Min(v), slices.Max(v))
}
