package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// commandEnv makes this test binary the program of the crashy experiment
// (TestMain), so that the tests can run it as a command under Command's
// monitor.
const commandEnv = "RUNNER_TEST_COMMAND"

// pidFileEnv names the file where a "wait" point writes its process id.
const pidFileEnv = "RUNNER_TEST_PID_FILE"

func TestMain(m *testing.M) {
	if os.Getenv(commandEnv) != "" {
		os.Exit(Command(crashyExperiment))
	}
	os.Exit(m.Run())
}

// crashy is the config of an experiment whose points do what mode says:
// "ok" finish, "alloc" allocate and touch bytes, "panic" panic in a
// goroutine, "wait" write their pid to $RUNNER_TEST_PID_FILE, wait for
// a signal and stop 150 ms later.
type crashy struct {
	Settings
	Mode  string  `json:"mode"`
	Bytes float64 `json:"bytes"`
}

func (c *crashy) Validate() error {
	switch c.Mode {
	case "ok", "alloc", "panic", "wait":
		return nil
	}
	return &FieldError{Field: "mode", Value: c.Mode, Want: "ok, alloc, panic or wait"}
}

var sink []byte

var crashyExperiment = Experiment{
	Name:     "crashy",
	Defaults: func() Config { return &crashy{Settings: DefaultSettings("out"), Mode: "ok"} },
	Columns:  []string{"step", "value"},
	Point: func(ctx context.Context, w *Work) (Outcome, error) {
		c := w.Config.(*crashy)
		switch c.Mode {
		case "alloc":
			sink = make([]byte, int(c.Bytes))
			for i := 0; i < len(sink); i += 4096 {
				sink[i] = 1
			}
		case "panic":
			go func() { panic("crashy: a bug") }()
			<-ctx.Done()
		case "wait":
			if err := os.WriteFile(os.Getenv(pidFileEnv), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
				return Outcome{}, err
			}
			<-ctx.Done()
			time.Sleep(150 * time.Millisecond) // a checkpoint takes a moment
			return Outcome{Status: StatusInterrupted, Record: map[string]string{"status": StatusInterrupted}}, nil
		}
		return Outcome{Status: StatusOK, Rows: []string{CSVLine(1, 1)}, Record: map[string]any{"status": StatusOK}}, nil
	},
}

// command returns this test binary as the crashy program with args.
func command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), commandEnv+"=1")
	return cmd
}

// status runs cmd and returns its exit status (-1 if a signal ended it)
// and its stderr.
func status(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// TestOutOfMemoryStatus: a run whose allocation fails under an
// address-space limit (a Go "fatal error: out of memory", which exits
// with 2, the bad-input status) ends with ExitMemory and says so; the
// point that finished before is kept, and a rerun without the limit
// finishes the rest.
func TestOutOfMemoryStatus(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatal("prlimit (util-linux) is needed for this test: ", err)
	}
	exe, _ := os.Executable()
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"-out", out, "-workers", "1", "-sweep", `mode=ok,alloc`, "-set", "bytes=4e9"}
	cmd := exec.Command(prlimit, append([]string{"--as=2000000000", "--", exe}, args...)...)
	cmd.Env = append(os.Environ(), commandEnv+"=1")
	code, stderr := status(t, cmd)
	if code != ExitMemory || !allocatorFatal.MatchString(stderr) ||
		!strings.Contains(stderr, "crashy: out of memory") {
		t.Fatalf("exit status %d, want %d with the runtime's and the monitor's messages; stderr:\n%s", code, ExitMemory, tail(stderr))
	}
	finished, _ := filepath.Glob(filepath.Join(out, "points", "*", "files.json"))
	if len(finished) != 1 {
		t.Errorf("%d finished points after the crash, want 1 (mode ok)", len(finished))
	}
	// Without the monitor the same crash exits 2: what the monitor is for.
	cmd = exec.Command(prlimit, append([]string{"--as=2000000000", "--", exe}, args...)...)
	cmd.Env = append(os.Environ(), commandEnv+"=1", MonitorEnv+"=off")
	if code, stderr := status(t, cmd); code != ExitInput || !allocatorFatal.MatchString(stderr) {
		t.Errorf("without the monitor: exit status %d, want the runtime's 2; stderr:\n%s", code, tail(stderr))
	}
	// A rerun with room, and a smaller allocation, finishes.
	code, stderr = status(t, command(t, "-out", out, "-workers", "1", "-sweep", `mode=ok,alloc`, "-set", "bytes=1e6"))
	if code != ExitOK {
		t.Fatalf("rerun: exit status %d; stderr:\n%s", code, tail(stderr))
	}
}

