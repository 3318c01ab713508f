package headsweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mhattn/mha/experiments/runner"
)

// samePlots fails unless two result directories have the same plots/,
// byte for byte.
func samePlots(t *testing.T, a, b string) {
	t.Helper()
	names := func(d string) []string {
		es, err := os.ReadDir(filepath.Join(d, "plots"))
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, e := range es {
			ns = append(ns, e.Name())
		}
		return ns
	}
	na, nb := names(a), names(b)
	if !slices.Equal(na, nb) || len(na) == 0 {
		t.Fatalf("plots of %s: %v; of %s: %v", a, na, b, nb)
	}
	for _, n := range na {
		pa, _ := os.ReadFile(filepath.Join(a, "plots", n))
		pb, _ := os.ReadFile(filepath.Join(b, "plots", n))
		if !bytes.Equal(pa, pb) {
			t.Errorf("plots/%s differs between %s and %s", n, a, b)
		}
	}
}

// TestShardsInProcess: three shards running at once in one directory,
// then a merge, give the bytes of one unsharded run; a shard writes no
// assembled file, and a merge with a shard missing exits 2 naming its
// points.
func TestShardsInProcess(t *testing.T) {
	ref := tinyConfig(filepath.Join(t.TempDir(), "ref"))
	ref.SweepHeads(1, 2, 3, 4, 5)
	if _, err := Run(ref); err != nil {
		t.Fatal(err)
	}
	cfg := ref
	cfg.Out = filepath.Join(t.TempDir(), "sharded")
	cfg.Workers = 1
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for _, i := range []int{0, 2} {
		wg.Go(func() {
			res, err := RunWith(cfg, runner.Options{Shard: runner.Shard{Index: i, Count: 3}})
			if err == nil && len(res.Records) != 2-i/2 {
				err = fmt.Errorf("shard %d/3 reports %d points", i, len(res.Records))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"metrics.csv", "summary.json", "plots"} {
		if exists(filepath.Join(cfg.Out, name)) {
			t.Errorf("a shard wrote %s", name)
		}
	}

	_, err := RunWith(cfg, runner.Options{Merge: true})
	var inc *runner.IncompleteError
	if !errors.As(err, &inc) || !slices.Equal(inc.Points, []string{"heads2", "heads5"}) {
		t.Fatalf("merge without shard 1: %v; want an IncompleteError naming heads2 and heads5", err)
	}
	code, stderr := runMain("-config", writeConfig(t, cfg), "-merge", "-quiet")
	if code != runner.ExitInput || !strings.Contains(stderr, "heads2 (point 1): not started") || !strings.Contains(stderr, "heads5 (point 4)") {
		t.Fatalf("merge via Main: exit %d, want %d naming heads2 and heads5; stderr:\n%s", code, runner.ExitInput, stderr)
	}
	if exists(filepath.Join(cfg.Out, "metrics.csv")) {
		t.Fatal("a refused merge wrote metrics.csv")
	}

	if _, err := RunWith(cfg, runner.Options{Shard: runner.Shard{Index: 1, Count: 3}}); err != nil {
		t.Fatal(err)
	}
	res, err := RunWith(cfg, runner.Options{Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 5 || res.Status != runner.StatusOK {
		t.Fatalf("merged %d points, status %q", len(res.Records), res.Status)
	}
	sameResults(t, ref.Out, cfg.Out)
	samePlots(t, ref.Out, cfg.Out)
}

// writeConfig writes cfg as a -config file.
func writeConfig(t *testing.T, cfg Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := runner.WriteJSON(path, &cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestShardProcesses: the shards as separate processes, one of them
// killed with SIGKILL mid-point and run again, then -merge: the bytes of
// one unsharded run.
func TestShardProcesses(t *testing.T) {
	bin := headsweepBinary(t)
	cfg := writeFile(t, "slow.json", slowJSON) // 3 points: one per shard
	ref, _ := reference(t, bin, cfg)
	out := filepath.Join(t.TempDir(), "run")
	shard := func(i int) *exec.Cmd {
		return exec.Command(bin, "-config", cfg, "-out", out, "-quiet", "-workers", "1", "-shard", fmt.Sprintf("%d/3", i))
	}
	cmds := make([]*exec.Cmd, 3)
	for i := range cmds {
		cmds[i] = shard(i)
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	// Shard 1 runs H = 2: kill it after its first checkpoint.
	for deadline := time.Now().Add(30 * time.Second); pointPath(t, out, "heads2", "checkpoint.json") == ""; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("shard 1 wrote no checkpoint in 30 s")
		}
	}
	cmds[1].Process.Kill()
	cmds[1].Wait()
	for _, i := range []int{0, 2} {
		if err := cmds[i].Wait(); err != nil {
			t.Fatalf("shard %d/3: %v", i, err)
		}
	}
	if pointPath(t, out, "heads2", "result.json") != "" {
		t.Fatal("shard 1 finished before the kill")
	}

	b, err := exec.Command(bin, "-config", cfg, "-out", out, "-quiet", "-merge").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != runner.ExitInput || !strings.Contains(string(b), "heads2 (point 1): stopped at step") {
		t.Fatalf("merge with shard 1 killed: %v, want exit %d naming heads2; output:\n%s", err, runner.ExitInput, b)
	}
	if b, err := shard(1).CombinedOutput(); err != nil {
		t.Fatalf("shard 1/3 again: %v\n%s", err, b)
	}
	if b, err := exec.Command(bin, "-config", cfg, "-out", out, "-quiet", "-merge").CombinedOutput(); err != nil {
		t.Fatalf("merge: %v\n%s", err, b)
	}
	sameResults(t, ref, out)
	samePlots(t, ref, out)
}

// TestShardFlags: flags that would let shards step on each other, or that
// make no sense together, exit 2.
func TestShardFlags(t *testing.T) {
	cfg := writeFile(t, "c.json", tinyJSON)
	out := filepath.Join(t.TempDir(), "run")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-shard", "2/2"}, "-shard"},
		{[]string{"-shard", "0/2", "-force"}, "-force"},
		{[]string{"-merge", "-force"}, "-force"},
		{[]string{"-merge", "-shard", "0/2"}, "-merge"},
		{[]string{"-slurm", "2", "-merge"}, "-slurm"},
		{[]string{"-submit"}, "-submit"},
		{[]string{"-slurm", "0", "-submit"}, "-submit"},
		{[]string{"-slurm", "2", "-slurm-mem", "1G; rm -rf /"}, "-slurm-mem"},
		{[]string{"-slurm", "2", "-slurm-cpus", "0"}, "-slurm-cpus"},
	} {
		code, stderr := runMain(append([]string{"-config", cfg, "-out", out, "-quiet"}, tc.args...)...)
		if code != runner.ExitInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d mentioning %s; stderr:\n%s", tc.args, code, runner.ExitInput, tc.want, stderr)
		}
	}
	if code, stderr := runMain("-config", cfg, "-out", out, "-merge"); code != runner.ExitInput || !strings.Contains(stderr, "holds no run") {
		t.Errorf("merge of an empty directory: exit %d; stderr:\n%s", code, stderr)
	}
}

// TestWriteSlurm: the scripts hold the array, the resources and the merge
// dependency; sweep.json reads back as the config; submit.sh chains the
// merge to the array (a fake sbatch records what it was given).
func TestWriteSlurm(t *testing.T) {
	cfg := tinyConfig(filepath.Join(t.TempDir(), "run"))
	f, err := runner.WriteSlurm(Experiment, &cfg, runner.Slurm{Shards: 4, CPUs: 2, Mem: "1G", Time: "0:30:00", Partition: "short"}, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sh := read(f.Shards)
	for _, want := range []string{"#SBATCH --array=0-3\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --mem=1G\n", "#SBATCH --time=0:30:00\n",
		"#SBATCH --partition=short\n", `-shard "$SLURM_ARRAY_TASK_ID/4"`, "export MHA_CODE_VERSION='" + runner.ProgramVersion().Code() + "'\n", "'" + f.Binary + "' -config '" + f.Config + "'"} {
		if !strings.Contains(sh, want) {
			t.Errorf("shards.sbatch lacks %q:\n%s", want, sh)
		}
	}
	if m := read(f.Merge); !strings.Contains(m, " -merge\n") || strings.Contains(m, "--array") || !strings.Contains(m, "export MHA_CODE_VERSION=") {
		t.Errorf("merge.sbatch:\n%s", m)
	}
	d := DefaultConfig()
	gotc, err := runner.LoadConfigFile(f.Config, &d)
	if err != nil {
		t.Fatal(err)
	}
	got := gotc.(*Config)
	want := cfg
	want.Workers = 2
	if want.Out, err = filepath.Abs(cfg.Out); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(&want)
	if string(a) != string(b) {
		t.Errorf("sweep.json differs from the config:\n%s\n%s", a, b)
	}
	if !exists(filepath.Join(cfg.Out, "config.json")) {
		t.Error("no config.json")
	}
	if st, err := os.Stat(f.Binary); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("binary %s: %v", f.Binary, err)
	}

	fake := t.TempDir()
	calls := filepath.Join(fake, "calls")
	script := "#!/bin/sh\necho \"$@\" >> " + calls + "\nn=$(wc -l < " + calls + ")\necho $((41 + n))\\;cluster\n"
	if err := os.WriteFile(filepath.Join(fake, "sbatch"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	shards, merge, err := runner.SubmitSlurm(f, "1,3")
	if err != nil {
		t.Fatal(err)
	}
	if shards != "42" || merge != "43" {
		t.Errorf("job ids %q, %q; want 42, 43", shards, merge)
	}
	want2 := "--parsable --array=1,3 shards.sbatch\n--parsable --dependency=afterok:42 --kill-on-invalid-dep=yes merge.sbatch\n"
	if c := read(calls); c != want2 {
		t.Errorf("sbatch calls:\n%s\nwant:\n%s", c, want2)
	}

	// A bad config is refused, as for a run.
	other := cfg
	other.Sweep = nil
	other.Heads = 0
	if _, err := runner.WriteSlurm(Experiment, &other, runner.Slurm{Shards: 2, CPUs: 1}, false, false, nil); !errors.As(err, new(*runner.InputError)) {
		t.Errorf("WriteSlurm of a bad config: %v, want an InputError", err)
	}
}
