package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// fake is an experiment over the toy config whose points write a params
// file and two metric rows; with block set, every point checkpoints and
// then waits for block to close (or the context to end).
func fake(block chan struct{}) Experiment {
	return Experiment{
		Name:     "fake",
		Defaults: func() Config { return newToy() },
		Columns:  []string{"step", "value"},
		Point: func(ctx context.Context, w *Work) (Outcome, error) {
			c := w.Config.(*toy)
			var cp struct {
				Step int `json:"step"`
			}
			if _, err := w.LoadCheckpoint(&cp); err != nil {
				return Outcome{}, err
			}
			if block != nil {
				if err := w.SaveCheckpoint(struct {
					Step int `json:"step"`
				}{1}); err != nil {
					return Outcome{}, err
				}
				select {
				case <-block:
				case <-ctx.Done():
					return Outcome{Status: StatusInterrupted, Record: map[string]string{"status": StatusInterrupted}}, nil
				}
			}
			dir := w.ParamsDir("final")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return Outcome{}, err
			}
			v := float64(c.A) * c.Data.Zeta
			if err := os.WriteFile(filepath.Join(dir, "p.npy"), []byte(fmt.Sprintf("params %d %g %d\n", c.A, c.Data.Zeta, c.Data.Seed)), 0o644); err != nil {
				return Outcome{}, err
			}
			return Outcome{Status: StatusOK, Rows: []string{CSVLine(1, v), CSVLine(2, v/2)},
				Record: map[string]any{"status": StatusOK, "value": v}}, nil
		},
	}
}

func toyRun(out string, as ...string) *toy {
	c := newToy()
	c.Out, c.Workers = out, 2
	c.Sweep = Axes{axis("a", as...)}
	return c
}

func logTo(b *bytes.Buffer) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(&syncWriter{w: b})
	return l
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// waitFor polls cond until it holds; the deadline only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(60 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func holders(out string) int {
	es, _ := os.ReadDir(filepath.Join(out, holdersName))
	return len(es)
}

func checkpoints(out string) int {
	m, _ := filepath.Glob(filepath.Join(out, "points", "*", "checkpoint.json"))
	return len(m)
}

// TestLockRefusesOtherConfig: while a run holds a directory, a run or a
// shard with another config is refused naming the holder (pid, host,
// start); a run with the same config waits and then succeeds, as does
// the first; a merge meanwhile calls the running points "running".
func TestLockRefusesOtherConfig(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	block := make(chan struct{})
	e := fake(block)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errs[0] = Run(e, toyRun(out, "1", "2"), Options{Shard: Shard{Index: 0, Count: 1}})
	}()
	waitFor(t, "the first run's checkpoints", func() bool { return checkpoints(out) == 2 })

	other := toyRun(out, "1", "3")
	for _, opt := range []Options{{}, {Shard: Shard{Index: 0, Count: 2}}} {
		_, err := Run(e, other, opt)
		var in *InputError
		var le *LockedError
		if !errors.As(err, &in) || !errors.As(err, &le) {
			t.Fatalf("other config, shard %v: got %v, want a *LockedError input error", opt.Shard, err)
		}
		for _, want := range []string{"pid " + strconv.Itoa(os.Getpid()), hostname, "started", "another config"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message does not name %q: %v", want, err)
			}
		}
	}
	_, err := Run(e, toyRun(out, "1", "2"), Options{Merge: true})
	if err == nil || !strings.Contains(err.Error(), "running") || strings.Contains(err.Error(), "stopped") {
		t.Errorf("merge while the shard runs: %v, want the points named running", err)
	}
	// The same config as a whole run: it waits for the shard.
	wg.Add(1)
	go func() { defer wg.Done(); _, errs[1] = Run(e, toyRun(out, "1", "2"), Options{}) }()
	waitFor(t, "the second run to wait", func() bool { return true })
	close(block)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d with the same config: %v", i, err)
		}
	}
	if n := holders(out); n != 0 {
		t.Errorf("%d holder files left", n)
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err != nil {
		t.Error(err)
	}
}