// TestCrashStatus: a panic in a point is a crash (ExitFailure, named as
// a bug), not bad input; bad input still exits 2.
func TestCrashStatus(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stderr := status(t, command(t, "-out", out, "-set", "mode=panic"))
	if code != ExitFailure || !strings.Contains(stderr, "panic: crashy: a bug") || !strings.Contains(stderr, "crashy: the program crashed") {
		t.Errorf("panic: exit status %d, want %d naming the crash; stderr:\n%s", code, ExitFailure, tail(stderr))
	}
	if memoryCrash([]byte(stderr)) {
		t.Error("a panic's report is taken for an allocation failure")
	}
	code, stderr = status(t, command(t, "-out", out, "-set", "mode=bogus"))
	if code != ExitInput || !strings.Contains(stderr, "mode") {
		t.Errorf("bad input: exit status %d, want %d; stderr:\n%s", code, ExitInput, stderr)
	}
}

// TestMonitorSignals: SIGTERM to the program, and SIGINT to its process
// group (Ctrl-C: the monitor and the child both get it, and the monitor
// passes its copy on), stop the run once, after a checkpoint (status 130,
// not a kill); SIGKILL of the program ends the child too.
func TestMonitorSignals(t *testing.T) {
	for _, c := range []struct {
		name string
		// group: to the process group; twice: to the child, then 50 ms
		// later to the monitor, as SLURM may deliver a job step's SIGTERM.
		group, twice bool
		sig          syscall.Signal
	}{
		{"SIGTERM", false, false, syscall.SIGTERM},
		{"SIGINT to the group", true, false, syscall.SIGINT},
		{"SIGTERM to both 50 ms apart", false, true, syscall.SIGTERM},
		{"SIGKILL", false, false, syscall.SIGKILL},
	} {
		t.Run(c.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			cmd := command(t, "-out", filepath.Join(t.TempDir(), "run"), "-set", "mode=wait")
			cmd.Env = append(cmd.Env, pidFileEnv+"="+pidFile)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.WaitDelay = 10 * time.Second // a child left alive keeps stderr open
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var child int
			waitFor(t, "the point to start", func() bool {
				b, err := os.ReadFile(pidFile)
				child, _ = strconv.Atoi(string(b))
				return err == nil && child > 0
			})
			if child == cmd.Process.Pid {
				t.Fatal("the point runs in the monitor's process")
			}
			target := cmd.Process.Pid
			if c.group {
				target = -target
			}
			if c.twice {
				if err := syscall.Kill(child, c.sig); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := syscall.Kill(target, c.sig); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if c.sig == syscall.SIGKILL {
				waitFor(t, "the child to die with the monitor", func() bool { return !alive(child) })
				return
			}
			if code := cmd.ProcessState.ExitCode(); code != ExitInterrupted || !strings.Contains(stderr.String(), "stopping after a checkpoint") {
				t.Errorf("exit status %d (%v), want %d after one graceful stop; stderr:\n%s", code, cmd.ProcessState, ExitInterrupted, tail(stderr.String()))
			}
		})
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// tail is the start and the end of a long stderr.
func tail(s string) string {
	if len(s) > 4000 {
		return s[:1500] + "\n...\n" + s[len(s)-2500:]
	}
	return s
}

// TestCgroupLimit: the memory limit is read from the process's cgroup and
// its parents, the smallest set one, in cgroup v2 and v1 layouts; "max"
// and v1's 2^63 are no limit.
func TestCgroupLimit(t *testing.T) {
	write := func(path, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v2 := t.TempDir()
	write(filepath.Join(v2, "cgroup.controllers"), "cpu memory\n")
	write(filepath.Join(v2, "memory.max"), "max\n")
	write(filepath.Join(v2, "job/memory.max"), "4294967296\n")
	write(filepath.Join(v2, "job/step/memory.max"), "max\n")
	write(filepath.Join(v2, "job/step/task/memory.max"), "max\n")
	lim, file, ok := cgroupLimit(v2, "0::/job/step/task\n")
	if !ok || lim != 4294967296 || file != filepath.Join(v2, "job/memory.max") {
		t.Errorf("v2: %v %q %v, want 4 GiB from job/memory.max", lim, file, ok)
	}
	if _, _, ok := cgroupLimit(v2, "0::/\n"); ok {
		t.Error("v2 root with max: a limit found")
	}
	// A path not under the mount (a cgroup namespace): the mount's root.
	if d := cgroupDirs(v2, "0::/elsewhere\n"); len(d) != 1 || d[0] != v2 {
		t.Errorf("namespaced path: dirs %v", d)
	}

	v1 := t.TempDir()
	write(filepath.Join(v1, "memory/memory.limit_in_bytes"), "9223372036854771712\n")
	write(filepath.Join(v1, "memory/slurm/uid_1/job_2/memory.limit_in_bytes"), "1073741824\n")
	write(filepath.Join(v1, "memory/slurm/uid_1/memory.limit_in_bytes"), "2147483648\n")
	lim, _, ok = cgroupLimit(v1, "5:cpuset:/\n4:memory:/slurm/uid_1/job_2\n0::/\n")
	if !ok || lim != 1073741824 {
		t.Errorf("v1: %v %v, want 1 GiB", lim, ok)
	}
	if _, _, ok := cgroupLimit(v1, "4:memory:/\n"); ok {
		t.Error("v1 root with 2^63: a limit found")
	}
}

// TestMemoryRefusedByCgroup: a cgroup limit below the estimate refuses
// the run, naming the file.
func TestMemoryRefusedByCgroup(t *testing.T) {
	defer func(f func() (float64, string, bool)) { memCgroupLimit = f }(memCgroupLimit)
	memCgroupLimit = func() (float64, string, bool) { return 1 << 20, "/sys/fs/cgroup/job/memory.max", true }
	e := crashyExperiment
	e.Memory = func(Config) (float64, []string) { return 2 << 20, []string{"everything 2 MiB from bytes"} }
	c := e.Defaults().(*crashy)
	c.Out = filepath.Join(t.TempDir(), "run")
	_, err := Run(e, c, Options{Context: context.Background()})
	var in *InputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "/sys/fs/cgroup/job/memory.max") {
		t.Fatalf("got %v, want an input error naming the cgroup's limit", err)
	}
	if _, err := os.Stat(c.Out); !os.IsNotExist(err) {
		t.Errorf("the refused run wrote %s", c.Out)
	}
}

// TestOOMKillerStatus: a run that the kernel's OOM killer ends (SIGKILL,
// in a memory cgroup limited to 200 MB, here made for the test) exits
// with ExitMemory and says so. It needs a memory cgroup it can create
// (root, cgroup v1 or v2) and is skipped, saying why, where there is none.
func TestOOMKillerStatus(t *testing.T) {
	dirs := cgroupDirs(cgroupRoot, readCgroupFile())
	if len(dirs) == 0 {
		t.Skip("no memory cgroup here")
	}
	cg := filepath.Join(dirs[0], fmt.Sprintf("mha-test-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot make a memory cgroup: %v", err)
	}
	defer func() {
		for end := time.Now().Add(10 * time.Second); os.Remove(cg) != nil && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
	}()
	limit := filepath.Join(cg, "memory.limit_in_bytes") // v1
	if _, err := os.Stat(limit); err != nil {
		limit = filepath.Join(cg, "memory.max") // v2
	}
	if err := os.WriteFile(limit, []byte("200000000"), 0o644); err != nil {
		t.Skipf("cannot set a memory limit: %v", err)
	}
	exe, _ := os.Executable()
	out := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command("sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, cg, exe,
		"-out", out, "-set", "mode=alloc", "-set", "bytes=1e9")
	cmd.Env = append(os.Environ(), commandEnv+"=1")
	code, stderr := status(t, cmd)
	if strings.Contains(stderr, "cgroup.procs") {
		t.Skipf("cannot join the memory cgroup: %s", stderr)
	}
	if code != ExitMemory || !strings.Contains(stderr, "crashy: killed by the kernel's out-of-memory killer") {
		t.Fatalf("exit status %d, want %d naming the OOM killer; stderr:\n%s", code, ExitMemory, tail(stderr))
	}
}

// allocatorFatal is the Go runtime's message for a failed allocation
// ("fatal error: out of memory", or, when the limit strikes first in
// the runtime's own allocations, "fatal error: runtime: cannot allocate
// memory" or "... out of memory allocating heap arena metadata"; under
// the race detector "too many address space collisions for -race mode").
var allocatorFatal = regexp.MustCompile(`fatal error: .*(memory|address space)`)
