// Command step races one full-batch GD step of this project's graph, on the
// fused op and on the composition of blocks, against the same step in
// PyTorch (bench/torch_step.py), on the same data and parameters, in one
// run: the three sides alternate blocks of steps for
// several repetitions, and the table reports the median time per step (with
// the range over repetitions), the ratio ours/PyTorch and the GFLOP/s
// achieved as a fraction of the machine's float64 peak. Run it through
// bench/run.sh.
//
// Threads: our step runs on one goroutine (Gorgonia's tape and the fused
// attention op are sequential); PyTorch gets torch.set_num_threads(-threads)
// and OMP/OpenBLAS thread variables to match, 1 by default.
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
)

type size struct{ n, t, d, h int }

func (s size) String() string { return fmt.Sprintf("n=%d T=%d d=%d H=%d", s.n, s.t, s.d, s.h) }

// flops is the analytic count of one step of the default model (Rows = T):
// forward Q = Xq W (2 n T d Hd), logits and readout products (2 x 2 n T H T d),
// backward dU and dQ (2 x 2 n T H T d) and dW = Xq^T dQ (2 n T d Hd), i.e.
// 4 n T H d (d + 2T); softmax, exp and the loss are O(n T H T) and left out.
func (s size) flops() float64 {
	return 4 * float64(s.n*s.t*s.h*s.d) * float64(s.d+2*s.t)
}

func parseSizes(spec string) ([]size, error) {
	var out []size
	for _, f := range strings.Split(spec, ",") {
		var s size
		if _, err := fmt.Sscanf(f, "%dx%dx%dx%d", &s.n, &s.t, &s.d, &s.h); err != nil {
			return nil, fmt.Errorf("size %q: want NxTxDxH: %v", f, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func main() {
	sizes := flag.String("sizes", "256x8x16x8,512x16x32x16,1024x16x32x64", "comma-separated NxTxDxH")
	reps := flag.Int("reps", 7, "alternating repetitions per size")
	block := flag.Duration("block", 400*time.Millisecond, "target duration of one block of steps")
	threads := flag.Int("threads", 1, "PyTorch threads (our step uses one)")
	python := flag.String("python", "/usr/bin/python3", "interpreter that sees Debian's python3-torch")
	noTorch := flag.Bool("notorch", false, "time the Go side only")
	flag.Parse()
	list, err := parseSizes(*sizes)
	if err != nil {
		fail(err)
	}
	peak, peakNote := peakPerCore()
	fmt.Printf("# %s, GOMAXPROCS=%d, %d CPUs; PyTorch threads %d\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), *threads)
	fmt.Printf("# float64 peak per core %.1f GFLOP/s (%s)\n", peak/1e9, peakNote)
	fmt.Printf("# fraction of peak = achieved GFLOP/s / (peak per core x threads), FLOPs per step = 4 n T H d (d + 2T)\n")
	fmt.Println("| size | GFLOP/step | fused ms/step (range) | composed ms/step (range) | PyTorch ms/step (range) | fused/PyTorch | composed/PyTorch | composed/fused | fused GFLOP/s (peak) | PyTorch GFLOP/s (peak) | loss check |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, s := range list {
		if err := race(s, *reps, *block, *threads, *python, *noTorch, &peak); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/step:", err)
	os.Exit(1)
}

// peakPerCore derives the float64 peak of one core from its clock: AVX2 with
// two 256-bit FMA pipes is 2 x 4 x 2 = 16 FLOP per cycle (Zen 2/3, Haswell and
// later); without AVX2, 4 (SSE2, two pipes).
func peakPerCore() (float64, string) {
	mhz := 0.0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "cpu MHz") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(line[strings.Index(line, ":")+1:]), 64); err == nil {
					mhz = f
					break
				}
			}
		}
	}
	if mhz == 0 {
		return math.NaN(), "clock unknown"
	}
	perCycle := 16.0
	return mhz * 1e6 * perCycle, fmt.Sprintf("%.0f MHz x %g FLOP/cycle: 2 FMA pipes x 4 float64 lanes x 2", mhz, perCycle)
}

// torchSide is the PyTorch process of one size.
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

func startTorch(python, dir string, threads int, eta float64) (*torchSide, string, error) {
	script := filepath.Join("bench", "torch_step.py")
	cmd := exec.Command(python, script, dir, strconv.Itoa(threads), strconv.FormatFloat(eta, 'g', -1, 64))
	t := strconv.Itoa(threads)
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
		return nil, "PyTorch skipped: torch_step.py exited (is python3-torch installed? bench/setup.sh)", nil
	}
	if err := json.Unmarshal(p.out.Bytes(), &hello); err != nil || !hello.Ready {
		cmd.Wait()
		msg := hello.Error
		if msg == "" {
			msg = fmt.Sprintf("unexpected answer %q", p.out.Text())
		}
		return nil, "PyTorch skipped: " + msg, nil
	}
	if hello.Threads != threads {
		return nil, "", fmt.Errorf("torch runs %d threads, asked for %d", hello.Threads, threads)
	}
	return p, "", nil
}

