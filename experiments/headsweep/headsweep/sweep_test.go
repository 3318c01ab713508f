package headsweep

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/runner"
)

// tinyArgs shrink the data so a point takes a fraction of a second.
var tinyArgs = []string{"-set", "data.train=32", "-set", "data.test=32", "-set", "data.tokens=4", "-set", "data.dim=6", "-set", "data.clusters=2", "-set", "seed=0", "-quiet"}

// TestSweepAnyKey: -sweep data.zeta and heads with -set data.sigma write
// 4 points with zeta and heads columns in command-line order, byte-equal
// for 1 and 2 workers, and summary.json lists the swept values per point.
func TestSweepAnyKey(t *testing.T) {
	dir := t.TempDir()
	var outs []string
	for _, w := range []string{"1", "2"} {
		out := filepath.Join(dir, "w"+w)
		args := append([]string{"-sweep", "data.zeta=0.125,0.25", "-sweep", "heads=1,2", "-set", "data.sigma=0.2", "-steps", "50",
			"-workers", w, "-out", out}, tinyArgs...)
		if code, stderr := runMain(args...); code != runner.ExitOK {
			t.Fatalf("workers %s: exit %d; stderr:\n%s", w, code, stderr)
		}
		outs = append(outs, out)
	}
	sameResults(t, outs[0], outs[1])
	header, rows := metrics(t, filepath.Join(outs[0], "metrics.csv"))
	if !strings.HasPrefix(header, "label,data.zeta,heads,step,") {
		t.Errorf("header %q", header)
	}
	labels := map[string]bool{}
	for _, r := range rows {
		labels[r[0]] = true
		if r[0] != "zeta"+r[1]+"-heads"+r[2] {
			t.Errorf("row %v: label does not match the swept values", r[:4])
		}
	}
	if len(labels) != 4 || len(rows) != 4*51 {
		t.Errorf("%d labels, %d rows", len(labels), len(rows))
	}
	s := summary(t, outs[0])
	pts := s["points"].([]any)
	if len(pts) != 4 {
		t.Fatalf("%d points in summary.json", len(pts))
	}
	last := pts[3].(map[string]any)
	if p := last["point"].(map[string]any); p["data.zeta"] != 0.25 || p["heads"] != 2.0 || last["label"] != "zeta0.25-heads2" {
		t.Errorf("summary point 3: %v", last)
	}
	res, err := Load(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	ps := points(t, res)
	if float64(ps[3].UniformAttention) != 0.25 || float64(ps[0].UniformAttention) != 0.25 /* 1 of T = 4 tokens */ {
		t.Errorf("uniform attention %v, %v", ps[0].UniformAttention, ps[3].UniformAttention)
	}
	for i, r := range res.Records {
		if len(r.Rows) != 51 || len(ps[i].Rows) != 51 {
			t.Errorf("Load: point %s has %d rows, want its own 51", r.Label, len(r.Rows))
		}
	}
	for _, p := range []string{"test_vs_heads", "distance_vs_heads", "loss_vs_step", "relevant_attention"} {
		if !exists(filepath.Join(outs[0], "plots", p+".png")) {
			t.Errorf("no plot %s", p)
		}
	}
}

// TestPointIdentity: changing a value in the config recomputes exactly
// the points it changes; points of the earlier grid are kept on disk,
// listed in the log and left out of metrics.csv and summary.json.
func TestPointIdentity(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	base := append([]string{"-out", out, "-steps", "10", "-heads", "1,2"}, tinyArgs...)
	if code, stderr := runMain(base...); code != runner.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	first, _ := filepath.Glob(filepath.Join(out, "points", "*"))
	// The same values reached another way: the same points.
	same := append([]string{"-out", out, "-steps", "10", "-sweep", "heads=1,2", "-set", "data.sigma=0.1"}, tinyArgs...)
	code, stderr := runMain(same...)
	if after, _ := filepath.Glob(filepath.Join(out, "points", "*")); code != runner.ExitOK || len(after) != 2 {
		t.Fatalf("same config: exit %d, point dirs %v; stderr:\n%s", code, after, stderr)
	}
	// Another sigma: both points are new.
	args := append([]string{"-out", out, "-steps", "10", "-heads", "1,2", "-set", "data.sigma=0.3"}, tinyArgs[:len(tinyArgs)-1]...)
	code, stderr = runMain(args...)
	if code != runner.ExitOK || !strings.Contains(stderr, "not in this grid") || !strings.Contains(stderr, filepath.Base(first[0])) {
		t.Fatalf("other sigma: exit %d; stderr:\n%s", code, stderr)
	}
	after, _ := filepath.Glob(filepath.Join(out, "points", "*"))
	if len(after) != 4 {
		t.Errorf("point dirs %v, want 4", after)
	}
	res, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records {
		for _, f := range first {
			if r.Dir == filepath.Base(f) {
				t.Errorf("point %s reused %s", r.Label, r.Dir)
			}
		}
	}
	if _, rows := metrics(t, filepath.Join(out, "metrics.csv")); len(rows) != 2*11 {
		t.Errorf("metrics.csv has %d rows, want the 22 of this grid", len(rows))
	}
	cfg, err := os.ReadFile(filepath.Join(out, "points", res.Records[0].Dir, "config.json"))
	if err != nil || !bytes.Contains(cfg, []byte(`"sigma": 0.3`)) || !bytes.Contains(cfg, []byte(`"code": "`)) || !bytes.Contains(cfg, []byte(`"revision"`)) {
		t.Errorf("point config.json: %v\n%s", err, cfg)
	}
}

// TestSeedAxis: with a seed axis, the table and plots aggregate over it
// (mean and 95% interval) and say so.
func TestSeedAxis(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	args := append([]string{"-out", out, "-steps", "10", "-heads", "1,2", "-sweep", "data.seed=1,2,3", "-wide"}, tinyArgs...)
	if code := runner.Main(Experiment, args, &stdout, &stderr); code != runner.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	tab := stdout.String()
	if !strings.Contains(tab, "mean and 95% interval over 3 seeds (data.seed)") || !strings.Contains(tab, "seeds") || !strings.Contains(tab, " ±") {
		t.Errorf("table:\n%s", tab)
	}
	// One row per head count (-wide: in one block): header, note, 2
	// rows, where (2 lines) (and the bound's
	// notes, one per failing hypothesis, after "bound n/a:").
	if i := strings.Index(tab, "bound n/a:"); i >= 0 {
		tab = tab[:i] + tab[strings.LastIndex(tab, "\nresults in ")+1:]
	}
	if n := strings.Count(tab, "\n"); n != 6 {
		t.Errorf("table has %d lines:\n%s", n, tab)
	}
	res, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if gs := res.Groups(); len(gs) != 2 || len(gs[0].Records) != 3 || gs[1].Name != "heads = 2" {
		t.Errorf("groups %+v", gs)
	}
}

// TestSweepModelKind: model.kind is a key like any other; kinds without
// the theory's constants need a fixed eta and say what is not defined.
func TestSweepModelKind(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"-out", out, "-steps", "5", "-set", "heads=2", "-sweep", "model.kind=paper,kq,relu,value"}, tinyArgs...)
	if code, stderr := runMain(append(args, "-eta", "0")...); code != runner.ExitInput || !strings.Contains(stderr, `eta = 0: want a finite value > 0`) || !strings.Contains(stderr, `"kq"`) {
		t.Errorf("kinds with the theory step size: exit %d; stderr:\n%s", code, stderr)
	}
	if code, stderr := runMain(append(args, "-eta", "0.05")...); code != runner.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	header, rows := metrics(t, filepath.Join(out, "metrics.csv"))
	if !strings.HasPrefix(header, "label,model.kind,step,") || len(rows) != 4*6 || rows[6][0] != "kindkq" {
		t.Errorf("header %q, %d rows, row 6 %v", header, len(rows), rows[6])
	}
	res, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range points(t, res) {
		if (i == 0) != (p.Theory.NotDefined == "") || !(p.Theory.NTK.Gamma >= 0) {
			t.Errorf("%s: not defined %q, gamma %v", res.Records[i].Label, p.Theory.NotDefined, p.Theory.NTK.Gamma)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(out, "params", "kindkq-*", "final", "Q.npy")); len(m) != 1 {
		t.Errorf("params of the kq point: %v", m)
	}
}
