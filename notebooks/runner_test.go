// Package notebooks_test tests scripts/test-notebooks.sh, the runner that
// executes the notebooks in this folder (see README.md), and that every
// topic has a notebook for each kernel.
package notebooks_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// kernels are the Jupyter kernels the notebooks run under, with the folder
// of each one's notebooks and of its runner fixtures.
var kernels = []struct {
	name, notebooks, fixtures string
}{
	{"gophernotes", ".", "testdata"},
	{"gonb", "gonb", "testdata/gonb"},
}

// selected reports whether the runner tests should cover kernel k:
// MHA_NOTEBOOK_KERNELS (as scripts/test-notebooks.sh sets it) limits them to
// the kernels it lists, comma-separated; unset, all.
func selected(k string) bool {
	only := os.Getenv("MHA_NOTEBOOK_KERNELS")
	return only == "" || slices.Contains(strings.Split(only, ","), k)
}

// needJupyter skips the test when Jupyter (or, for a non-empty kernel, that
// kernel) is not installed, unless MHA_NOTEBOOK_KERNEL_REQUIRED is set (as
// scripts/test.sh and scripts/test-notebooks.sh set it), where their absence
// fails.
func needJupyter(t *testing.T, kernel string) {
	t.Helper()
	script := "import nbconvert"
	what := "Jupyter"
	if kernel != "" {
		script += "; from jupyter_client.kernelspec import KernelSpecManager as M; M().get_kernel_spec('" + kernel + "')"
		what = "Jupyter or the " + kernel + " kernel"
	}
	if out, err := exec.Command("/usr/bin/python3", "-c", script).CombinedOutput(); err != nil {
		msg := what + " is not installed (run scripts/setup-notebooks.sh): " + lastLine(out)
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

// TestRunnerReportsFailingCell runs the runner, under each kernel, on a
// fixture whose third cell panics and on one that passes: it must exit
// non-zero, name the failing notebook, cell and error, pass the other, and
// leave both fixtures without outputs.
func TestRunnerReportsFailingCell(t *testing.T) {
	for _, k := range kernels {
		t.Run(k.name, func(t *testing.T) {
			if !selected(k.name) {
				t.Skipf("MHA_NOTEBOOK_KERNELS=%s leaves out %s", os.Getenv("MHA_NOTEBOOK_KERNELS"), k.name)
			}
			needJupyter(t, k.name)
			failing := k.fixtures + "/failing.ipynb"
			passing := k.fixtures + "/passing.ipynb"
			before := map[string][]byte{}
			for _, f := range []string{failing, passing} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				before[f] = b
			}

			cmd := exec.Command("bash", "../scripts/test-notebooks.sh", "--kernel", k.name, failing, passing)
			cmd.Env = append(os.Environ(), "NOTEBOOK_CELL_TIMEOUT=300")
			out, err := cmd.CombinedOutput()
			t.Logf("runner output:\n%s", out)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("runner returned %v, want exit status 1", err)
			}
			q := regexp.QuoteMeta
			for _, want := range []string{
				`(?m)^FAIL ` + q(failing) + ` cell 3 \[In 2\]: .*fixture: this cell fails on purpose`,
				`(?m)^    \| panic\("fixture: this cell fails on purpose"\)$`,
				`(?m)^PASS ` + q(passing) + ` `,
				`(?m)^1 passed, 1 failed$`,
			} {
				if !regexp.MustCompile(want).Match(out) {
					t.Errorf("runner output does not match %s", want)
				}
			}
			if n := strings.Count(string(out), "FAIL "+failing+" cell"); n != 1 {
				t.Errorf("runner reported %d failing cells, want 1 (cell 4 passes)", n)
			}
			for f, b := range before {
				if now, err := os.ReadFile(f); err != nil || !bytes.Equal(now, b) {
					t.Errorf("%s changed on disk (err %v): the runner must write outputs elsewhere", f, err)
				}
			}
		})
	}
}

