package experiments

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tinyConfig is a sweep that runs in well under a second.
func tinyConfig(out string) Config {
	c := DefaultConfig()
	c.Data.Train, c.Data.Test = 32, 32
	c.Data.Tokens, c.Data.Dim, c.Data.Clusters = 4, 6, 2
	c.Heads = []int{1, 2}
	c.Steps = 20
	c.LogEvery = 2
	c.CheckpointEvery = 5
	c.Workers = 2
	c.Out = out
	return c
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
