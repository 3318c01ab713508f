package headsweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mhattn/mha/experiments/margin/margin"
	"github.com/mhattn/mha/experiments/runner"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	// One code version for this process and the programs it starts, so
	// that an edit of the checkout while the tests run does not change
	// point identities between a reference run and its resumption.
	os.Setenv(runner.CodeVersionEnv, runner.ProgramVersion().Code())
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// headsweepBinary builds ./headsweep once per test process.
func headsweepBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "headsweep-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "headsweep")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/mhattn/mha/experiments/headsweep").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// runMain runs Main in process and returns the exit status and stderr.
func runMain(args ...string) (int, string) {
	var stdout, stderr bytes.Buffer
	code := runner.Main(Experiment, args, &stdout, &stderr)
	return code, stderr.String()
}

// writeFile writes a file in t's temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const tinyJSON = `{"data": {"train": 32, "test": 32, "tokens": 4, "dim": 6, "clusters": 2}, "sweep": {"heads": [1, 2]}, "steps": 20, "log_every": 2, "checkpoint_every": 5}`

// TestBadInputExit2: malformed JSON, unknown fields, wrong types, out-of-range
// values and bad flags exit with status 2, name the field, the value and
// the allowed range, and write nothing.
func TestBadInputExit2(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string // JSON, or "" for no -config
		args   []string
		want   []string
	}{
		{"malformed JSON", `{"steps": 10,}`, nil, []string{"malformed JSON", "line 1"}},
		{"unknown field", `{"heads": 1, "stepz": 10}`, nil, []string{"unknown key", `"stepz"`, "steps"}},
		{"unknown nested field", `{"data": {"zetta": 0.5}}`, nil, []string{"unknown key", `"data.zetta"`, "data.zeta"}},
		{"unknown swept key in file", `{"sweep": {"data.zetta": [0.5]}}`, nil, []string{"unknown key", `"data.zetta"`, "data.zeta"}},
		{"wrong type", `{"steps": "many"}`, nil, []string{"steps", "string", "integer"}},
		{"out of range in file", `{"data": {"zeta": 1.5}}`, nil, []string{"data.zeta = 1.5", "(0, 1]"}},
		{"out of range flag", "", []string{"-steps", "-3"}, []string{"steps = -3", "[1, 100000000]"}},
		{"bad heads flag", "", []string{"-heads", "1,x"}, []string{"heads", `"x"`, "an integer"}},
		{"zero heads", "", []string{"-heads", "0,2"}, []string{"heads = 0", "[1, 4096]"}},
		{"unknown -set key", "", []string{"-set", "data.zetta=0.5"}, []string{"-set", `"data.zetta"`, "nearest", "data.zeta"}},
		{"unknown -sweep key", "", []string{"-sweep", "sigma=0.1,0.2"}, []string{"-sweep", `"sigma"`, "data.sigma"}},
		{"-set wrong type", "", []string{"-set", "data.zeta=abc"}, []string{"data.zeta", "abc", "a number"}},
		{"-set out of range", "", []string{"-set", "data.zeta=1.5"}, []string{"data.zeta = 1.5", "(0, 1]"}},
		{"-sweep out of range", "", []string{"-sweep", "data.zeta=0.5,1.5"}, []string{"data.zeta = 1.5", "(0, 1]"}},
		{"empty axis", "", []string{"-sweep", "data.zeta="}, []string{"data.zeta", "no values"}},
		{"duplicated value", "", []string{"-sweep", "data.zeta=0.5,0.50"}, []string{"data.zeta", "0.5 appears twice"}},
		{"set and swept", "", []string{"-set", "data.zeta=0.5", "-sweep", "data.zeta=0.25,0.5"}, []string{"data.zeta", "both set", "swept"}},
		{"set twice", "", []string{"-set", "steps=5", "-steps", "6"}, []string{"steps", "twice"}},
		{"swept twice", "", []string{"-sweep", "heads=1", "-heads", "2"}, []string{"heads", "twice"}},
		{"runner key swept", "", []string{"-sweep", "workers=1,2"}, []string{"workers", "cannot be swept"}},
		{"grid too large", "", []string{"-sweep", "data.seed=" + seq(101), "-sweep", "init.seed=" + seq(101)}, []string{"more than 10000 points", "-allow-large-grid"}},
		{"negative eta", "", []string{"-eta", "-0.1"}, []string{"eta = -0.1", "> 0"}},
		{"flag type", "", []string{"-workers", "two"}, []string{"workers", "two", "an integer"}},
		{"unknown flag", "", []string{"-stepz", "3"}, []string{"-stepz"}},
		{"missing config file", "", []string{"-config", "/nonexistent/c.json"}, []string{"/nonexistent/c.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			args := []string{"-out", out, "-quiet"}
			if tc.config != "" {
				args = append(args, "-config", writeFile(t, "c.json", tc.config))
			}
			code, stderr := runMain(append(args, tc.args...)...)
			if code != runner.ExitInput {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, runner.ExitInput, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if exists(out) {
				t.Errorf("%s was created", out)
			}
		})
	}
}