// TestRunnerNamesMissingKernel points Jupyter at an empty data folder, so
// that no Go kernel is installed, and expects the runner to stop before
// running anything, naming the kernel and the command that installs it; an
// unknown kernel name exits 2 naming the allowed ones.
func TestRunnerNamesMissingKernel(t *testing.T) {
	needJupyter(t, "")
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--kernel", "gonb", "testdata/gonb/passing.ipynb"}, 1,
			`the gonb kernel is not installed \(Jupyter has no kernel spec 'gonb'\); install it with: bash scripts/setup-notebooks.sh gonb`},
		{[]string{"testdata/passing.ipynb"}, 1,
			`the gophernotes kernel is not installed \(Jupyter has no kernel spec 'gophernotes'\); install it with: bash scripts/setup-notebooks.sh gophernotes`},
		{[]string{"--kernel", "gonb"}, 1, `the gonb kernel is not installed`},
		{[]string{"--kernel", "lgo", "testdata/passing.ipynb"}, 2,
			`unknown kernel "lgo"; want --kernel gophernotes or --kernel gonb`},
	} {
		cmd := exec.Command("bash", append([]string{"../scripts/test-notebooks.sh"}, c.args...)...)
		// A HOME and JUPYTER_DATA_DIR without kernels hide the per-user kernel specs.
		cmd.Env = append(os.Environ(), "HOME="+empty, "JUPYTER_DATA_DIR="+empty, "JUPYTER_PATH="+empty)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != c.code {
			t.Errorf("runner %v returned %v, want exit status %d; output:\n%s", c.args, err, c.code, out)
			continue
		}
		if !regexp.MustCompile(c.want).Match(out) {
			t.Errorf("runner %v output does not match %s:\n%s", c.args, c.want, out)
		}
		if bytes.Contains(out, []byte("passed,")) {
			t.Errorf("runner %v ran notebooks without the kernel:\n%s", c.args, out)
		}
	}
}

// notebook is the part of an .ipynb file the pairing test reads.
type notebook struct {
	Cells []struct {
		Type   string          `json:"cell_type"`
		Source json.RawMessage `json:"source"`
	} `json:"cells"`
	Metadata struct {
		Kernelspec struct {
			Name string `json:"name"`
		} `json:"kernelspec"`
	} `json:"metadata"`
}

func readNotebook(t *testing.T, path string) notebook {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb notebook
	if err := json.Unmarshal(b, &nb); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return nb
}

// headings returns the markdown section headings ("#" lines) of a notebook.
func headings(t *testing.T, nb notebook) []string {
	t.Helper()
	var hs []string
	for _, c := range nb.Cells {
		if c.Type != "markdown" {
			continue
		}
		var src string
		var lines []string
		if err := json.Unmarshal(c.Source, &lines); err == nil {
			src = strings.Join(lines, "")
		} else if err := json.Unmarshal(c.Source, &src); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(src, "\n") {
			if strings.HasPrefix(l, "#") {
				hs = append(hs, l)
			}
		}
	}
	return hs
}

// TestEveryTopicUnderBothKernels checks that each kernel's folder holds a
// notebook for every topic, each naming its kernel in its metadata and
// both with the same section headings, and without outputs. Needs no
// Jupyter.
func TestEveryTopicUnderBothKernels(t *testing.T) {
	topics := map[string][]string{} // topic -> kernels that have it
	for _, k := range kernels {
		files, err := filepath.Glob(filepath.Join(k.notebooks, "*.ipynb"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			nb := readNotebook(t, f)
			if got := nb.Metadata.Kernelspec.Name; got != k.name {
				t.Errorf("%s names kernel %q in its metadata, want %q", f, got, k.name)
			}
			b, _ := os.ReadFile(f)
			if bytes.Contains(b, []byte(`"output_type"`)) {
				t.Errorf("%s is committed with outputs (clear them: /usr/bin/jupyter nbconvert --clear-output --inplace %s)", f, f)
			}
			topics[filepath.Base(f)] = append(topics[filepath.Base(f)], k.name)
		}
	}
	if len(topics) == 0 {
		t.Fatal("no notebooks found")
	}
	for topic, ks := range topics {
		if len(ks) != len(kernels) {
			t.Errorf("%s exists for %v only: every topic needs a notebook for each kernel (notebooks/README.md)", topic, ks)
			continue
		}
		want := headings(t, readNotebook(t, filepath.Join(kernels[0].notebooks, topic)))
		for _, k := range kernels[1:] {
			got := headings(t, readNotebook(t, filepath.Join(k.notebooks, topic)))
			if !slices.Equal(got, want) {
				t.Errorf("%s under %s has headings\n%q\nwant those of %s\n%q", topic, k.name, got, kernels[0].name, want)
			}
		}
	}
}