// TestIdenticalConcurrentRuns: runs of one config started together all
// succeed, with the same bytes as one run.
func TestIdenticalConcurrentRuns(t *testing.T) {
	ref := filepath.Join(t.TempDir(), "ref")
	if _, err := Run(fake(nil), toyRun(ref, "1", "2", "3"), Options{}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(ref, "metrics.csv"))
	out := filepath.Join(t.TempDir(), "run")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opt := Options{}
			if i%2 == 1 {
				opt.Shard = Shard{Index: 0, Count: 1}
			}
			_, errs[i] = Run(fake(nil), toyRun(out, "1", "2", "3"), opt)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(out, "metrics.csv")); !bytes.Equal(got, want) {
		t.Errorf("metrics.csv\n%s\nwant\n%s", got, want)
	}
}

// TestForceOnlyDeletesRecordedFiles: -force refuses a directory holding
// files the program did not write, names one, deletes nothing and does
// not suggest -force; on a run it wrote, it deletes it.
func TestForceOnlyDeletesRecordedFiles(t *testing.T) {
	dir := t.TempDir()
	foreign := map[string]string{"config.json": `{"mine": 1}`, "data/important.csv": "a,b\n", "plots/figure1.png": "png"}
	for f, s := range foreign {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644)
	}
	for _, force := range []bool{false, true} {
		_, err := Run(fake(nil), toyRun(dir, "1"), Options{Force: force})
		var in *InputError
		if !errors.As(err, &in) || !strings.Contains(err.Error(), "data/important.csv") || strings.Contains(err.Error(), "-force to") {
			t.Errorf("force %v: %v; want an input error naming data/important.csv without suggesting -force", force, err)
		}
	}
	for f, s := range foreign {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != s {
			t.Errorf("%s changed: %q, %v", f, b, err)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 3 {
		t.Errorf("the refused directory holds %d entries, want the 3 foreign ones", len(es))
	}

	out := filepath.Join(t.TempDir(), "run")
	if _, err := Run(fake(nil), toyRun(out, "1", "2"), Options{}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(out, "plots"), 0o755)
	os.WriteFile(filepath.Join(out, "plots", "figure1.png"), []byte("x"), 0o644)
	_, err := Run(fake(nil), toyRun(out, "3"), Options{Force: true})
	if err == nil || !strings.Contains(err.Error(), "plots/figure1.png") {
		t.Errorf("-force beside a foreign plot: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(out, "points", "a1-*")); len(m) != 1 {
		t.Error("the refused -force deleted points")
	}
	os.Remove(filepath.Join(out, "plots", "figure1.png"))
	if _, err := Run(fake(nil), toyRun(out, "3"), Options{Force: true}); err != nil {
		t.Fatalf("-force on a recorded run: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(out, "points", "a1-*")); len(m) != 0 {
		t.Error("-force kept the earlier points")
	}
}

// TestDamagedPointsRecomputed: a finished point whose files changed since
// they were written is never used: a merge refuses it naming the file, a
// run logs the file and why and computes it again, giving the same bytes.
func TestDamagedPointsRecomputed(t *testing.T) {
	for _, tc := range []struct {
		name, file string // file: relative to the point's directory ("params/" for its params)
		damage     func(b []byte) []byte
	}{
		{"metrics cut mid-line", "metrics.csv", func(b []byte) []byte { return b[:len(b)-3] }},
		{"row dropped", "metrics.csv", func(b []byte) []byte { return b[:bytes.IndexByte(b[len("step,value\n"):], '\n')+len("step,value\n")+1] }},
		{"number edited", "result.json", func(b []byte) []byte { return bytes.Replace(b, []byte("0.25"), []byte("0.26"), 1) }},
		{"byte flipped in params", "params/final/p.npy", func(b []byte) []byte { b[2] ^= 1; return b }},
		{"files.json cut", "files.json", func(b []byte) []byte { return b[:10] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			res, err := Run(fake(nil), toyRun(out, "1", "2"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))
			pd := res.Records[0].Dir
			path := filepath.Join(out, "points", pd, tc.file)
			if f, ok := strings.CutPrefix(tc.file, "params/"); ok {
				path = filepath.Join(out, "params", pd, f)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(b)
			if err := os.WriteFile(path, tc.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = Run(fake(nil), toyRun(out, "1", "2"), Options{Merge: true})
			if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), filepath.Base(path)) {
				t.Errorf("merge: %v, want the damaged file named", err)
			}
			var log bytes.Buffer
			if _, err := Run(fake(nil), toyRun(out, "1", "2"), Options{Log: logTo(&log)}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "damaged") || !strings.Contains(log.String(), filepath.Base(path)) {
				t.Errorf("log does not name the damaged file:\n%s", log.String())
			}
			if got, _ := os.ReadFile(filepath.Join(out, "metrics.csv")); !bytes.Equal(got, want) {
				t.Errorf("metrics.csv after recomputing:\n%s\nwant\n%s", got, want)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, orig) {
				t.Errorf("%s not restored", tc.file)
			}
		})
	}
}

// TestDamagedCheckpoint: a checkpoint cut short, edited or not JSON does
// not block its point: the run logs it and computes the point from the
// start.
func TestDamagedCheckpoint(t *testing.T) {
	for _, bad := range []string{`{"sha256": "00", "checkpoint": {"step": 3}}`, `{"sha256": "`, "\x00\x01garbage"} {
		out := filepath.Join(t.TempDir(), "run")
		res, err := Run(fake(nil), toyRun(out, "1", "2"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))
		pd := filepath.Join(out, "points", res.Records[1].Dir)
		os.Remove(filepath.Join(pd, "result.json"))
		os.WriteFile(filepath.Join(pd, "checkpoint.json"), []byte(bad), 0o644)
		var log bytes.Buffer
		if _, err := Run(fake(nil), toyRun(out, "1", "2"), Options{Log: logTo(&log)}); err != nil {
			t.Fatalf("checkpoint %q: %v", bad, err)
		}
		if !strings.Contains(log.String(), "checkpoint is damaged") {
			t.Errorf("checkpoint %q: the log does not say so:\n%s", bad, log.String())
		}
		if got, _ := os.ReadFile(filepath.Join(out, "metrics.csv")); !bytes.Equal(got, want) {
			t.Errorf("checkpoint %q: metrics.csv differs", bad)
		}
	}
}

// TestMemoryRefused: a run whose estimate exceeds the machine's memory or
// max_memory is refused before anything is written, naming the fields
// and the estimate.
func TestMemoryRefused(t *testing.T) {
	e := fake(nil)
	e.Memory = func(c Config) (float64, []string) {
		return 1e6 * float64(c.(*toy).A), []string{fmt.Sprintf("buffers from a = %d", c.(*toy).A)}
	}
	out := filepath.Join(t.TempDir(), "run")
	c := toyRun(out, "1", "2")
	c.MaxMemory = "1M"
	_, err := Run(e, c, Options{})
	var in *InputError
	if !errors.As(err, &in) {
		t.Fatalf("got %v, want an input error", err)
	}
	for _, w := range []string{"a = 2", "max_memory = 1M", "estimated peak memory 2.9 MiB", "a2"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message lacks %q: %v", w, err)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the refused run created its directory")
	}
	e.Memory = func(Config) (float64, []string) { return math.Inf(1), []string{"everything"} }
	if _, err := Run(e, toyRun(out, "1"), Options{}); !errors.As(err, &in) || !strings.Contains(err.Error(), "MemAvailable") {
		t.Errorf("beyond the machine: %v", err)
	}
	c.MaxMemory = "lots"
	if _, err := Grid("fake", c, false, nil); err == nil || !strings.Contains(err.Error(), "max_memory") {
		t.Errorf("max_memory = lots: %v", err)
	}
	for s, want := range map[string]float64{"1000": 1000, "1e9": 1e9, "4G": 4 << 30, "512MiB": 512 << 20, "2kb": 2048} {
		if got, err := ParseBytes(s); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

// TestMergeInterruptedWritesNothing: a merge whose context is cancelled
// (SIGTERM) returns ErrInterrupted and writes no summary.json; a merge
// whose plots fail writes no summary.json either (plots come first).
func TestMergeInterruptedWritesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if _, err := Run(fake(nil), toyRun(out, "1", "2"), Options{Shard: Shard{Index: 0, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(fake(nil), toyRun(out, "1", "2"), Options{Merge: true, Context: ctx}); !errors.Is(err, ErrInterrupted) {
		t.Errorf("cancelled merge: %v, want ErrInterrupted", err)
	}
	e := fake(nil)
	e.Plots = func(*Result) ([]NamedPlot, error) { return nil, errors.New("no plots today") }
	if _, err := Run(e, toyRun(out, "1", "2"), Options{Merge: true}); err == nil {
		t.Error("merge with failing plots succeeded")
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err == nil {
		t.Error("summary.json written without its plots")
	}
}

// TestConfigFileSpellings: duplicate keys, case variants, null, unknown
// nested keys and another experiment's settings are refused with their
// path.
func TestConfigFileSpellings(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{"a": 1, "a": 2}`, `"a" is given twice`},
		{`{"a": 1, "A": 2}`, `"a" and "A"`},
		{`{"data": {"zeta": 0.5, "ZETA": 0.5}}`, `"data.ZETA"`},
		{`{"A": 2}`, `unknown key "A"`},
		{`null`, "null"},
		{`{"data": {"foo": 1}}`, `"data.foo"`},
		{`{"margin": {"samples": 3}}`, `unknown key "margin"`},
		{`{"sweep": {"a": [1], "a": [2]}}`, `twice`},
	} {
		_, err := ReadConfigFile(strings.NewReader(tc.src), newToy())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %s", tc.src, err, tc.want)
		}
	}
}

// TestNegativeZeroIdentity: -0 and 0 are one value: same identity, and
// a duplicate in a sweep.
func TestNegativeZeroIdentity(t *testing.T) {
	var ids []string
	for _, v := range []string{"0", "-0", "0.0", "-0e3"} {
		c, err := Apply(newToy(), nil, Overrides{Sets: []Set{{Key: "data.zeta", Value: jsonValue(v)}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, Identity("fake", "code", c))
	}
	for i := range ids {
		if ids[i] != ids[0] {
			t.Errorf("identity of value %d differs from that of 0", i)
		}
	}
	c := newToy()
	c.Sweep = Axes{axis("data.zeta", "0", "-0")}
	if _, err := Grid("fake", c, false, nil); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("sweep 0,-0: %v, want a duplicate", err)
	}
}

// TestSlurmValues: -slurm-mem and -slurm-time take sbatch's forms only.
func TestSlurmValues(t *testing.T) {
	for _, tc := range []struct {
		mem, time string
		ok        bool
	}{
		{"4G", "2:00:00", true}, {"500", "30", true}, {"", "", true}, {"16g", "1-12", true}, {"1T", "1-00:30:00", true},
		{"lots", "1:00:00", false}, {"0", "1:00:00", false}, {"4GB", "1:00:00", false}, {"4G", "two", false}, {"4G", "1:2:3:4", false}, {"4G", "-1", false},
	} {
		err := Slurm{Shards: 1, CPUs: 1, Mem: tc.mem, Time: tc.time}.validate()
		if (err == nil) != tc.ok {
			t.Errorf("mem %q time %q: %v, want ok %v", tc.mem, tc.time, err, tc.ok)
		}
	}
}

// TestDanglingSymlinkOut: -out naming a dangling symbolic link says so.
func TestDanglingSymlinkOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone", "run"), out); err != nil {
		t.Skip(err)
	}
	_, err := Run(fake(nil), toyRun(out, "1"), Options{})
	var in *InputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("got %v", err)
	}
}