// TestDivergedPoint: a point whose loss exceeds max_loss stops with status
// "diverged" and its step, the other point finishes, and the exit status
// is 3. With eta = 100 the loss of H = 4 jumps to about 1.5 at step 1
// while H = 1 decreases throughout.
func TestDivergedPoint(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	cfg := writeFile(t, "c.json", `{"data": {"train": 32, "test": 32, "tokens": 4, "dim": 6, "clusters": 2, "zeta": 0.25, "decoy": 0}, "sweep": {"heads": [1, 4]}, "steps": 20, "eta": 100, "max_loss": 1}`)
	code, stderr := runMain("-config", cfg, "-out", out, "-quiet")
	if code != runner.ExitDiverged {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, runner.ExitDiverged, stderr)
	}
	res, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runner.StatusDiverged {
		t.Errorf("summary status %q, want diverged", res.Status)
	}
	pts := points(t, res)
	h1, h4 := pts[0], pts[1]
	if h1.Status != runner.StatusOK || h1.Step != 20 {
		t.Errorf("H=1: status %q at step %d, want ok at 20", h1.Status, h1.Step)
	}
	if h4.Status != runner.StatusDiverged || h4.DivergedStep == nil || *h4.DivergedStep != 1 || !strings.Contains(h4.Divergence, "threshold 1") {
		t.Errorf("H=4: %+v, want diverged at step 1 above the threshold 1", h4)
	}
	// A rerun keeps the results and the status.
	if code, stderr := runMain("-config", cfg, "-out", out, "-quiet"); code != runner.ExitDiverged {
		t.Errorf("rerun: exit status %d, want %d; stderr:\n%s", code, runner.ExitDiverged, stderr)
	}
}

