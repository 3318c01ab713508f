package headsweep

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
)

func TestDefaultConfigValid(t *testing.T) {
	c := DefaultConfig()
	pts, err := runner.Grid(Name, &c, false, nil)
	if err != nil || len(pts) != len(gdpoint.DefaultHeads)*len(gdpoint.DefaultSeeds) {
		t.Fatalf("default grid: %d points, %v", len(pts), err)
	}
}

// TestFlagsOverrideConfigFile: a config file sets keys and its sweep,
// flags win, -set and -sweep come last.
func TestFlagsOverrideConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, "c.json", `{"steps": 7, "sweep": {"heads": [3]}, "eta": 0.5, "data": {"train": 40}}`)
	c, _, err := runner.ParseArgs(Experiment, []string{"-config", path, "-steps", "9", "-out", dir + "/o", "-sweep", "data.seed=1,2"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.(*Config)
	if cfg.Steps != 9 || cfg.Eta != 0.5 || cfg.Data.Train != 40 || cfg.Data.Test != gdpoint.DefaultData().Test || cfg.Out != dir+"/o" {
		t.Errorf("got %+v", cfg)
	}
	if got := strings.Join(cfg.Sweep.Keys(), ","); got != "heads,data.seed" {
		t.Errorf("axes %s", got)
	}
	// -print-config prints a config that reads back as the same run.
	var out, errb bytes.Buffer
	if code := runner.Main(Experiment, []string{"-config", path, "-heads", "1,2", "-print-config"}, &out, &errb); code != runner.ExitOK {
		t.Fatalf("-print-config: exit %d: %s", code, errb.String())
	}
	printed := writeFile(t, "printed.json", out.String())
	back, _, err := runner.ParseArgs(Experiment, []string{"-config", printed}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(back)
	if !strings.Contains(string(a), `"sweep":{"heads":[1,2]}`) || back.(*Config).Steps != 7 {
		t.Errorf("printed config reads back as %s", a)
	}
}
