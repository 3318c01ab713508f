package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MonitorEnv turns the monitor off when set to "off": Command then runs
// the experiment in its own process (for a debugger, say), and a crash
// exits with the Go runtime's status 2.
const MonitorEnv = "MHA_MONITOR"

// crashFDEnv tells the monitored process which file descriptor receives
// a copy of its crash output (runtime/debug.SetCrashOutput).
const crashFDEnv = "MHA_CRASH_FD"

// Command runs experiment e as a command: it reads os.Args and the
// standard streams and returns the exit status for os.Exit. An
// experiment's main is
//
//	func main() { os.Exit(runner.Command(myexp.Experiment)) }
//
// The experiment runs in a child process (the same executable and
// arguments) under a small monitor, because a Go program that crashes, by
// running out of memory or by a panic, exits with status 2, the status of
// bad input. The monitor tells them apart: a crash in Go's memory
// allocator, or a child killed while the kernel's OOM killer counted a
// kill, exits with ExitMemory; any other crash with ExitFailure. Either
// way the run's finished points and checkpoints are kept and a rerun
// resumes. The monitor passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on to
// the child (which takes a signal arriving twice at once, from the
// terminal or SLURM and from the monitor, as one), and the child dies
// with the monitor when the monitor is killed. Set MHA_MONITOR=off to run
// without it; Main runs an experiment in the calling process.
func Command(e Experiment) int {
	if fd := os.Getenv(crashFDEnv); fd != "" {
		// The child: a copy of any crash report goes to the monitor. The
		// variable is cleared so that nothing this process starts (such
		// as sbatch, which exports the environment) takes it for its own.
		os.Unsetenv(crashFDEnv)
		if n, err := strconv.Atoi(fd); err == nil {
			f := os.NewFile(uintptr(n), "crash output")
			if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
				fmt.Fprintf(os.Stderr, "%s: crash output: %v\n", e.Name, err)
			}
			f.Close()
		}
	} else if os.Getenv(MonitorEnv) != "off" {
		if code, ok := monitor(e.Name); ok {
			return code
		}
	}
	return Main(e, os.Args[1:], os.Stdout, os.Stderr)
}

// monitor runs this executable with the same arguments in a child
// process and returns the child's exit status, or the status of its
// crash. ok is false if the child could not be started (the caller then
// runs the experiment itself).
func monitor(name string) (code int, ok bool) {
	exe, err := os.Executable()
	if err != nil {
		return 0, false
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, false
	}
	defer r.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w} // descriptor 3 in the child
	cmd.Env = append(os.Environ(), crashFDEnv+"=3")
	// The child gets SIGKILL when the thread that started it ends: this
	// goroutine stays locked to its thread until the process exits, so
	// that is when the monitor dies (kill -9 of the program ends the run
	// at once, as it would without a monitor).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()

	forwarded := []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	oomBefore := oomKills()
	if err := cmd.Start(); err != nil {
		signal.Stop(sigs)
		w.Close()
		return 0, false
	}
	w.Close()
	crash := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, io.LimitReader(r, 1<<20))
		crash <- b.Bytes()
	}()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	waitErr := cmd.Wait()
	close(done)
	signal.Stop(sigs)
	// The crash report is in the pipe once the child has exited; a
	// process the child started may still hold the pipe open, so the
	// read stops after a moment.
	r.SetReadDeadline(time.Now().Add(time.Second))
	report := <-crash

	if cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, waitErr)
		return ExitFailure, true
	}
	st, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	const kept = "finished points and checkpoints are kept"
	switch {
	case len(report) > 0 && bytes.HasPrefix(bytes.TrimSpace(report), []byte("SIGQUIT")):
		return 128 + int(syscall.SIGQUIT), true
	case len(report) > 0 && memoryCrash(report):
		fmt.Fprintf(os.Stderr, "%s: out of memory: the Go runtime could not allocate (above; exit status %d). "+
			"The memory estimate (see README, \"Memory\") was too low or an address-space limit (ulimit -v) is below "+
			"what the run needs; %s: rerun with fewer workers, a smaller chunk_samples or smaller sizes, or with more memory, to resume.\n", name, ExitMemory, kept)
		return ExitMemory, true
	case len(report) > 0:
		fmt.Fprintf(os.Stderr, "%s: the program crashed (the Go runtime's report is above; exit status %d); "+
			"this is a bug, please report it with that output; %s, and a rerun resumes.\n", name, ExitFailure, kept)
		return ExitFailure, true
	case st.Signaled() && st.Signal() == syscall.SIGKILL && oomKills() > oomBefore:
		fmt.Fprintf(os.Stderr, "%s: killed by the kernel's out-of-memory killer (exit status %d); %s: "+
			"rerun with fewer workers, a smaller chunk_samples or smaller sizes, or with more memory, to resume.\n", name, ExitMemory, kept)
		return ExitMemory, true
	case st.Signaled():
		// Die of the same signal, so that the shell or SLURM sees what
		// the child saw.
		s := st.Signal()
		signal.Reset(s)
		syscall.Kill(os.Getpid(), s)
		time.Sleep(100 * time.Millisecond)
		return 128 + int(s), true
	}
	return cmd.ProcessState.ExitCode(), true
}

// memoryCrash reports whether a Go crash report is of the memory
// allocator: its crashing goroutine threw from the allocator ("fatal
// error: out of memory", printed to stderr just before the report).
func memoryCrash(report []byte) bool {
	lines := strings.Split(string(report), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "runtime.throw(") {
			continue
		}
		// The next frame is the one below the throw's file line.
		for _, next := range lines[i+1:] {
			if strings.HasPrefix(next, "\t") || next == "" {
				continue
			}
			for _, f := range []string{"runtime.(*mcache)", "runtime.(*mheap)", "runtime.(*mcentral)", "runtime.malloc",
				"runtime.persistentalloc", "runtime.sysMap", "runtime.sysAlloc", "runtime.(*userArena)", "runtime.(*linearAlloc)"} {
				if strings.HasPrefix(next, f) {
					return true
				}
			}
			return false
		}
		return false
	}
	return false
}

// oomKills counts the kills of the kernel's OOM killer, for the whole
// machine (/proc/vmstat) and this process's memory cgroup and its
// parents (memory.events or memory.oom_control), where they can be read.
func oomKills() int64 {
	var n int64
	read := func(path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "oom_kill" {
				if k, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					n += k
				}
			}
		}
	}
	read("/proc/vmstat")
	for _, dir := range cgroupDirs(cgroupRoot, readCgroupFile()) {
		read(dir + "/memory.events")
		read(dir + "/memory.oom_control")
	}
	return n
}
