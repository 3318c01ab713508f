package experiments

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
)

// TestHeadSweepEndToEnd runs a tiny sweep and checks every file of the
// result directory, the CSV header and that training loss decreases.
func TestHeadSweepEndToEnd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(out)
	res, err := HeadSweep(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusOK || len(res.Points) != 2 {
		t.Fatalf("status %q with %d points, want ok with 2", res.Status, len(res.Points))
	}
	want := []string{"config.json", "metrics.csv", "summary.json"}
	for _, s := range []string{"train", "test"} {
		for _, a := range []string{"X", "y", "mask"} {
			want = append(want, "data/"+s+"_"+a+".npy")
		}
	}
	for _, h := range []string{"H1", "H2"} {
		for _, st := range []string{"init", "final"} {
			want = append(want, "params/"+h+"/"+st+"/U.npy", "params/"+h+"/"+st+"/W.npy")
		}
		want = append(want, "points/"+h+"/result.json", "points/"+h+"/metrics.csv")
	}
	for _, p := range []string{"loss_vs_step", "test_vs_heads", "distance_vs_heads", "relevant_attention"} {
		want = append(want, "plots/"+p+".png")
	}
	for _, w := range want {
		st, err := os.Stat(filepath.Join(out, w))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", w, err)
		}
	}
	for _, h := range []string{"H1", "H2"} {
		if exists(filepath.Join(out, "points", h, "checkpoint.json")) {
			t.Errorf("%s: checkpoint left after the point finished", h)
		}
	}

	f, err := os.Open(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	if got := sc.Text(); got != "heads,step,train_loss,test_loss,train_err,test_err,grad_norm,dist_from_init,relevant_attention" {
		t.Errorf("header %q", got)
	}
	rows, err := ReadMetrics(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2*(cfg.Steps/cfg.LogEvery+1) {
		t.Errorf("%d rows, want %d", len(rows), 2*(cfg.Steps/cfg.LogEvery+1))
	}
	prev := map[int]Row{}
	for _, r := range rows {
		if p, ok := prev[r.Heads]; ok {
			if r.Step <= p.Step {
				t.Errorf("H=%d: step %d after %d", r.Heads, r.Step, p.Step)
			}
			if !(r.TrainLoss < p.TrainLoss) {
				t.Errorf("H=%d: training loss %v at step %d does not decrease from %v at step %d", r.Heads, r.TrainLoss, r.Step, p.TrainLoss, p.Step)
			}
		}
		prev[r.Heads] = r
	}
	s, err := ReadSummary(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range s.Points {
		if p.Heads != cfg.Heads[i] || p.Status != StatusOK || p.Step != cfg.Steps || p.EtaRule != "theory" || !(p.Eta > 0) || !(p.Theory.L > 0) {
			t.Errorf("summary point %d: %+v", i, p)
		}
		if float64(p.TrainLoss) != prev[p.Heads].TrainLoss {
			t.Errorf("H=%d: summary train_loss %v, last row %v", p.Heads, p.TrainLoss, prev[p.Heads].TrainLoss)
		}
	}
}

// TestHeadSweepDeterministic: two runs, with 1 and 2 workers, write
// byte-identical metrics.csv and summary.json (wall times aside).
func TestHeadSweepDeterministic(t *testing.T) {
	dir := t.TempDir()
	var outs []string
	for _, w := range []int{1, 2} {
		cfg := tinyConfig(filepath.Join(dir, "w"+itoa(w)))
		cfg.Heads = []int{2, 1, 3}
		cfg.Workers = w
		if _, err := HeadSweep(cfg); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, cfg.Out)
	}
	sameResults(t, outs[0], outs[1])
	b, _ := os.ReadFile(filepath.Join(outs[0], "metrics.csv"))
	lines := strings.Split(string(b), "\n")
	if !strings.HasPrefix(lines[1], "2,0,") {
		t.Errorf("rows are not in point order: first row %q", lines[1])
	}
}

// TestHeadSweepReproducible: the saved data and initial parameters with the
// recorded eta reproduce the recorded training losses exactly.
func TestHeadSweepReproducible(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(out)
	if _, err := HeadSweep(cfg); err != nil {
		t.Fatal(err)
	}
	train, _, _, err := datasets.Load(filepath.Join(out, "data"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ReadSummary(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadMetrics(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Points {
		lc := cfg.Layer(p.Heads)
		p0, err := graph.LoadParams(filepath.Join(out, "params", p.Label, "init"), lc)
		if err != nil {
			t.Fatal(err)
		}
		m, err := graph.NewModel(lc, p0, train)
		if err != nil {
			t.Fatal(err)
		}
		losses := map[int]float64{}
		gd := graph.GD{StepSize: float64(p.Eta), Steps: cfg.Steps}
		if _, err := gd.Run(m, graph.RecorderFunc(func(pr graph.Progress) error {
			losses[pr.Step] = pr.Loss
			return nil
		})); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rows {
			if r.Heads != p.Heads {
				continue
			}
			n++
			if losses[r.Step] != r.TrainLoss {
				t.Errorf("H=%d step %d: recorded %v, recomputed %v", p.Heads, r.Step, r.TrainLoss, losses[r.Step])
			}
		}
		if n == 0 {
			t.Errorf("H=%d: no rows", p.Heads)
		}
		final, err := graph.LoadParams(filepath.Join(out, "params", p.Label, "final"), lc)
		if err != nil {
			t.Fatal(err)
		}
		got := m.Params()
		for i := range got.U {
			if got.U[i] != final.U[i] {
				t.Fatalf("H=%d: final U[%d] = %v, saved %v", p.Heads, i, got.U[i], final.U[i])
			}
		}
	}
}
