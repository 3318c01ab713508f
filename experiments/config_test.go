package experiments

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestReadConfigErrors: every kind of bad JSON names the field (or the
// position) and the offending value.
func TestReadConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       []string
	}{
		{"malformed", `{"steps": 10,,}`, []string{"malformed JSON", "line 1"}},
		{"truncated", `{"steps": 10`, []string{"malformed JSON"}},
		{"unknown field", `{"step": 10}`, []string{"unknown field", `"step"`}},
		{"unknown nested", `{"data": {"zetta": 0.5}}`, []string{"unknown field", `"zetta"`}},
		{"wrong type", `{"steps": "ten"}`, []string{"steps", "string", "integer"}},
		{"wrong nested type", "{\n \"data\": {\"zeta\": true}}", []string{"data.zeta", "bool", "number", "line 2"}},
		{"fraction for int", `{"heads": [1, 2.5]}`, []string{"heads", "number 2.5"}},
		{"trailing", `{} {}`, []string{"trailing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadConfig(strings.NewReader(tc.json), DefaultConfig())
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
}

// TestValidateRanges: out-of-range values name field, value and range.
func TestValidateRanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"steps", func(c *Config) { c.Steps = -5 }, []string{"steps = -5", "[1, "}},
		{"heads empty", func(c *Config) { c.Heads = nil }, []string{"heads", "non-empty"}},
		{"heads zero", func(c *Config) { c.Heads = []int{1, 0} }, []string{"heads = 1,0", "[1, 4096]"}},
		{"heads repeat", func(c *Config) { c.Heads = []int{2, 2} }, []string{"heads = 2,2", "2 repeats"}},
		{"eta", func(c *Config) { c.Eta = -1 }, []string{"eta = -1", "> 0"}},
		{"log_every", func(c *Config) { c.LogEvery = 10_000 }, []string{"log_every = 10000", "[0, steps = 2000]"}},
		{"cert_eps", func(c *Config) { c.CertEps = 2 }, []string{"cert_eps = 2", "(0, 1)"}},
		{"zeta", func(c *Config) { c.Data.Zeta = 1.5 }, []string{"data.zeta = 1.5", "(0, 1]"}},
		{"query", func(c *Config) { c.Model.Query = "last" }, []string{`model.query = "last"`, "first-token"}},
		{"u_norm", func(c *Config) { c.Init.UNorm = -1 }, []string{"init.u_norm = -1", ">= 0"}},
		{"workers", func(c *Config) { c.Workers = -1 }, []string{"workers = -1", "[0, 1024]"}},
		{"out", func(c *Config) { c.Out = "" }, []string{`out = ""`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
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
}

// TestFlagsOverrideConfigFile: a config file sets fields, flags win.
func TestFlagsOverrideConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.json")
	os.WriteFile(path, []byte(`{"steps": 7, "heads": [3], "eta": 0.5, "data": {"train": 40}}`), 0o644)
	cfg, _, err := ParseArgs("t", []string{"-config", path, "-steps", "9", "-out", dir + "/o"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Steps != 9 || len(cfg.Heads) != 1 || cfg.Heads[0] != 3 || cfg.Eta != 0.5 || cfg.Data.Train != 40 || cfg.Data.Test != DefaultTestSamples || cfg.Out != dir+"/o" {
		t.Errorf("got %+v", cfg)
	}
}

// TestConfigIdentity: workers, checkpoint_every and out do not change the
// identity; anything else does.
func TestConfigIdentity(t *testing.T) {
	a := DefaultConfig()
	b := a
	b.Workers, b.CheckpointEvery, b.Out = 7, 3, "elsewhere"
	if !bytes.Equal(a.Identity(), b.Identity()) {
		t.Error("identity depends on workers, checkpoint_every or out")
	}
	b.Data.Seed = 2
	if d := configDiff(a, b); len(d) != 1 || !strings.Contains(d[0], "data.seed") {
		t.Errorf("diff %q, want data.seed", d)
	}
}
