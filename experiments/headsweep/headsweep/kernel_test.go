package headsweep

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/internal/kernel"
)

// An MHA_KERNEL value other than "", auto, vectorized and portable exits 2
// naming the allowed values, and writes nothing.
func TestBadKernelExit2(t *testing.T) {
	defer kernel.Use(kernel.Name())
	t.Setenv(kernel.Env, "avx512")
	out := filepath.Join(t.TempDir(), "run")
	code, stderr := runMain("-config", writeFile(t, "c.json", tinyJSON), "-out", out, "-quiet")
	if code != runner.ExitInput {
		t.Errorf("exit status %d, want %d; stderr:\n%s", code, runner.ExitInput, stderr)
	}
	for _, w := range []string{"MHA_KERNEL", `"avx512"`, `"auto"`, `"vectorized"`, `"portable"`} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not mention %s:\n%s", w, stderr)
		}
	}
	if exists(out) {
		t.Errorf("%s was created", out)
	}
}

// Both kernels write the same metrics.csv, byte for byte, and config.json
// records which one ran (issue 17).
func TestKernelsWriteSameBytes(t *testing.T) {
	if !kernel.Available() {
		t.Skip("no AVX2/FMA: only the portable kernel runs here")
	}
	defer kernel.Use(kernel.Name())
	cfg := writeFile(t, "c.json", tinyJSON)
	metrics := map[string][]byte{}
	for _, k := range []string{kernel.Vectorized, kernel.Portable} {
		t.Setenv(kernel.Env, k)
		out := filepath.Join(t.TempDir(), k)
		if code, stderr := runMain("-config", cfg, "-out", out, "-quiet"); code != runner.ExitOK {
			t.Fatalf("MHA_KERNEL=%s: exit status %d; stderr:\n%s", k, code, stderr)
		}
		var run runner.RunFile
		b, err := os.ReadFile(filepath.Join(out, "config.json"))
		if err == nil {
			err = json.Unmarshal(b, &run)
		}
		if err != nil {
			t.Fatal(err)
		}
		if run.Program.Kernel != k {
			t.Errorf("MHA_KERNEL=%s: config.json records kernel %q", k, run.Program.Kernel)
		}
		if metrics[k], err = os.ReadFile(filepath.Join(out, "metrics.csv")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(metrics[kernel.Vectorized], metrics[kernel.Portable]) {
		t.Errorf("metrics.csv differs between the kernels:\nvectorized:\n%s\nportable:\n%s", metrics[kernel.Vectorized], metrics[kernel.Portable])
	}
}
