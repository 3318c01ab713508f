package headsweep

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/runner"
)

const tinyFlags = "-set data.train=32 -set data.test=32 -set data.tokens=4 -set data.dim=6 -set data.clusters=2 -set seed=0 -steps 20 -quiet"

// TestHugeEtaDiverges: with eta = 1e300 the parameters' norm overflows
// after one step: every point is "diverged" (exit 3), never "ok" with
// infinite metrics, and a rerun goes on (exit 3 again, points kept).
func TestHugeEtaDiverges(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := append(strings.Fields(tinyFlags), "-heads", "1,2", "-eta", "1e300", "-out", out)
	for run := 0; run < 2; run++ {
		code, stderr := runMain(args...)
		if code != runner.ExitDiverged {
			t.Fatalf("run %d: exit status %d, want %d; stderr:\n%s", run, code, runner.ExitDiverged, stderr)
		}
	}
	res, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records {
		if r.Status != runner.StatusDiverged {
			t.Errorf("%s: status %q, want diverged", r.Label, r.Status)
		}
	}
}

// TestAbsurdSizesRefused: sizes whose estimated memory exceeds the
// machine's (or max_memory) exit 2 before anything is written, naming
// the fields that drive the estimate.
func TestAbsurdSizesRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-set", "data.train=10000000", "-heads", "4096"}, []string{"estimated peak memory", "data.train = 10000000", "heads = 4096"}},
		{[]string{"-set", "data.dim=100000", "-heads", "1"}, []string{"estimated peak memory", "data.dim = 100000"}},
		{append(strings.Fields(tinyFlags), "-heads", "1,2", "-set", "max_memory=1K"), []string{"max_memory = 1K"}},
	} {
		out := filepath.Join(t.TempDir(), "run")
		code, stderr := runMain(append(tc.args, "-out", out, "-quiet")...)
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
}

// TestDamagedParamsAndCheckpoint: a flipped byte in a finished point's
// params/*.npy makes the rerun compute it again (logging the file), and
// a damaged checkpoint does not block its point; both end with the bytes
// of an undamaged run.
func TestDamagedParamsAndCheckpoint(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := append(strings.Fields(tinyFlags), "-heads", "1,2", "-out", out)
	if code, stderr := runMain(args...); code != runner.ExitOK {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
	want, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))
	npys, _ := filepath.Glob(filepath.Join(out, "params", "heads1-*", "final", "*.npy"))
	if len(npys) == 0 {
		t.Fatal("no params/heads1-*/final/*.npy")
	}
	b, _ := os.ReadFile(npys[0])
	b[len(b)-1] ^= 0x40
	os.WriteFile(npys[0], b, 0o644)
	h2 := pointPath(t, out, "heads2", "result.json")
	os.Remove(h2)
	os.WriteFile(filepath.Join(filepath.Dir(h2), "checkpoint.json"), []byte(`{"sha256": "0", "checkpoint": {"step": 5`), 0o644)

	code, stderr := runMain(strings.Fields(strings.Replace(strings.Join(args, " "), "-quiet", "", 1))...)
	if code != runner.ExitOK {
		t.Fatalf("rerun: exit status %d; stderr:\n%s", code, stderr)
	}
	for _, w := range []string{"damaged", filepath.Base(npys[0]), "checkpoint is damaged"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("log lacks %q:\n%s", w, stderr)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(out, "metrics.csv")); string(got) != string(want) {
		t.Error("metrics.csv differs from the undamaged run's")
	}
}
