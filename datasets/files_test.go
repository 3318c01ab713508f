package datasets

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mhattn/mha/datasets/npy"
)

// rawNpy builds a version 1.0 .npy file with any header, for malformed cases
// package npy's writers refuse to produce.
func rawNpy(descr, shape string, data []byte) []byte {
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	total := 10 + len(dict) + 1
	total += (64 - total%64) % 64
	h := dict + strings.Repeat(" ", total-10-len(dict)-1) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	return append(append(b, h...), data...)
}

func writeNpy(t *testing.T, path string, shape []int, data []float64) {
	t.Helper()
	if err := npy.WriteFile(path, shape, data); err != nil {
		t.Fatal(err)
	}
}

func writeRaw(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func equalDatasets(t *testing.T, what string, got, want *Dataset) {
	t.Helper()
	if got.N != want.N || got.T != want.T || got.D != want.D {
		t.Fatalf("%s: dims %d,%d,%d, want %d,%d,%d", what, got.N, got.T, got.D, want.N, want.T, want.D)
	}
	if !slices.Equal(got.X, want.X) || !slices.Equal(got.Y, want.Y) || !slices.Equal(got.Mask, want.Mask) {
		t.Fatalf("%s: contents differ", what)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	cfg := small()
	train, test, err := cfg.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "new", "dir")
	if err := Save(dir, train, test, &cfg); err != nil {
		t.Fatal(err)
	}
	tr, te, c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	equalDatasets(t, "train", tr, train)
	equalDatasets(t, "test", te, test)
	if c == nil || *c != cfg {
		t.Fatalf("config %+v, want %+v", c, cfg)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	want := []string{"dataset.json", "test_X.npy", "test_mask.npy", "test_y.npy", "train_X.npy", "train_mask.npy", "train_y.npy"}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	var sc map[string]any
	js, _ := os.ReadFile(filepath.Join(dir, "dataset.json"))
	if err := json.Unmarshal(js, &sc); err != nil {
		t.Fatal(err)
	}
	if sc["format"] != "mha-dataset" || sc["version"] != 1.0 || sc["relevant"] != 2.0 {
		t.Fatalf("sidecar %s", js)
	}

	// Same data, same bytes.
	dir2 := t.TempDir()
	if err := Save(dir2, train, test, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, n := range want {
		a, _ := os.ReadFile(filepath.Join(dir, n))
		b, _ := os.ReadFile(filepath.Join(dir2, n))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two saves of the same data", n)
		}
	}
}

func TestSaveWithoutConfigOrMask(t *testing.T) {
	cfg := small()
	train, test, _ := cfg.Generate()
	dir := t.TempDir()
	if err := Save(dir, train, test, &cfg); err != nil {
		t.Fatal(err)
	}
	train.Mask = nil
	if err := Save(dir, train, test, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "train_mask.npy")); !os.IsNotExist(err) {
		t.Fatal("stale train_mask.npy left behind")
	}
	tr, te, c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		t.Fatalf("config %+v, want nil", c)
	}
	if tr.Mask != nil || te.Mask == nil {
		t.Fatal("mask presence not preserved")
	}
	equalDatasets(t, "train", tr, train)
}

