package headsweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
)

// tinyConfig is a sweep over H = 1, 2 that runs in well under a second.
func tinyConfig(out string) Config {
	c := DefaultConfig()
	c.Data.Train, c.Data.Test = 32, 32
	c.Data.Tokens, c.Data.Dim, c.Data.Clusters = 4, 6, 2
	c.Sweep = nil // no seed axis
	c.Eta = 0     // the theory step: the tests check its columns
	c.SweepHeads(1, 2)
	c.Steps = 20
	c.LogEvery = 2
	c.CheckpointEvery = 5
	c.Workers = 2
	c.Out = out
	return c
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// pointPath is the file name under the directory of the point whose
// label is label (points/<label>-<id>/name), or "" if there is none.
func pointPath(t *testing.T, out, label, name string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(out, "points", label+"-*", name))
	if len(m) > 1 {
		t.Fatalf("several points labelled %s: %v", label, m)
	}
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// metrics reads a metrics.csv: its header and its rows split in fields.
func metrics(t *testing.T, path string) (string, [][]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var rows [][]string
	for _, l := range lines[1:] {
		rows = append(rows, strings.Split(l, ","))
	}
	return lines[0], rows
}

// summary reads summary.json into a generic value.
func summary(t *testing.T, dir string) map[string]any {
	t.Helper()
	var v map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// points decodes a result's records.
func points(t *testing.T, res *runner.Result) []gdpoint.PointResult {
	t.Helper()
	pts, err := gdpoint.Points(res)
	if err != nil {
		t.Fatal(err)
	}
	return pts
}

// withoutWallTimes returns summary.json with every field whose name says
// wall time removed, re-encoded canonically.
func withoutWallTimes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if strings.Contains(k, "wall") {
					delete(v, k)
					continue
				}
				strip(x)
			}
		case []any:
			for _, x := range v {
				strip(x)
			}
		}
	}
	strip(v)
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameResults fails unless two result directories have byte-identical
// metrics.csv and summary.json (wall times aside).
func sameResults(t *testing.T, a, b string) {
	t.Helper()
	ma, err := os.ReadFile(filepath.Join(a, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile(filepath.Join(b, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ma, mb) {
		t.Errorf("metrics.csv differs between %s and %s:\n%s", a, b, firstDiff(string(ma), string(mb)))
	}
	sa, sb := withoutWallTimes(t, filepath.Join(a, "summary.json")), withoutWallTimes(t, filepath.Join(b, "summary.json"))
	if !bytes.Equal(sa, sb) {
		t.Errorf("summary.json differs between %s and %s:\n%s", a, b, firstDiff(string(sa), string(sb)))
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < min(len(la), len(lb)); i++ {
		if la[i] != lb[i] {
			clip := func(s string) string {
				if len(s) > 300 {
					return s[:300] + "..."
				}
				return s
			}
			return "line " + itoa(i+1) + ":\n  " + clip(la[i]) + "\n  " + clip(lb[i])
		}
	}
	return "lengths " + itoa(len(a)) + " and " + itoa(len(b))
}

func itoa(i int) string { return strconv.Itoa(i) }
