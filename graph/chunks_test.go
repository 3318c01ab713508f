package graph

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/layers/ops"
)

// chunkRun trains c with chunk size B on data and returns the loss of every
// step, the last gradient, the final parameters and Phi.
func chunkRun(t *testing.T, c layers.Config, data *datasets.Dataset, chunk, steps int) (losses, grad, theta, phi []float64) {
	t.Helper()
	m, err := NewModelOptions(arch(t, c), randomParams(t, c, 41), data, Options{ChunkSamples: chunk})
	if err != nil {
		t.Fatal(err)
	}
	_, err = GD{StepSize: 0.3, Steps: steps}.Run(m, RecorderFunc(func(p Progress) error {
		losses = append(losses, p.Loss)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return losses, m.Gradient(nil), m.Params().Trainable(arch(t, c), nil), m.Phi()
}

func chunkConfigs() []layers.Config {
	return []layers.Config{
		{Heads: 3, Tokens: 5, Dim: 4},
		{Heads: 2, Tokens: 4, Dim: 3, Query: layers.FirstToken, Train: layers.TrainW},
		{Heads: 3, Tokens: 5, Dim: 4, Engine: layers.EngineComposed},
		{Heads: 2, Tokens: 4, Dim: 3, Kind: layers.KindKQ},
		{Heads: 2, Tokens: 4, Dim: 3, Kind: layers.KindValue, Train: layers.TrainU},
	}
}

// Chunks of any size compute the risk, gradient and GD path of the whole
// batch up to rounding (the mean is summed in another order); a chunk as
// large as the batch computes them bit for bit.
func TestChunksMatchWholeBatch(t *testing.T) {
	const n = 23
	for _, c := range chunkConfigs() {
		t.Run(name(c), func(t *testing.T) {
			data := randomData(n, c.Tokens, c.Dim, 42)
			wantLoss, wantGrad, wantTheta, wantPhi := chunkRun(t, c, data, n, 6)
			for _, chunk := range []int{1, 4, 5, 22, n, 1000} {
				loss, grad, theta, phi := chunkRun(t, c, data, chunk, 6)
				if chunk >= n {
					sameBits(t, fmt.Sprintf("B=%d loss", chunk), loss, wantLoss)
					sameBits(t, fmt.Sprintf("B=%d gradient", chunk), grad, wantGrad)
					sameBits(t, fmt.Sprintf("B=%d theta", chunk), theta, wantTheta)
					continue
				}
				for _, v := range []struct {
					what      string
					got, want []float64
				}{{"loss", loss, wantLoss}, {"gradient", grad, wantGrad}, {"theta", theta, wantTheta}, {"phi", phi, wantPhi}} {
					if d := relDiff(v.got, v.want); !(d < 1e-12) {
						t.Errorf("B=%d: %s differs from the whole batch's by %.3g (relative)", chunk, v.what, d)
					}
				}
			}
		})
	}
}

// A chunked run gives the same bits for every thread count and every
// repetition: chunk bounds depend on n and B only and the chunk sums are
// added in chunk order.
func TestChunksGiveSameBitsForAnyThreads(t *testing.T) {
	defer ops.SetThreads(ops.Threads())
	for _, c := range []layers.Config{
		{Heads: 4, Tokens: 6, Dim: 5},
		{Heads: 8, Tokens: 16, Dim: 16, Engine: layers.EngineComposed},
	} {
		t.Run(name(c), func(t *testing.T) {
			data := randomData(75, c.Tokens, c.Dim, 43)
			var lossOne, gradOne, thetaOne []float64
			for i, threads := range []int{1, 2, 3, 8, 1} {
				if err := ops.SetThreads(threads); err != nil {
					t.Fatal(err)
				}
				loss, grad, theta, _ := chunkRun(t, c, data, 16, 4)
				if i == 0 {
					lossOne, gradOne, thetaOne = loss, grad, theta
					continue
				}
				sameBits(t, fmt.Sprintf("loss with %d threads", threads), loss, lossOne)
				sameBits(t, fmt.Sprintf("gradient with %d threads", threads), grad, gradOne)
				sameBits(t, fmt.Sprintf("theta with %d threads", threads), theta, thetaOne)
			}
		})
	}
}

// HessVec of a chunked model is the whole batch's up to rounding.
func TestChunkedHessVec(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 4, Dim: 3}
	data := randomData(19, c.Tokens, c.Dim, 44)
	p := randomParams(t, c, 45)
	v := make([]float64, layers.NumTrainable(arch(t, c)))
	for i := range v {
		v[i] = math.Sin(float64(i + 1))
	}
	var want []float64
	for _, chunk := range []int{19, 5} {
		m, err := NewModelOptions(arch(t, c), p, data, Options{ChunkSamples: chunk})
		if err != nil {
			t.Fatal(err)
		}
		hv, err := m.HessVec(v, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = hv
			continue
		}
		if d := relDiff(hv, want); !(d < 1e-8) {
			t.Errorf("B=%d: HessVec differs from the whole batch's by %.3g (relative)", chunk, d)
		}
	}
}

// A chunked Evaluator reports the whole batch's risk, error, Phi, relevant
// mass and attention weights.
func TestChunkedEvaluator(t *testing.T) {
	for _, c := range []layers.Config{
		{Heads: 3, Tokens: 5, Dim: 4},
		{Heads: 2, Tokens: 4, Dim: 3, Query: layers.FirstToken, Engine: layers.EngineComposed},
		{Heads: 2, Tokens: 4, Dim: 3, Kind: layers.KindValue},
	} {
		t.Run(name(c), func(t *testing.T) {
			data := randomData(21, c.Tokens, c.Dim, 46)
			p := randomParams(t, c, 47)
			var want *Evaluator
			var wantEval Eval
			for _, chunk := range []int{0, 1, 4, 7} {
				e, err := NewEvaluatorOptions(arch(t, c), data, Options{ChunkSamples: chunk})
				if err != nil {
					t.Fatal(err)
				}
				ev, err := e.Evaluate(p)
				if err != nil {
					t.Fatal(err)
				}
				if want == nil {
					want, wantEval = e, ev
					continue
				}
				if d := math.Abs(ev.Loss-wantEval.Loss) / wantEval.Loss; !(d < 1e-12) || ev.Error != wantEval.Error {
					t.Errorf("B=%d: loss %v error %v, whole batch %v and %v", chunk, ev.Loss, ev.Error, wantEval.Loss, wantEval.Error)
				}
				if d := relDiff(e.Phi(), want.Phi()); !(d < 1e-12) {
					t.Errorf("B=%d: Phi differs by %.3g", chunk, d)
				}
				if e.HasWeights() != want.HasWeights() || fmt.Sprint(e.WeightsShape()) != fmt.Sprint(want.WeightsShape()) {
					t.Fatalf("B=%d: weights %v shape %v, whole batch %v shape %v", chunk, e.HasWeights(), e.WeightsShape(), want.HasWeights(), want.WeightsShape())
				}
				if !want.HasWeights() {
					continue
				}
				if d := relDiff(e.Weights(), want.Weights()); !(d < 1e-12) {
					t.Errorf("B=%d: weights differ by %.3g", chunk, d)
				}
				if got, w := e.RelevantMass(), want.RelevantMass(); !(math.Abs(got-w) < 1e-12) || math.IsNaN(w) {
					t.Errorf("B=%d: relevant mass %v, whole batch %v", chunk, got, w)
				}
				// Weights reran the chunks; the state of Evaluate is kept.
				if got, w := e.RelevantMass(), want.RelevantMass(); !(math.Abs(got-w) < 1e-12) {
					t.Errorf("B=%d: relevant mass after Weights %v, want %v", chunk, got, w)
				}
			}
		})
	}
}

func TestBadChunkSamples(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 4, Dim: 3}
	data := randomData(5, c.Tokens, c.Dim, 48)
	_, errModel := NewModelOptions(arch(t, c), randomParams(t, c, 1), data, Options{ChunkSamples: -1})
	_, errEval := NewEvaluatorOptions(arch(t, c), data, Options{ChunkSamples: -3})
	for _, err := range []error{errModel, errEval} {
		if err == nil || !strings.Contains(err.Error(), "chunk samples") {
			t.Errorf("negative chunk samples: error %v, want one naming chunk samples", err)
		}
	}
}

// peakEnv makes the test binary run one training in a child process and
// print its peak resident memory (see TestChunkedMemoryIsBounded).
const peakEnv = "MHA_GRAPH_PEAK_CHILD"

// TestChunkedMemoryIsBounded trains at two n, in chunks and whole, each in
// its own process, and compares the peak resident memory (VmHWM). In chunks
// the peak grows by about the data set's own size when n grows; whole, it
// grows with the graph's n x T*H x T intermediates.
func TestChunkedMemoryIsBounded(t *testing.T) {
	if os.Getenv(peakEnv) != "" {
		peakChild(t)
		return
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: peak memory not measurable here")
	}
	const small, large, chunk = 300, 1300, 100
	peak := func(n, chunk int) float64 {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestChunkedMemoryIsBounded$", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", peakEnv, n, chunk), "GOMAXPROCS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child n=%d B=%d: %v\n%s", n, chunk, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f, ok := strings.CutPrefix(strings.TrimSpace(line), "peak-kB "); ok {
				kb, err := strconv.ParseFloat(f, 64)
				if err != nil {
					t.Fatal(err)
				}
				return kb * 1024
			}
		}
		t.Fatalf("child n=%d B=%d printed no peak:\n%s", n, chunk, out)
		return 0
	}
	// T=16, d=16, H=16: 16 kB of input and about 100 kB of graph buffers
	// per sample.
	const dataBytes = (large - small) * 16 * 16 * 8
	chunked := peak(large, chunk) - peak(small, chunk)
	whole := peak(large, large) - peak(small, small)
	t.Logf("peak growth from n=%d to n=%d: %.1f MB in chunks of %d, %.1f MB whole; data %.1f MB",
		small, large, chunked/1e6, chunk, whole/1e6, dataBytes/1e6)
	// The data set plus slack for the allocator and the n values of Phi.
	if chunked > 3*dataBytes+16e6 {
		t.Errorf("in chunks of %d the peak grew by %.1f MB from n=%d to n=%d, more than 3x the data (%.1f MB) + 16 MB",
			chunk, chunked/1e6, small, large, dataBytes/1e6)
	}
	// The check above must be able to fail: whole batches grow far more.
	if !(whole > 3*dataBytes+16e6) {
		t.Errorf("whole batches grew by only %.1f MB: the test cannot tell chunks from whole batches", whole/1e6)
	}
}

