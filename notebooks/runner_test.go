// Package notebooks_test tests scripts/test-notebooks.sh, the runner that
// executes the notebooks in this folder (see README.md).
package notebooks_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// needKernel skips the test when Jupyter or the gophernotes kernel is not
// installed, unless MHA_NOTEBOOK_KERNEL_REQUIRED is set (as
// scripts/test-notebooks.sh sets it), where their absence fails.
func needKernel(t *testing.T) {
	t.Helper()
	check := exec.Command("/usr/bin/python3", "-c",
		"from jupyter_client.kernelspec import KernelSpecManager as M; import nbconvert; M().get_kernel_spec('gophernotes')")
	if out, err := check.CombinedOutput(); err != nil {
		msg := "Jupyter or the gophernotes kernel is not installed (run scripts/setup-notebooks.sh): " + lastLine(out)
		if os.Getenv("MHA_NOTEBOOK_KERNEL_REQUIRED") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// TestRunnerReportsFailingCell runs the runner on a fixture whose third
// cell panics and on one that passes: it must exit non-zero, name the
// failing notebook, cell and error, pass the other, and leave both fixtures
// without outputs.
func TestRunnerReportsFailingCell(t *testing.T) {
	needKernel(t)
	fixtures := []string{"testdata/failing.ipynb", "testdata/passing.ipynb"}
	before := map[string][]byte{}
	for _, f := range fixtures {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
	}

	cmd := exec.Command("bash", append([]string{"../scripts/test-notebooks.sh"}, fixtures...)...)
	cmd.Env = append(os.Environ(), "NOTEBOOK_CELL_TIMEOUT=120")
	out, err := cmd.CombinedOutput()
	t.Logf("runner output:\n%s", out)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("runner returned %v, want exit status 1", err)
	}
	for _, want := range []string{
		`(?m)^FAIL testdata/failing\.ipynb cell 3 \[In 2\]: .*fixture: this cell fails on purpose`,
		`(?m)^    \| panic\("fixture: this cell fails on purpose"\)$`,
		`(?m)^PASS testdata/passing\.ipynb `,
		`(?m)^1 passed, 1 failed$`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("runner output does not match %s", want)
		}
	}
	if n := strings.Count(string(out), "FAIL testdata/failing.ipynb cell"); n != 1 {
		t.Errorf("runner reported %d failing cells, want 1 (cell 4 passes)", n)
	}
	for _, f := range fixtures {
		if b, err := os.ReadFile(f); err != nil || !bytes.Equal(b, before[f]) {
			t.Errorf("%s changed on disk (err %v): the runner must write outputs elsewhere", f, err)
		}
	}
}