func race(s size, reps int, block time.Duration, threads int, python string, noTorch bool, peak *float64) error {
	cfg := layers.Config{Heads: s.h, Tokens: s.t, Dim: s.d, Engine: layers.EngineFused}
	fusedModel, err := layers.New(cfg)
	if err != nil {
		return err
	}
	cfg.Engine = layers.EngineComposed
	composedModel, err := layers.New(cfg)
	if err != nil {
		return err
	}
	mix := datasets.DefaultMixture()
	mix.Dim, mix.Tokens = s.d, s.t
	data, err := mix.Sample(s.n, 1)
	if err != nil {
		return err
	}
	params, err := layers.NewParams(fusedModel, layers.Init{Scheme: layers.InitRandom, UNorm: 1, WNorm: 1, Seed: 2})
	if err != nil {
		return err
	}
	const eta = 0.5
	dir, err := os.MkdirTemp("", "mha-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, f := range []struct {
		name  string
		shape []int
		data  []float64
	}{
		{"X", []int{s.n, s.t, s.d}, data.X}, {"y", []int{s.n}, data.Y},
	} {
		if err := npy.WriteFile(filepath.Join(dir, f.name+".npy"), f.shape, f.data); err != nil {
			return err
		}
	}
	for _, q := range params.List {
		if err := npy.WriteFile(filepath.Join(dir, q.Name+".npy"), q.Shape, q.Data); err != nil {
			return err
		}
	}

	// The loss after 10 steps, for the fairness check: both engines.
	var models []*graph.Model
	var ours float64
	for _, arch := range []layers.Model{fusedModel, composedModel} {
		m, err := graph.NewModel(arch, params, data)
		if err != nil {
			return err
		}
		final, err := graph.GD{StepSize: eta, Steps: 10}.Run(m, nil)
		if err != nil {
			return err
		}
		if len(models) == 0 {
			ours = final.Loss
		} else if rel := math.Abs(final.Loss-ours) / ours; !(rel < 1e-9) {
			return fmt.Errorf("%v: losses after 10 steps differ: fused %.17g, composed %.17g", s, ours, final.Loss)
		}
		models = append(models, m)
	}

	var torch *torchSide
	note := "PyTorch skipped: -notorch"
	if !noTorch {
		if torch, note, err = startTorch(python, dir, threads, eta); err != nil {
			return err
		}
	}
	check := note
	if torch != nil {
		defer func() {
			fmt.Fprintln(torch.in, "quit")
			torch.in.Flush()
			torch.cmd.Wait()
		}()
		var c struct{ Torch, Go, Rel float64 }
		if err := torch.ask(fmt.Sprintf("check %.17g", ours), &c); err != nil {
			return err
		}
		check = fmt.Sprintf("F(θ10) %.12g vs %.12g, rel %.1e", c.Go, c.Torch, c.Rel)
		if !gemmReported {
			var g struct{ GFLOPS float64 }
			if err := torch.ask("gemm", &g); err != nil {
				return err
			}
			fmt.Printf("# measured: PyTorch (OpenBLAS) float64 1024^3 matmul on %d thread(s): %.1f GFLOP/s = %.0f%% of the derived peak\n", threads, g.GFLOPS, 100*g.GFLOPS*1e9/(*peak*float64(threads)))
			if perCore := g.GFLOPS * 1e9 / float64(threads); perCore > *peak {
				// The nominal clock understates a boosting core: the
				// measured rate is then the better (still lower) bound.
				*peak = perCore
				fmt.Printf("# peak per core used below: the measured %.1f GFLOP/s\n", perCore/1e9)
			}
			gemmReported = true
		}
		if !(c.Rel < 1e-9) {
			return fmt.Errorf("%v: losses after 10 steps differ: ours %.17g, PyTorch %.17g (relative %.3g)", s, c.Go, c.Torch, c.Rel)
		}
	}

	// Size the blocks from one timed step of each side.
	kOurs := make([]int, len(models))
	for i, m := range models {
		t0 := time.Now()
		if _, err := m.Step(eta); err != nil {
			return err
		}
		kOurs[i] = max(1, int(block.Seconds()/time.Since(t0).Seconds()))
	}
	kTorch := 0
	if torch != nil {
		var r struct{ Seconds float64 }
		if err := torch.ask("step 1", &r); err != nil {
			return err
		}
		kTorch = max(1, int(block.Seconds()/r.Seconds))
	}
	oursT := make([][]float64, len(models))
	var torchT []float64
	for r := 0; r < reps; r++ {
		for i, m := range models {
			t0 := time.Now()
			for k := 0; k < kOurs[i]; k++ {
				if _, err := m.Step(eta); err != nil {
					return err
				}
			}
			oursT[i] = append(oursT[i], time.Since(t0).Seconds()/float64(kOurs[i]))
		}
		if torch != nil {
			var res struct{ Seconds float64 }
			if err := torch.ask(fmt.Sprintf("step %d", kTorch), &res); err != nil {
				return err
			}
			torchT = append(torchT, res.Seconds/float64(kTorch))
		}
	}
	f := s.flops()
	mf, mc := median(oursT[0]), median(oursT[1])
	row := fmt.Sprintf("| %v | %.3f | %s | %s | ", s, f/1e9, msRange(oursT[0]), msRange(oursT[1]))
	if torch != nil {
		mt := median(torchT)
		row += fmt.Sprintf("%s | **%.2f** | **%.2f** | %.2f | ", msRange(torchT), mf/mt, mc/mt, mc/mf)
		row += fmt.Sprintf("%.1f (%.0f%%) | %.1f (%.0f%%) | %s |", f/mf/1e9, 100*f/mf / *peak, f/mt/1e9, 100*f/mt/(*peak*float64(threads)), check)
	} else {
		row += fmt.Sprintf("– | – | – | %.2f | %.1f (%.0f%%) | – | %s |", mc/mf, f/mf/1e9, 100*f/mf / *peak, check)
	}
	fmt.Println(row)
	return nil
}

var gemmReported bool

func median(v []float64) float64 {
	w := slices.Clone(v)
	slices.Sort(w)
	if len(w)%2 == 1 {
		return w[len(w)/2]
	}
	return (w[len(w)/2-1] + w[len(w)/2]) / 2
}

func msRange(v []float64) string {
	return fmt.Sprintf("%.2f (%.2f–%.2f)", 1e3*median(v), 1e3*slices.Min(v), 1e3*slices.Max(v))
}
