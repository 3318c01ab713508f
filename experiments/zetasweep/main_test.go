package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/internal/exptest"
	"github.com/mhattn/mha/experiments/runner"
)

// TestZetaSweep: the default grid is data.zeta at H = 4, labelled and
// columned by zeta, with its table and plots.
func TestZetaSweep(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	args := []string{"-out", out, "-steps", "10", "-set", "data.train=32", "-set", "data.test=32", "-quiet", "-wide"}
	if code := runner.Main(experiment(), args, &stdout, &stderr); code != runner.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	res, err := runner.LoadResult(experiment(), out)
	if err != nil {
		t.Fatal(err)
	}
	exptest.CheckRun(t, experiment(), res, []string{"test_vs_zeta", "attention_vs_zeta", "relevant_attention"})
	var labels []string
	for _, r := range res.Records {
		labels = append(labels, r.Label)
	}
	if got := strings.Join(labels, " "); got != "zeta0.125 zeta0.25 zeta0.5 zeta0.75 zeta1" {
		t.Errorf("labels %s", got)
	}
	b, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))
	if !strings.HasPrefix(string(b), "label,data.zeta,step,train_loss,test_loss,train_err,test_err,") {
		t.Errorf("metrics.csv starts %q", string(b[:80]))
	}
	tab := stdout.String()
	if i := strings.Index(tab, "bound n/a:"); i >= 0 { // the bound's notes, one per failing hypothesis
		tab = tab[:i] + tab[strings.LastIndex(tab, "\nresults in ")+1:]
	}
	if !strings.Contains(tab, "zeta") || !strings.Contains(tab, "rel. attn") || !strings.Contains(tab, "test err") || strings.Count(tab, "\n") != 8 {
		t.Errorf("table:\n%s", tab)
	}
}
