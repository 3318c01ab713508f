package headsweep

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/graph"
)

// TestEndToEnd runs a tiny sweep and checks every file of the result
// directory, the CSV header and that training loss decreases.
func TestEndToEnd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(out)
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "ok" || len(res.Records) != 2 {
		t.Fatalf("status %q with %d points, want ok with 2", res.Status, len(res.Records))
	}
	pts := points(t, res)
	want := []string{"config.json", "metrics.csv", "summary.json"}
	for _, s := range []string{"train", "test"} {
		for _, a := range []string{"X", "y", "mask"} {
			want = append(want, pts[0].Data+"/"+s+"_"+a+".npy")
		}
	}
	for i, r := range res.Records {
		if r.Label != "heads"+strconv.Itoa(i+1) || !strings.HasPrefix(r.Dir, r.Label+"-") {
			t.Errorf("point %d: label %q, dir %q", i, r.Label, r.Dir)
		}
		for _, st := range []string{"init", "final"} {
			want = append(want, "params/"+r.Dir+"/"+st+"/U.npy", "params/"+r.Dir+"/"+st+"/W.npy")
		}
		want = append(want, "points/"+r.Dir+"/result.json", "points/"+r.Dir+"/metrics.csv", "points/"+r.Dir+"/config.json")
		if exists(filepath.Join(out, "points", r.Dir, "checkpoint.json")) {
			t.Errorf("%s: checkpoint left after the point finished", r.Label)
		}
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

	header, rows := metrics(t, filepath.Join(out, "metrics.csv"))
	if header != "label,heads,step,train_loss,test_loss,train_err,test_err,grad_norm,dist_from_init,relevant_attention" {
		t.Errorf("header %q", header)
	}
	if len(rows) != 2*(cfg.Steps/cfg.LogEvery+1) {
		t.Errorf("%d rows, want %d", len(rows), 2*(cfg.Steps/cfg.LogEvery+1))
	}
	prev := map[string]gdpoint.Row{}
	for _, f := range rows {
		r, err := gdpoint.ParseRow(strings.Join(f[2:], ","))
		if err != nil {
			t.Fatal(err)
		}
		if f[0] != "heads"+f[1] {
			t.Errorf("row label %q, heads %q", f[0], f[1])
		}
		if p, ok := prev[f[1]]; ok {
			if r.Step <= p.Step {
				t.Errorf("H=%s: step %d after %d", f[1], r.Step, p.Step)
			}
			if !(r.TrainLoss < p.TrainLoss) {
				t.Errorf("H=%s: training loss %v at step %d does not decrease from %v", f[1], r.TrainLoss, r.Step, p.TrainLoss)
			}
		}
		prev[f[1]] = r
	}
	s := summary(t, out)
	if ax := s["axes"].([]any); len(ax) != 1 || ax[0] != "heads" {
		t.Errorf("summary axes %v", ax)
	}
	for i, p := range pts {
		e := s["points"].([]any)[i].(map[string]any)
		if e["label"] != res.Records[i].Label || e["point"].(map[string]any)["heads"] != float64(i+1) {
			t.Errorf("summary point %d: %v", i, e)
		}
		if p.Heads != i+1 || p.Status != "ok" || p.Step != cfg.Steps || p.EtaRule != "theory" || !(p.Eta > 0) || !(p.Theory.L > 0) {
			t.Errorf("summary point %d: %+v", i, p)
		}
		if float64(p.TrainLoss) != prev[strconv.Itoa(p.Heads)].TrainLoss {
			t.Errorf("H=%d: summary train_loss %v, last row %v", p.Heads, p.TrainLoss, prev[strconv.Itoa(p.Heads)].TrainLoss)
		}
	}
	// LoadResult gives each point its own rows.
	loaded, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Records {
		a, b := res.Records[i], loaded.Records[i]
		if a.Label != b.Label || strings.Join(a.Rows, "\n") != strings.Join(b.Rows, "\n") || len(b.Values) != 1 {
			t.Errorf("Load: record %d differs", i)
		}
	}
}

// TestDeterministic: two runs, with 1 and 2 workers, write byte-identical
// metrics.csv and summary.json (wall times aside).
func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	var outs []string
	for _, w := range []int{1, 2} {
		cfg := tinyConfig(filepath.Join(dir, "w"+itoa(w)))
		cfg.SweepHeads(2, 1, 3)
		cfg.Workers = w
		if _, err := Run(cfg); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, cfg.Out)
	}
	sameResults(t, outs[0], outs[1])
	_, rows := metrics(t, filepath.Join(outs[0], "metrics.csv"))
	if rows[0][0] != "heads2" || rows[0][2] != "0" {
		t.Errorf("rows are not in point order: first row %q", rows[0])
	}
}

// TestReproducible: the saved data and initial parameters with the
// recorded eta reproduce the recorded training losses exactly.
func TestReproducible(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(out)
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range points(t, res) {
		train, _, _, err := datasets.Load(filepath.Join(out, p.Data))
		if err != nil {
			t.Fatal(err)
		}
		c := cfg
		c.Heads = p.Heads
		lc, err := c.NewModel()
		if err != nil {
			t.Fatal(err)
		}
		dir := res.Records[i].Dir
		p0, err := gdpoint.LoadParams(filepath.Join(out, "params", dir, "init"), lc)
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
		if len(p.Rows) == 0 {
			t.Errorf("H=%d: no rows", p.Heads)
		}
		for _, r := range p.Rows {
			if losses[r.Step] != r.TrainLoss {
				t.Errorf("H=%d step %d: recorded %v, recomputed %v", p.Heads, r.Step, r.TrainLoss, losses[r.Step])
			}
		}
		final, err := gdpoint.LoadParams(filepath.Join(out, "params", dir, "final"), lc)
		if err != nil {
			t.Fatal(err)
		}
		got := m.Params()
		for j, q := range got.List {
			if !slices.Equal(q.Data, final.List[j].Data) {
				t.Fatalf("H=%d: final %s differs from the saved one", p.Heads, q.Name)
			}
		}
	}
}
