// Package exptest holds what the experiments' tests share: a tiny data
// config, the checks every run's result directory passes, and byte
// comparison of two result directories.
package exptest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
)

// Tiny shrinks c to a run of well under a second per point: n = n_test =
// 32, T = 4, d = 6, M = 2, K = 20, a row every 2 steps, two workers.
func Tiny(c *gdpoint.Config, out string) {
	c.Data.Train, c.Data.Test = 32, 32
	c.Data.Tokens, c.Data.Dim, c.Data.Clusters = 4, 6, 2
	c.Steps = 20
	c.LogEvery = 2
	c.CheckpointEvery = 5
	c.Workers = 2
	c.Out = out
}

// CheckRun checks the files every run writes, the plots named, that
// metrics.csv holds the points' rows in order behind their label and
// swept values, that LoadResult reads it back and that the table prints.
func CheckRun(t *testing.T, e runner.Experiment, res *runner.Result, plots []string) {
	t.Helper()
	out := res.Dir
	if res.Status != runner.StatusOK {
		t.Fatalf("status %q", res.Status)
	}
	for _, f := range []string{"config.json", "metrics.csv", "summary.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	for _, p := range plots {
		for _, ext := range []string{".png", ".svg"} {
			if st, err := os.Stat(filepath.Join(out, "plots", p+ext)); err != nil || st.Size() == 0 {
				t.Errorf("plot %s%s missing or empty: %v", p, ext, err)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != runner.Header(e, res.Axes) {
		t.Errorf("header %q, want %q", lines[0], runner.Header(e, res.Axes))
	}
	var want []string
	for _, r := range res.Records {
		if r.Status != runner.StatusOK {
			t.Errorf("%s: status %q", r.Label, r.Status)
		}
		if len(r.Rows) == 0 {
			t.Errorf("%s: no rows", r.Label)
		}
		prefix := r.Label
		for _, v := range r.Values {
			prefix += "," + v.Text()
		}
		for _, row := range r.Rows {
			want = append(want, prefix+","+row)
		}
		if _, err := os.Stat(filepath.Join(out, "points", r.Dir, "result.json")); err != nil {
			t.Errorf("%s: %v", r.Label, err)
		}
		if _, err := os.Stat(filepath.Join(out, "points", r.Dir, "checkpoint.json")); err == nil {
			t.Errorf("%s: checkpoint left after the point finished", r.Label)
		}
	}
	if strings.Join(lines[1:], "\n") != strings.Join(want, "\n") {
		t.Error("metrics.csv is not the points' rows in point order")
	}
	loaded, err := runner.LoadResult(e, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Records) != len(res.Records) {
		t.Fatalf("LoadResult: %d records, want %d", len(loaded.Records), len(res.Records))
	}
	for i := range res.Records {
		a, b := res.Records[i], loaded.Records[i]
		if a.Label != b.Label || strings.Join(a.Rows, "\n") != strings.Join(b.Rows, "\n") || len(a.Values) != len(b.Values) {
			t.Errorf("LoadResult: record %d differs", i)
		}
	}
	var buf bytes.Buffer
	if err := runner.WriteTable(&buf, e, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "results in "+out) {
		t.Errorf("table:\n%s", buf.String())
	}
}

// SameResults fails unless two result directories have byte-identical
// metrics.csv and summary.json (wall times aside).
func SameResults(t *testing.T, a, b string) {
	t.Helper()
	for _, f := range []string{"metrics.csv", "summary.json"} {
		x, y := read(t, filepath.Join(a, f)), read(t, filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between %s and %s", f, a, b)
		}
	}
}

// read returns a file's bytes, JSON without wall times.
func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, ".json") {
		return b
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if strings.Contains(k, "wall") {
					delete(v, k)
				} else {
					strip(x)
				}
			}
		case []any:
			for _, x := range v {
				strip(x)
			}
		}
	}
	strip(v)
	out, _ := json.Marshal(v)
	return out
}
