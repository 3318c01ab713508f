// Command headsweep races a whole head sweep against the same sweep written
// in PyTorch (bench/torch_headsweep.py): same data, theta_0, step sizes,
// steps and logged steps, as issue 18 asks ("end to end").
//
// It first runs experiments/headsweep in-process on a fresh result
// directory with the given arguments, timing it from start to finish (data
// generation, the theory's columns, every logged step's test evaluation,
// files and plots included); then the PyTorch script reads that directory
// and repeats the training of every point (points one after another, the
// data loaded beforehand and not timed), and checks that each point's final
// train loss agrees with ours (relative difference < 1e-9, else exit 1).
//
//	go run ./bench/headsweep                             # the default sweep
//	go run ./bench/headsweep -- -heads 1,4,16 -steps 200  # a shorter one
//	GOMAXPROCS=1 go run ./bench/headsweep -procs 1 -- -set workers=1
//
// Both sides get the same cores: ours runs points on the runner's workers
// (default GOMAXPROCS, sharing the cores with intra-step threads), PyTorch
// on -procs worker processes (default GOMAXPROCS) of -threads threads each
// (default 1), dearest point first on both sides.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/mhattn/mha/experiments/headsweep/headsweep"
	"github.com/mhattn/mha/experiments/runner"
)

type torchPoint struct {
	Point       string  `json:"point"`
	Heads       int     `json:"heads"`
	Steps       int     `json:"steps"`
	Status      string  `json:"status"`
	GoStatus    string  `json:"go_status"`
	Seconds     float64 `json:"seconds"`
	GoSeconds   float64 `json:"go_seconds"`
	TrainLoss   float64 `json:"train_loss"`
	GoTrainLoss float64 `json:"go_train_loss"`
	Rel         float64 `json:"rel"`
	Training    float64 `json:"training_seconds"`
	Threads     int     `json:"threads"`
	Procs       int     `json:"procs"`
	Torch       string  `json:"torch"`
	Error       string  `json:"error"`
}

func main() {
	threads := flag.Int("threads", 1, "PyTorch threads per worker process")
	procs := flag.Int("procs", runtime.GOMAXPROCS(0), "PyTorch worker processes (points in parallel)")
	python := flag.String("python", "/usr/bin/python3", "interpreter that sees Debian's python3-torch")
	keep := flag.String("out", "", "result directory to keep (default: a temporary one, removed)")
	flag.Parse()
	dir := *keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mha-headsweep-race-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "hs")
	}
	logFile, err := os.Create(dir + ".log")
	if err != nil {
		fail(err)
	}
	defer logFile.Close()
	args := append(append([]string(nil), flag.Args()...), "-out", dir)
	fmt.Printf("# %s, GOMAXPROCS=%d, %d CPUs; %s; headsweep %v\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), flag.Args())
	t0 := time.Now()
	if code := runner.Main(headsweep.Experiment, args, logFile, logFile); code != 0 {
		fail(fmt.Errorf("headsweep exited %d (log in %s.log)", code, dir))
	}
	ours := time.Since(t0).Seconds()

	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "torch_headsweep.py")
	cmd := exec.Command(*python, script, dir, strconv.Itoa(*threads), strconv.Itoa(*procs))
	t := strconv.Itoa(*threads)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+t, "OPENBLAS_NUM_THREADS="+t, "MKL_NUM_THREADS="+t)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail(err)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	fmt.Println("| point | H | K | ours s (point) | PyTorch s (point) | ours/PyTorch | final train loss rel. diff |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	var worst float64
	var total torchPoint
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var p torchPoint
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			fail(fmt.Errorf("torch: %q: %w", sc.Text(), err))
		}
		switch {
		case p.Error != "":
			fail(fmt.Errorf("torch: %s", p.Error))
		case p.Point != "":
			fmt.Printf("| %s | %d | %d | %.2f | %.2f | %.2f | %.1e |\n", p.Point, p.Heads, p.Steps, p.GoSeconds, p.Seconds, p.GoSeconds/p.Seconds, p.Rel)
			if !(p.Rel < 1e-9) || p.Status != p.GoStatus {
				worst = max(worst, 1)
				fmt.Printf("# %s: PyTorch status %s loss %.17g, ours %s %.17g\n", p.Point, p.Status, p.TrainLoss, p.GoStatus, p.GoTrainLoss)
			}
		default:
			total = p
		}
	}
	if err := cmd.Wait(); err != nil {
		fail(fmt.Errorf("torch: %w", err))
	}
	fmt.Printf("# whole sweep: ours %.1f s (program start to end: data, theory columns, files and plots included), PyTorch %.1f s (first point's start to last point's end, data loading excluded; %d processes x %d threads, torch %s): ours/PyTorch = %.2f\n",
		ours, total.Training, total.Procs, total.Threads, total.Torch, ours/total.Training)
	if worst > 0 {
		fail(fmt.Errorf("final losses differ (see above)"))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/headsweep:", err)
	os.Exit(1)
}