// TestOutputDirChecks: a directory with a run of the same experiment and
// another config is taken: points whose identity is unchanged are kept,
// the others computed, and points of the earlier grid are listed in the
// log and left out; a run of another experiment is refused unless -force;
// a directory with unrelated files is refused; unwritable directories fail
// at start with status 2.
func TestOutputDirChecks(t *testing.T) {
	cfg := writeFile(t, "c.json", tinyJSON)
	out := filepath.Join(t.TempDir(), "run")
	if code, stderr := runMain("-config", cfg, "-out", out, "-quiet"); code != runner.ExitOK {
		t.Fatalf("first run: exit status %d; stderr:\n%s", code, stderr)
	}
	before, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))
	h1 := pointPath(t, out, "heads1", "result.json")

	code, stderr := runMain("-config", cfg, "-out", out, "-steps", "10")
	if code != runner.ExitOK || !strings.Contains(stderr, "steps: 20 there, 10 here") || !strings.Contains(stderr, "not in this grid") {
		t.Errorf("other config: exit status %d; stderr:\n%s", code, stderr)
	}
	if _, rows := metrics(t, filepath.Join(out, "metrics.csv")); len(rows) != 2*6 || rows[len(rows)-1][2] != "10" {
		t.Errorf("metrics.csv of K = 10: %d rows, last %v", len(rows), rows[len(rows)-1])
	}
	if !exists(h1) {
		t.Error("the earlier grid's point was deleted")
	}
	// Back to the first config: its points are reused, bytes unchanged.
	if code, stderr := runMain("-config", cfg, "-out", out, "-quiet", "-workers", "1", "-checkpoint-every", "3"); code != runner.ExitOK {
		t.Errorf("same config, other workers: exit status %d; stderr:\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(out, "metrics.csv")); !bytes.Equal(before, after) {
		t.Error("rerunning the first config changed metrics.csv")
	}
	var stdout, serr bytes.Buffer
	if code := runner.Main(margin.Experiment, []string{"-out", out, "-quiet", "-heads", "1"}, &stdout, &serr); code != runner.ExitInput || !strings.Contains(serr.String(), `experiment "headsweep"`) {
		t.Errorf("another experiment: exit status %d; stderr:\n%s", code, serr.String())
	}
	if code, stderr := runMain("-config", cfg, "-out", out, "-quiet", "-steps", "10", "-force"); code != runner.ExitOK {
		t.Errorf("-force: exit status %d; stderr:\n%s", code, stderr)
	}
	if exists(h1) {
		t.Error("-force kept the earlier run's points")
	}

	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644)
	if code, stderr := runMain("-config", cfg, "-out", other, "-quiet"); code != runner.ExitInput || !strings.Contains(stderr, "not a run directory") {
		t.Errorf("unrelated directory: exit status %d; stderr:\n%s", code, stderr)
	}

	file := writeFile(t, "plain-file", "x")
	unwritable := []string{filepath.Join(file, "run"), "/proc/headsweep-test/run"}
	if os.Geteuid() != 0 { // root writes through permissions
		ro := filepath.Join(t.TempDir(), "ro")
		os.Mkdir(ro, 0o555)
		unwritable = append(unwritable, ro, filepath.Join(ro, "run"))
	}
	for _, dir := range unwritable {
		code, stderr := runMain("-config", cfg, "-out", dir, "-quiet")
		if code != runner.ExitInput || !strings.Contains(stderr, dir) || !(strings.Contains(stderr, "cannot create") || strings.Contains(stderr, "not writable")) {
			t.Errorf("-out %s: exit status %d; stderr:\n%s", dir, code, stderr)
		}
	}
}

// slowJSON is a sweep that runs for a second or two, long enough to be
// interrupted at a random moment.
const slowJSON = `{"data": {"train": 32, "test": 32, "tokens": 4, "dim": 6, "clusters": 2}, "sweep": {"heads": [1, 2, 3]}, "steps": 1500, "log_every": 30, "checkpoint_every": 40}`

// referenceRun runs slowJSON uninterrupted once per test process.
var (
	refOnce sync.Once
	refDir  string
	refTime time.Duration
	refErr  error
)

func reference(t *testing.T, bin, cfg string) (string, time.Duration) {
	t.Helper()
	refOnce.Do(func() {
		refDir = filepath.Join(binDir, "reference")
		start := time.Now()
		out, err := exec.Command(bin, "-config", cfg, "-out", refDir, "-quiet", "-workers", "2").CombinedOutput()
		refTime = time.Since(start)
		if err != nil {
			refErr = fmt.Errorf("reference run: %v\n%s", err, out)
		}
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refDir, refTime
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestSignalResume: SIGINT and SIGTERM stop the run with status 130 after
// writing checkpoints and a partial summary; rerunning resumes and gives
// the same bytes as an uninterrupted run.
func TestSignalResume(t *testing.T) {
	bin := headsweepBinary(t)
	cfg := writeFile(t, "slow.json", slowJSON)
	ref, _ := reference(t, bin, cfg)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			cmd := exec.Command(bin, "-config", cfg, "-out", out, "-quiet", "-workers", "1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait for the first checkpoint, so the signal lands mid-point.
			deadline := time.Now().Add(30 * time.Second)
			for pointPath(t, out, "heads3", "checkpoint.json") == "" && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			if code := exitCode(err); code != runner.ExitInterrupted {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", code, runner.ExitInterrupted, stderr.String())
			}
			res, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != runner.StatusInterrupted || res.Records[2].Status != runner.StatusInterrupted {
				t.Errorf("summary status %q, H=3 %q; want interrupted", res.Status, res.Records[2].Status)
			}
			if out, err := exec.Command(bin, "-config", cfg, "-out", out, "-quiet", "-workers", "2").CombinedOutput(); err != nil {
				t.Fatalf("resume: %v\n%s", err, out)
			}
			sameResults(t, ref, out)
		})
	}
}

// TestKillResume: a run killed with SIGKILL at a random moment, then rerun
// (and possibly killed again), ends with the same bytes as an uninterrupted
// run. Repeated with fresh random delays.
func TestKillResume(t *testing.T) {
	bin := headsweepBinary(t)
	cfg := writeFile(t, "slow.json", slowJSON)
	ref, dur := reference(t, bin, cfg)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 9))
	t.Logf("reference run %v; delays from seed %d", dur, seed)
	for i := range 6 {
		out := filepath.Join(t.TempDir(), "run")
		for kill := 0; kill < 2; kill++ {
			// The first kill favours the start, where the directory is
			// being set up; the second is uniform over a whole run.
			u := rng.Float64()
			if kill == 0 {
				u *= u
			}
			delay := time.Duration(u * float64(dur))
			cmd := exec.Command(bin, "-config", cfg, "-out", out, "-quiet", "-workers", []string{"1", "2"}[kill])
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			cmd.Process.Kill()
			err := cmd.Wait()
			t.Logf("round %d: kill %d after %v: %v", i, kill, delay, err)
		}
		if out, err := exec.Command(bin, "-config", cfg, "-out", out, "-quiet", "-workers", "2").CombinedOutput(); err != nil {
			t.Fatalf("round %d: resume: %v\n%s", i, err, out)
		}
		sameResults(t, ref, out)
		if t.Failed() {
			t.Fatalf("round %d differs", i)
		}
	}
}

