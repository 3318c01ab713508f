package headsweep

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
)

// TestChunkSamples: chunk_samples >= n (every set one chunk) gives the
// default run's metrics.csv byte for byte; chunks smaller than n (5
// samples: six chunks and a tail of 2 for n = n_test = 32) agree with it
// to 1e-12 relative in every number, and differ in some last bits (the
// mean is summed in another order: the setting reached the graphs).
func TestChunkSamples(t *testing.T) {
	dir := t.TempDir()
	run := func(name string, chunk int) string {
		c := tinyConfig(filepath.Join(dir, name))
		if chunk > 0 {
			c.ChunkSamples = chunk
		}
		if _, err := Run(c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(filepath.Join(c.Out, "metrics.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	def := run("default", 0)
	if big := run("chunk4096", 4096); big != def {
		t.Errorf("chunk_samples = 4096 >= n: metrics.csv differs from the default run's:\n%s\nwant\n%s", big, def)
	}
	if one := run("chunk32", 32); one != def {
		t.Errorf("chunk_samples = n = 32: metrics.csv differs from the default run's")
	}
	small := run("chunk5", 5)
	if small == def {
		t.Error("chunk_samples = 5 < n: metrics.csv is the default run's to the bit; were the chunks used?")
	}
	a, b := strings.Split(def, "\n"), strings.Split(small, "\n")
	if len(a) != len(b) {
		t.Fatalf("%d lines with chunks of 5, %d by default", len(b), len(a))
	}
	worst := 0.0
	for i := range a {
		fa, fb := strings.Split(a[i], ","), strings.Split(b[i], ",")
		if len(fa) != len(fb) {
			t.Fatalf("line %d: %q vs %q", i+1, b[i], a[i])
		}
		for j := range fa {
			x, errx := strconv.ParseFloat(fa[j], 64)
			y, erry := strconv.ParseFloat(fb[j], 64)
			if errx != nil || erry != nil {
				if fa[j] != fb[j] {
					t.Errorf("line %d field %d: %q, want %q", i+1, j+1, fb[j], fa[j])
				}
				continue
			}
			rel := math.Abs(x-y) / math.Max(math.Abs(x), 1e-300)
			if x == y {
				rel = 0
			}
			worst = max(worst, rel)
			if !(rel <= 1e-12) {
				t.Errorf("line %d field %d: %v with chunks of 5, %v by default (relative %.3g > 1e-12)", i+1, j+1, y, x, rel)
			}
		}
	}
	t.Logf("chunks of 5 vs one chunk: largest relative difference %.3g", worst)
	// The point's config records the chunk in force.
	if got := pointChunk(t, filepath.Join(dir, "chunk5")); got != 5 {
		t.Errorf("point config chunk_samples %d, want 5", got)
	}
}

// TestChunkAndThreadsBadInput: chunk_samples < 1, a chunk too large for
// max_memory and threads < 0 exit 2 before anything is written, naming
// the fields and the allowed range; both settings read from a config
// file.
func TestChunkAndThreadsBadInput(t *testing.T) {
	tiny := strings.Fields(tinyFlags)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-set", "chunk_samples=0"}, []string{"chunk_samples = 0", "an integer >= 1"}},
		{[]string{"-set", "chunk_samples=-2"}, []string{"chunk_samples = -2", "an integer >= 1"}},
		// T = 4, d = 6, H = 2: 10 KiB a sample (16 tensors of T H (T + d)
		// floats); 32 samples are 320 KiB.
		{[]string{"-set", "max_memory=100K"}, []string{"chunk_samples = 32", "max_memory = 100K", "[1, 10]", "heads = 2"}},
		{[]string{"-set", "max_memory=4K"}, []string{"chunk_samples = 32", "max_memory = 4K", "one sample needs"}},
		{[]string{"-set", "threads=-1"}, []string{"threads = -1", "[0, 1024]"}},
		{[]string{"-sweep", "threads=1,2"}, []string{"threads", "cannot be swept"}},
	} {
		out := filepath.Join(t.TempDir(), "run")
		args := append(append(append([]string{}, tiny...), "-heads", "1,2", "-out", out), tc.args...)
		code, stderr := runMain(args...)
		if code != runner.ExitInput {
			t.Errorf("%v: exit status %d, want 2; stderr:\n%s", tc.args, code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tc.args, w, stderr)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: %s was created", tc.args, out)
		}
	}

	out := filepath.Join(t.TempDir(), "run")
	cfg := writeFile(t, "c.json", `{"chunk_samples": 8, "threads": 1}`)
	if code, stderr := runMain(append(tiny, "-heads", "1", "-config", cfg, "-out", out)...); code != runner.ExitOK {
		t.Fatalf("config file: exit status %d; stderr:\n%s", code, stderr)
	}
	if got := pointChunk(t, out); got != 8 {
		t.Errorf("chunk_samples from the file: %d, want 8", got)
	}
}

// TestDivergedDistanceNotZero: a point that diverged (eta = 1e300: the
// parameters overflow after one step) has no theta_K: its
// dist_from_init is null in summary.json, the table prints "n/a
// (diverged)", never 0, and last_finite holds the step before the
// divergence (step 0, at distance 0).
func TestDivergedDistanceNotZero(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	args := append(strings.Fields(tinyFlags), "-heads", "1,2", "-eta", "1e300", "-wide", "-out", out)
	if code := runner.Main(Experiment, args, &stdout, &stderr); code != runner.ExitDiverged {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, runner.ExitDiverged, stderr.String())
	}
	var head []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "heads" {
			head = strings.Split(strings.Join(f, " "), " ")
			if !strings.Contains(line, "||theta_K-theta_0||") {
				t.Fatalf("table header %q lacks the distance column", line)
			}
			continue
		}
		if len(f) > 0 && (f[0] == "1" || f[0] == "2") && head != nil {
			if !strings.Contains(line, "n/a (diverged)") {
				t.Errorf("row %q: want n/a (diverged) for ||theta_K-theta_0||", line)
			}
		}
	}
	if head == nil {
		t.Fatalf("no table in stdout:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "last_finite") {
		t.Errorf("the table's note does not point to last_finite:\n%s", stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Points []struct {
			Label  string                     `json:"label"`
			Result map[string]json.RawMessage `json:"result"`
		} `json:"points"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Points) != 2 {
		t.Fatalf("%d points in summary.json, want 2", len(sum.Points))
	}
	for _, p := range sum.Points {
		r := p.Result
		if st := string(r["status"]); st != `"diverged"` {
			t.Errorf("%s: status %s, want diverged", p.Label, st)
		}
		if d, ok := r["dist_from_init"]; !ok || string(d) != "null" {
			t.Errorf("%s: dist_from_init %q (present %v), want null", p.Label, d, ok)
		}
		var last struct {
			Step         int     `json:"step"`
			DistFromInit float64 `json:"dist_from_init"`
		}
		if err := json.Unmarshal(r["last_finite"], &last); err != nil || last.Step != 0 || last.DistFromInit != 0 {
			t.Errorf("%s: last_finite %s (%v), want step 0 at distance 0", p.Label, r["last_finite"], err)
		}
	}
}

func pointChunk(t *testing.T, out string) int {
	t.Helper()
	res, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "points", res.Records[0].Dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pc struct{ Config gdpoint.Config }
	if err := json.Unmarshal(b, &pc); err != nil {
		t.Fatal(err)
	}
	return pc.Config.ChunkSamples
}
