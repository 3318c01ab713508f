package experiments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
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
		out, err := exec.Command("go", "build", "-o", binPath, "./headsweep").CombinedOutput()
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
	code := Main("headsweep", HeadSweepWith, args, &stdout, &stderr)
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

const tinyJSON = `{"data": {"train": 32, "test": 32, "tokens": 4, "dim": 6, "clusters": 2}, "heads": [1, 2], "steps": 20, "log_every": 2, "checkpoint_every": 5}`

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
		{"unknown field", `{"heads": [1], "stepz": 10}`, nil, []string{"unknown field", `"stepz"`}},
		{"wrong type", `{"steps": "many"}`, nil, []string{"steps", "string", "integer"}},
		{"out of range in file", `{"data": {"zeta": 1.5}}`, nil, []string{"data.zeta = 1.5", "(0, 1]"}},
		{"out of range flag", "", []string{"-steps", "-3"}, []string{"steps = -3", "[1, 100000000]"}},
		{"bad heads flag", "", []string{"-heads", "1,x"}, []string{"-heads", `"1,x"`, "comma-separated integers"}},
		{"zero heads", "", []string{"-heads", "0,2"}, []string{"heads = 0,2", "[1, 4096]"}},
		{"negative eta", "", []string{"-eta", "-0.1"}, []string{"eta = -0.1", "> 0"}},
		{"flag type", "", []string{"-workers", "two"}, []string{"-workers", `"two"`}},
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
			if code != ExitInput {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, ExitInput, stderr)
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
	cfg := writeFile(t, "c.json", `{"data": {"train": 32, "test": 32, "tokens": 4, "dim": 6, "clusters": 2}, "heads": [1, 4], "steps": 20, "eta": 100, "max_loss": 1}`)
	code, stderr := runMain("-config", cfg, "-out", out, "-quiet")
	if code != ExitDiverged {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, ExitDiverged, stderr)
	}
	s, err := ReadSummary(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusDiverged {
		t.Errorf("summary status %q, want diverged", s.Status)
	}
	h1, h4 := s.Points[0], s.Points[1]
	if h1.Status != StatusOK || h1.Step != 20 {
		t.Errorf("H=1: status %q at step %d, want ok at 20", h1.Status, h1.Step)
	}
	if h4.Status != StatusDiverged || h4.DivergedStep == nil || *h4.DivergedStep != 1 || !strings.Contains(h4.Divergence, "threshold 1") {
		t.Errorf("H=4: %+v, want diverged at step 1 above the threshold 1", h4)
	}
	// A rerun keeps the results and the status.
	if code, stderr := runMain("-config", cfg, "-out", out, "-quiet"); code != ExitDiverged {
		t.Errorf("rerun: exit status %d, want %d; stderr:\n%s", code, ExitDiverged, stderr)
	}
}

// TestOutputDirChecks: a directory with a run of another config is refused
// unless -force; one with unrelated files is refused; changing only workers
// resumes; unwritable directories fail at start with status 2.
func TestOutputDirChecks(t *testing.T) {
	cfg := writeFile(t, "c.json", tinyJSON)
	out := filepath.Join(t.TempDir(), "run")
	if code, stderr := runMain("-config", cfg, "-out", out, "-quiet"); code != ExitOK {
		t.Fatalf("first run: exit status %d; stderr:\n%s", code, stderr)
	}
	before, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))

	code, stderr := runMain("-config", cfg, "-out", out, "-quiet", "-steps", "10")
	if code != ExitInput || !strings.Contains(stderr, "different config") || !strings.Contains(stderr, "steps: 20 there, 10 here") || !strings.Contains(stderr, "-force") {
		t.Errorf("other config: exit status %d; stderr:\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(out, "metrics.csv")); !bytes.Equal(before, after) {
		t.Error("the refused run changed metrics.csv")
	}
	if code, stderr := runMain("-config", cfg, "-out", out, "-quiet", "-workers", "1", "-checkpoint-every", "3"); code != ExitOK {
		t.Errorf("same config, other workers: exit status %d; stderr:\n%s", code, stderr)
	}
	if code, stderr := runMain("-config", cfg, "-out", out, "-quiet", "-steps", "10", "-force"); code != ExitOK {
		t.Errorf("-force: exit status %d; stderr:\n%s", code, stderr)
	}
	if rows, err := ReadMetrics(filepath.Join(out, "metrics.csv")); err != nil || rows[len(rows)-1].Step != 10 {
		t.Errorf("-force did not replace the run: %v", err)
	}

	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644)
	if code, stderr := runMain("-config", cfg, "-out", other, "-quiet"); code != ExitInput || !strings.Contains(stderr, "not a run directory") {
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
		if code != ExitInput || !strings.Contains(stderr, dir) || !(strings.Contains(stderr, "cannot create") || strings.Contains(stderr, "not writable")) {
			t.Errorf("-out %s: exit status %d; stderr:\n%s", dir, code, stderr)
		}
	}
}

// slowJSON is a sweep that runs for a second or two, long enough to be
// interrupted at a random moment.
const slowJSON = `{"data": {"train": 32, "test": 32, "tokens": 4, "dim": 6, "clusters": 2}, "heads": [1, 2, 3], "steps": 1500, "log_every": 30, "checkpoint_every": 40}`

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
			for !exists(filepath.Join(out, "points", "H3", "checkpoint.json")) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			if code := exitCode(err); code != ExitInterrupted {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", code, ExitInterrupted, stderr.String())
			}
			s, err := ReadSummary(filepath.Join(out, "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != StatusInterrupted || s.Points[2].Status != StatusInterrupted {
				t.Errorf("summary status %q, H=3 %q; want interrupted", s.Status, s.Points[2].Status)
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
	if code != ExitOK {
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
	var last Progress
	calls := 0
	if _, err := HeadSweepWith(c, Options{Progress: func(p Progress) { last = p; calls++ }}); err != nil {
		t.Fatal(err)
	}
	if calls < 2*c.Steps || last.Done != last.Total || last.PointsDone != 2 || last.Points != 2 {
		t.Errorf("%d calls, last %+v", calls, last)
	}
}
