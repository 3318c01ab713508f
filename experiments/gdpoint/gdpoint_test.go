package gdpoint

import (
	"slices"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/layers"
)

// TestValidateRanges: out-of-range values name field, value and range.
func TestValidateRanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"steps", func(c *Config) { c.Steps = -5 }, []string{"steps = -5", "[1, "}},
		{"heads zero", func(c *Config) { c.Heads = 0 }, []string{"heads = 0", "[1, 4096]"}},
		{"eta", func(c *Config) { c.Eta = -1 }, []string{"eta = -1", "> 0"}},
		{"log_every", func(c *Config) { c.LogEvery = 10_000 }, []string{"log_every = 10000", "[0, steps = 300]"}},
		{"cert_eps", func(c *Config) { c.CertEps = 2 }, []string{"cert_eps = 2", "(0, 1)"}},
		{"zeta", func(c *Config) { c.Data.Zeta = 1.5 }, []string{"data.zeta = 1.5", "(0, 1]"}},
		{"query", func(c *Config) { c.Model.Query = "last" }, []string{`model.query = "last"`, "first-token"}},
		{"u_norm", func(c *Config) { c.Init.UNorm = -1 }, []string{"init.u_norm = -1", ">= 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig("out")
			tc.edit(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	c := DefaultConfig("out")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Resolve()
	if c.LogEvery != 6 || c.MaxLoss != 1000 {
		t.Errorf("resolved log_every %d, max_loss %v", c.LogEvery, c.MaxLoss)
	}
}

// TestCheckpointRoundTrip: a checkpoint reads back as written, and one
// of another model or beyond the last step is refused.
func TestCheckpointRoundTrip(t *testing.T) {
	c := DefaultConfig("out")
	c.Heads, c.Data.Dim, c.Data.Tokens = 2, 6, 4
	lc, err := c.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	p, err := layers.NewParams(lc, c.Init)
	if err != nil {
		t.Fatal(err)
	}
	w := &runner.Work{Dir: t.TempDir()}
	if _, ok, err := LoadCheckpoint(w, lc, 10); ok || err != nil {
		t.Fatalf("no checkpoint yet: %v, %v", ok, err)
	}
	if err := SaveCheckpoint(w, Checkpoint{Step: 7, Params: p, Rows: []string{"a", "b"}, WallSeconds: 1.5}); err != nil {
		t.Fatal(err)
	}
	cp, ok, err := LoadCheckpoint(w, lc, 10)
	if err != nil || !ok || cp.Step != 7 || !slices.Equal(cp.Rows, []string{"a", "b"}) || cp.WallSeconds != 1.5 ||
		!slices.Equal(cp.Params.Names(), p.Names()) || !slices.Equal(cp.Params.List[0].Data, p.List[0].Data) || !slices.Equal(cp.Params.List[1].Data, p.List[1].Data) {
		t.Fatalf("read back %+v, %v, %v", cp, ok, err)
	}
	if _, _, err := LoadCheckpoint(w, lc, 5); err == nil {
		t.Error("a checkpoint at step 7 of 5 steps was accepted")
	}
	c.Heads = 3
	m3, _ := c.NewModel()
	if _, _, err := LoadCheckpoint(w, m3, 10); err == nil {
		t.Error("a checkpoint of H = 2 was accepted for H = 3")
	}
	if step, rows, ok := checkpointStep(w.Dir); !ok || step != 7 || len(rows) != 2 {
		t.Errorf("checkpointStep: %d, %v, %v", step, rows, ok)
	}
}