// TestJSONLogAndProgress: -json-log writes one JSON object per line, and
// the progress callback reaches all of the work.
func TestJSONLogAndProgress(t *testing.T) {
	cfg := writeFile(t, "c.json", tinyJSON)
	code, stderr := runMain("-config", cfg, "-out", filepath.Join(t.TempDir(), "run"), "-json-log")
	if code != runner.ExitOK {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil || v["msg"] == nil || v["level"] == nil {
			t.Errorf("not a JSON log line: %q", l)
		}
	}
	if len(lines) < 4 {
		t.Errorf("only %d log lines", len(lines))
	}

	c := tinyConfig(filepath.Join(t.TempDir(), "run"))
	var last runner.Progress
	calls := 0
	if _, err := RunWith(c, runner.Options{Progress: func(p runner.Progress) { last = p; calls++ }}); err != nil {
		t.Fatal(err)
	}
	if calls < 2*c.Steps || last.Done != last.Total || last.PointsDone != 2 || last.Points != 2 {
		t.Errorf("%d calls, last %+v", calls, last)
	}
}

// seq is "1,2,...,n".
func seq(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = strconv.Itoa(i + 1)
	}
	return strings.Join(s, ",")
}

// TestOutOfMemoryExit4: the program whose NTK Gram (20000^2 doubles,
// 3 GiB, within the memory estimate's limit on a machine with room) cannot
// be allocated under a 2 GB address-space limit crashes in Go's allocator;
// it exits with status 4 naming the cause, never with the bad-input
// status 2 the Go runtime gives a fatal error.
func TestOutOfMemoryExit4(t *testing.T) {
	bin := headsweepBinary(t)
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatal("prlimit (util-linux) is needed for this test: ", err)
	}
	out := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(prlimit, "--as=2000000000", "--", bin, "-heads", "1", "-steps", "1",
		"-set", "data.train=20000", "-set", "seed=1", "-workers", "1", "-quiet", "-out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	code := exitCode(cmd.Run())
	if code == runner.ExitInput && strings.Contains(stderr.String(), "MemAvailable") {
		t.Skipf("this machine has too little memory available for the case (%s)", strings.TrimSpace(stderr.String()))
	}
	s := stderr.String()
	if code != runner.ExitMemory || !allocatorFatal.MatchString(s) || !strings.Contains(s, "headsweep: out of memory") {
		if len(s) > 3000 {
			s = "..." + s[len(s)-3000:]
		}
		t.Fatalf("exit status %d, want %d with the runtime's and the program's messages; stderr:\n%s", code, runner.ExitMemory, s)
	}
}

// allocatorFatal is the Go runtime's message for a failed allocation
// ("fatal error: out of memory", or, when the limit strikes first in
// the runtime's own allocations, "fatal error: runtime: cannot allocate
// memory" or "... out of memory allocating heap arena metadata"; under
// the race detector "too many address space collisions for -race mode").
var allocatorFatal = regexp.MustCompile(`fatal error: .*(memory|address space)`)