// peakChild trains at the n and B of peakEnv and prints VmHWM.
func peakChild(t *testing.T) {
	var n, chunk int
	if _, err := fmt.Sscanf(os.Getenv(peakEnv), "%d,%d", &n, &chunk); err != nil {
		t.Fatal(err)
	}
	c := layers.Config{Heads: 16, Tokens: 16, Dim: 16}
	data := randomData(n, c.Tokens, c.Dim, 49)
	m, err := NewModelOptions(arch(t, c), randomParams(t, c, 50), data, Options{ChunkSamples: chunk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (GD{StepSize: 0.1, Steps: 1}).Run(m, nil); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("peak-kB %s\n", strings.TrimSuffix(strings.TrimSpace(f), " kB"))
			return
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
}

// BenchmarkStepChunks times one GD step at n = 4096, T=16, d=32, H=16 in
// chunks of B samples: the cost of chunking (refilling inputs, adding the
// chunks' gradients) against one whole-batch graph (B = 4096).
func BenchmarkStepChunks(b *testing.B) {
	c := layers.Config{Heads: 16, Tokens: 16, Dim: 32}
	data := randomData(4096, 16, 32, 51)
	for _, chunk := range []int{256, 1024, 4096} {
		b.Run(fmt.Sprintf("B%d", chunk), func(b *testing.B) {
			m, err := NewModelOptions(arch(b, c), randomParams(b, c, 52), data, Options{ChunkSamples: chunk})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.Step(1e-3); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Step(1e-3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
