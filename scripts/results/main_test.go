package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/headsweep/headsweep"
	"github.com/mhattn/mha/experiments/runner"
)

// TestGenerate: from a tiny head sweep the generator writes a document
// with the run's claims, its table and its figures, replacing old figures;
// bad arguments exit 2.
func TestGenerate(t *testing.T) {
	in := t.TempDir()
	cfg := headsweep.DefaultConfig()
	// A tiny run (as exptest.Tiny, which scripts/ cannot import).
	cfg.Data.Train, cfg.Data.Test = 32, 32
	cfg.Data.Tokens, cfg.Data.Dim, cfg.Data.Clusters = 4, 6, 2
	cfg.Steps, cfg.LogEvery, cfg.Workers = 20, 2, 2
	cfg.Out = filepath.Join(in, "headsweep")
	cfg.Sweep, cfg.Eta = nil, 0 // one seed, the theory step (its bounds)
	cfg.SweepHeads(1, 2)
	if _, err := headsweep.RunWith(cfg, runner.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "headsweep.seconds"), []byte("12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "headsweep.stdout"), []byte("  heads  status\n      1  ok\nresults in x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	doc, img := filepath.Join(out, "results.md"), filepath.Join(out, "img")
	if err := os.MkdirAll(img, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(img, "stale.png")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if code := run([]string{"-in", in, "-doc", doc, "-img", img}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"## headsweep", "**As measured:**", "the final training loss", "Theory bounds:", "step rule: 2 theory",
		"| [headsweep](#headsweep) |", "12 s", "heads  status", "img/headsweep-loss_vs_step.png"} {
		if !strings.Contains(text, want) {
			t.Errorf("document lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "results in x") {
		t.Error("the table keeps the program's closing line")
	}
	if _, err := os.Stat(filepath.Join(img, "headsweep-loss_vs_step.png")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a stale figure was kept")
	}
	for _, args := range [][]string{
		{"-in", filepath.Join(in, "nothing")},
		{"-in", in, "-doc", doc, "-img", img, "nosuch"},
		{"-bogus"},
	} {
		if code := run(args, &so, &se); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
