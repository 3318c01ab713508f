package headsweep

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDisplayInTmux runs a small sweep in a real 80x24 pseudo-terminal
// (a detached tmux session), captures the screen while it runs and at the
// end, and checks that the live display fits 80 columns, is redrawn in
// place (one total line and at most one line per worker, however many
// redraws) and ends showing completion, with the table fitting too. It
// needs tmux; with MHA_TMUX_REQUIRED=1 (scripts/test.sh) a missing tmux
// fails the test instead of skipping it.
func TestDisplayInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("MHA_TMUX_REQUIRED") == "1" {
			t.Fatal("tmux not found and MHA_TMUX_REQUIRED=1: apt-get install tmux")
		}
		t.Skip("tmux not found (apt-get install tmux)")
	}
	bin := headsweepBinary(t)
	out := filepath.Join(t.TempDir(), "out")
	const workers, cols = 2, 80
	// Labels of 37 characters, so that a point line with the widest bar
	// would not fit.
	cmd := fmt.Sprintf("%s -heads 1,2 -sweep data.sigma=0.123456789012345,0.234567890123456 -sweep data.seed=101,202 -steps 1500 -workers %d "+
		"-set data.train=32 -set data.test=32 -set data.tokens=4 -set data.dim=6 -set data.clusters=2 -set seed=0 -set log_every=100 -out %s; "+
		"echo EXIT=$?; sleep 600", bin, workers, out)
	// A server of our own, so that no user session or setting interferes.
	sock := fmt.Sprintf("mha-display-test-%d", os.Getpid())
	tmux := func(args ...string) (string, error) {
		b, err := exec.Command("tmux", append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(b), err
	}
	if b, err := tmux("new-session", "-d", "-s", "display", "-x", fmt.Sprint(cols), "-y", "24", cmd); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, b)
	}
	t.Cleanup(func() { tmux("kill-server") })

	var screens []string
	for deadline := time.Now().Add(5 * time.Minute); ; {
		s, err := tmux("capture-pane", "-p", "-J", "-t", "display")
		if err != nil {
			t.Fatalf("tmux capture-pane: %v\n%s", err, s)
		}
		screens = append(screens, s)
		if strings.Contains(s, "EXIT=") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweep did not finish; last screen:\n%s", s)
		}
		time.Sleep(100 * time.Millisecond)
	}

	running := 0 // screens showing the display of a running sweep
	for i, s := range screens {
		totals, points := 0, map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			l = strings.TrimRight(l, " ")
			if strings.HasPrefix(l, "time=") {
				continue // a log line: these may wrap
			}
			// The path of the results may be long.
			if n := len([]rune(l)); n > cols && !strings.HasPrefix(l, "results in ") {
				t.Errorf("screen %d: a line of %d columns (-J joins wrapped lines):\n%q", i, n, l)
			}
			switch {
			case strings.HasPrefix(l, "total ["):
				totals++
			case strings.HasPrefix(l, "  ") && strings.Contains(l, " ["):
				points[strings.Fields(l)[0]]++
			}
		}
		if totals > 1 {
			t.Errorf("screen %d: %d total lines, want 1 (the display scrolls instead of redrawing):\n%s", i, totals, s)
		}
		if len(points) > workers {
			t.Errorf("screen %d: %d point lines, want at most %d (one per worker):\n%s", i, len(points), workers, s)
		}
		for label, n := range points {
			if n > 1 {
				t.Errorf("screen %d: point %s has %d lines, want 1:\n%s", i, label, n, s)
			}
		}
		if totals == 1 && !strings.Contains(s, "EXIT=") {
			running++
		}
	}
	if running < 2 {
		t.Errorf("%d of %d screens showed the running display, want at least 2", running, len(screens))
	}
	// The final screen with what scrolled above it.
	final, err := tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "display")
	if err != nil {
		t.Fatalf("tmux capture-pane: %v\n%s", err, final)
	}
	for _, want := range []string{"EXIT=0", "results in " + out} {
		if !strings.Contains(final, want) {
			t.Errorf("final screen lacks %q:\n%s", want, final)
		}
	}
	done := false
	for _, l := range strings.Split(final, "\n") {
		if strings.HasPrefix(l, "total [") && strings.Contains(l, "100%") && strings.Contains(l, "points 8/8") && strings.Contains(l, "done") {
			done = true
		}
	}
	if !done {
		t.Errorf("final screen shows no completed total line (total [...] 100%% points 8/8 ... done):\n%s", final)
	}
	t.Logf("%d screens, %d showing the running display; final:\n%s", len(screens), running, final)
}