func TestSaveRejects(t *testing.T) {
	cfg := small()
	train, test, _ := cfg.Generate()
	dir := t.TempDir()
	other := cfg
	other.Dim = 20
	_, wrongD, _ := other.Generate()
	badCfg := cfg
	badCfg.Train = 7
	invalidCfg := cfg
	invalidCfg.Zeta = 0
	nanTrain := *train
	nanTrain.X = slices.Clone(train.X)
	nanTrain.X[3] = math.NaN()
	cases := []struct {
		name        string
		train, test *Dataset
		cfg         *MixtureConfig
		want        string
	}{
		{"nil train", nil, test, nil, "train dataset is nil"},
		{"nan", &nanTrain, test, nil, "train dataset: X[3]"},
		{"dims differ", train, wrongD, nil, "train has T, d = 8, 16 but test has 8, 20"},
		{"config disagrees", train, test, &badCfg, "config says train, test, tokens, dim = 7, 32, 8, 16"},
		{"config invalid", train, test, &invalidCfg, "zeta = 0"},
	}
	for _, c := range cases {
		if err := Save(dir, c.train, c.test, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("rejected saves left files: %v", names)
	}
}

func TestLoadXY(t *testing.T) {
	dir := t.TempDir()
	x, y := filepath.Join(dir, "X.npy"), filepath.Join(dir, "y.npy")
	// Integer X and int labels are fine.
	var xb, yb []byte
	for i := range 2 * 3 * 4 {
		xb = binary.LittleEndian.AppendUint32(xb, uint32(i))
	}
	yb = binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 1), math.MaxUint64) // 1, -1
	writeRaw(t, x, rawNpy("<i4", "(2, 3, 4)", xb))
	writeRaw(t, y, rawNpy("<i8", "(2,)", yb))
	d, err := LoadXY(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 2 || d.T != 3 || d.D != 4 || d.X[23] != 23 || !slices.Equal(d.Y, []float64{1, -1}) || d.Mask != nil {
		t.Fatalf("got %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestLoadXYMalformed gives each malformed input its own error, which must
// name the offending file.
func TestLoadXYMalformed(t *testing.T) {
	good := mustSample(t, small(), 6, 1)
	cases := []struct {
		name  string
		setup func(t *testing.T, x, y string)
		file  string // "x" or "y": the file the error must name
		want  string
	}{
		{"missing X", func(t *testing.T, x, y string) { os.Remove(x) }, "x", "no such file"},
		{"truncated X", func(t *testing.T, x, y string) {
			b, _ := os.ReadFile(x)
			writeRaw(t, x, b[:len(b)-100])
		}, "x", "npy: data truncated: header promises 768 float64 values (6144 bytes), file has 6044 bytes"},
		{"truncated header", func(t *testing.T, x, y string) {
			b, _ := os.ReadFile(x)
			writeRaw(t, x, b[:30])
		}, "x", "header truncated"},
		{"string dtype", func(t *testing.T, x, y string) { writeRaw(t, x, rawNpy("<U1", "(1, 1, 1)", []byte("a\x00\x00\x00"))) }, "x", "string dtype \"<U1\""},
		{"object dtype", func(t *testing.T, x, y string) { writeRaw(t, x, rawNpy("|O", "(1, 1, 1)", nil)) }, "x", "object dtype"},
		{"not npy", func(t *testing.T, x, y string) { writeRaw(t, x, []byte("1,2,3\n4,5,6\n")) }, "x", "bad magic"},
		{"X 2-D", func(t *testing.T, x, y string) { writeNpy(t, x, []int{6, 128}, good.X) }, "x", "X has shape (6, 128), want 3-D (n, T, d)"},
		{"X empty", func(t *testing.T, x, y string) { writeNpy(t, x, []int{0, 8, 16}, nil) }, "x", "want every dimension >= 1"},
		{"X NaN", func(t *testing.T, x, y string) {
			X := slices.Clone(good.X)
			X[2*128+17] = math.NaN()
			writeNpy(t, x, []int{6, 8, 16}, X)
		}, "x", "X[273] (sequence 2, token 1, coordinate 1) = NaN"},
		{"X Inf", func(t *testing.T, x, y string) {
			X := slices.Clone(good.X)
			X[5] = math.Inf(1)
			writeNpy(t, x, []int{6, 8, 16}, X)
		}, "x", "X[5] (sequence 0, token 0, coordinate 5) = +Inf"},
		{"label 0", func(t *testing.T, x, y string) { writeNpy(t, y, []int{6}, []float64{1, -1, 0, 1, -1, 1}) }, "y", "y[2] = 0, want -1 or +1"},
		{"label 2", func(t *testing.T, x, y string) { writeNpy(t, y, []int{6}, []float64{1, -1, 1, 2, -1, 1}) }, "y", "y[3] = 2, want -1 or +1"},
		{"labels 01", func(t *testing.T, x, y string) { writeNpy(t, y, []int{6}, []float64{1, 0, 0, 1, 0, 1}) }, "y", "labels are in {0, 1}; convert them with y = 2*y - 1"},
		{"label NaN", func(t *testing.T, x, y string) { writeNpy(t, y, []int{6}, []float64{1, -1, math.NaN(), 1, -1, 1}) }, "y", "y[2] = NaN"},
		{"y column", func(t *testing.T, x, y string) { writeNpy(t, y, []int{6, 1}, good.Y) }, "y", "y has shape (6, 1), want 1-D (n,); flatten it with y.ravel()"},
		{"mismatched n", func(t *testing.T, x, y string) { writeNpy(t, y, []int{5}, good.Y[:5]) }, "y", "has 5 labels but"},
		{"y wrong dtype", func(t *testing.T, x, y string) { writeRaw(t, y, rawNpy("<c16", "(6,)", make([]byte, 96))) }, "y", "complex dtype"},
		{"y big-endian", func(t *testing.T, x, y string) { writeRaw(t, y, rawNpy(">f8", "(6,)", make([]byte, 48))) }, "y", "big-endian"},
		{"y trailing", func(t *testing.T, x, y string) {
			b, _ := os.ReadFile(y)
			writeRaw(t, y, append(b, 0, 0, 0))
		}, "y", "trailing garbage: 3 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			x, y := filepath.Join(dir, "X.npy"), filepath.Join(dir, "y.npy")
			writeNpy(t, x, []int{6, 8, 16}, good.X)
			writeNpy(t, y, []int{6}, good.Y)
			c.setup(t, x, y)
			d, err := LoadXY(x, y)
			if err == nil {
				t.Fatalf("no error, got %d sequences", d.N)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			path := map[string]string{"x": x, "y": y}[c.file]
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
		})
	}
}

// TestLoadXYCorruptBytes overwrites each byte of a small pair of files in
// turn: loading must fail or succeed, never panic.
func TestLoadXYCorruptBytes(t *testing.T) {
	good := mustSample(t, small(), 2, 1)
	dir := t.TempDir()
	x, y := filepath.Join(dir, "X.npy"), filepath.Join(dir, "y.npy")
	writeNpy(t, x, []int{2, 8, 16}, good.X)
	writeNpy(t, y, []int{2}, good.Y)
	for _, p := range []string{x, y} {
		orig, _ := os.ReadFile(p)
		for i := range min(len(orig), 200) {
			for _, v := range []byte{0, '9', 0xFF} {
				b := slices.Clone(orig)
				b[i] = v
				writeRaw(t, p, b)
				LoadXY(x, y)
			}
		}
		writeRaw(t, p, orig)
	}
}

func TestLoadMalformed(t *testing.T) {
	cfg := small()
	train, test, _ := cfg.Generate()
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"no sidecar", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "dataset.json")) }, "dataset.json not found"},
		{"bad json", func(t *testing.T, dir string) { writeRaw(t, filepath.Join(dir, "dataset.json"), []byte("{")) }, "dataset.json: unexpected EOF"},
		{"wrong format", func(t *testing.T, dir string) {
			writeRaw(t, filepath.Join(dir, "dataset.json"), []byte(`{"format": "other", "version": 1}`))
		}, `format "other", want "mha-dataset"`},
		{"newer version", func(t *testing.T, dir string) {
			writeRaw(t, filepath.Join(dir, "dataset.json"), []byte(`{"format": "mha-dataset", "version": 9}`))
		}, "format version 9 is newer"},
		{"array not listed", func(t *testing.T, dir string) {
			writeRaw(t, filepath.Join(dir, "dataset.json"), []byte(`{"format": "mha-dataset", "version": 1, "arrays": {}}`))
		}, "lists no train_X.npy"},
		{"bad generator", func(t *testing.T, dir string) {
			js, _ := os.ReadFile(filepath.Join(dir, "dataset.json"))
			writeRaw(t, filepath.Join(dir, "dataset.json"), bytes.Replace(js, []byte(`"zeta": 0.25`), []byte(`"zeta": 7`), 1))
		}, "generator: mixture config: zeta = 7"},
		{"missing test y", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "test_y.npy")) }, "test_y.npy: no such file"},
		{"missing mask", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "train_mask.npy")) }, "train_mask.npy: no such file"},
		{"mask shape", func(t *testing.T, dir string) {
			npy.WriteBoolFile(filepath.Join(dir, "train_mask.npy"), []int{64, 4}, make([]bool, 256))
		}, "train_mask.npy: mask has shape (64, 4), want (n, T) = (64, 8)"},
		{"mask values", func(t *testing.T, dir string) {
			m := make([]float64, 64*8)
			m[9] = 3
			writeNpy(t, filepath.Join(dir, "train_mask.npy"), []int{64, 8}, m)
		}, "train_mask.npy: mask[9] (sequence 1, token 1) = 3, want 0 or 1"},
		{"swapped split", func(t *testing.T, dir string) {
			// test arrays copied over train: self-consistent, but not what the sidecar records
			for _, s := range []string{"X", "y", "mask"} {
				b, _ := os.ReadFile(filepath.Join(dir, "test_"+s+".npy"))
				writeRaw(t, filepath.Join(dir, "train_"+s+".npy"), b)
			}
		}, "train_X.npy has shape (32, 8, 16) but"},
		{"train test dims", func(t *testing.T, dir string) {
			x := make([]float64, 32*8*20)
			writeNpy(t, filepath.Join(dir, "test_X.npy"), []int{32, 8, 20}, x)
			os.Remove(filepath.Join(dir, "test_mask.npy"))
			writeRaw(t, filepath.Join(dir, "dataset.json"), []byte(`{"format": "mha-dataset", "version": 1, "arrays": {
				"train_X.npy": [64, 8, 16], "train_y.npy": [64], "test_X.npy": [32, 8, 20], "test_y.npy": [32]}}`))
		}, "train has T, d = 8, 16 but test has 8, 20"},
		{"test label", func(t *testing.T, dir string) {
			y := slices.Clone(test.Y)
			y[4] = 0
			writeNpy(t, filepath.Join(dir, "test_y.npy"), []int{32}, y)
		}, "test_y.npy: y[4] = 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Save(dir, train, test, &cfg); err != nil {
				t.Fatal(err)
			}
			c.setup(t, dir)
			_, _, _, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestNumpyReadsSavedDataset(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		msg := fmt.Sprintf("numpy cross-check: %s -c 'import numpy' failed: %v (Debian: apt-get install python3-numpy)", py, err)
		if os.Getenv("MHA_NUMPY_REQUIRED") != "" {
			t.Fatal(msg) // scripts/test.sh installs numpy and sets this
		}
		t.Skip(msg + "; skipped")
	}
	cfg := small()
	train, test, _ := cfg.Generate()
	dir := t.TempDir()
	if err := Save(dir, train, test, &cfg); err != nil {
		t.Fatal(err)
	}
	i, tk, k := 5, 3, 7
	script := `
import sys, json, os, numpy as np
d = sys.argv[1]
X = np.load(os.path.join(d, 'train_X.npy')); y = np.load(os.path.join(d, 'train_y.npy'))
m = np.load(os.path.join(d, 'train_mask.npy'))
meta = json.load(open(os.path.join(d, 'dataset.json')))
assert X.shape == tuple(meta['arrays']['train_X.npy']) and m.dtype == np.bool_
assert (m.sum(axis=1) == meta['relevant']).all()
print(repr(float(X[5, 3, 7])), int(y[5]))
`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	want := fmt.Sprintf("%s %d", formatPy(train.X[(i*train.T+tk)*train.D+k]), int(train.Y[i]))
	if strings.TrimSpace(string(out)) != want {
		t.Fatalf("numpy sees %q, want %q", out, want)
	}
}

// formatPy formats v the way Python's repr does for ordinary floats.
func formatPy(v float64) string {
	s := fmt.Sprintf("%v", v)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}
