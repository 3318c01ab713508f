package margin

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/internal/exptest"
	"github.com/mhattn/mha/experiments/runner"
)

func TestEndToEnd(t *testing.T) {
	cfg := DefaultConfig()
	exptest.Tiny(&cfg.Config, filepath.Join(t.TempDir(), "run"))
	cfg.SweepHeads(1, 2)
	cfg.SweepAxis(runner.Axis{Key: "data.seed", Values: raw("1", "2")})
	cfg.Margin.FirstStepEta = 10
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// heads x inits x seeds.
	if want := 2 * 3 * 2; len(res.Records) != want {
		t.Fatalf("%d points, want %d", len(res.Records), want)
	}
	exptest.CheckRun(t, Experiment, res, []string{"margin_vs_heads"})
	pts, err := Points(res)
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[uint64]bool{}
	for i, p := range pts {
		label := res.Records[i].Label
		seeds[p.DataSeed] = true
		if !(p.NTK.Gamma >= 0) || !(p.Ideal.Gamma > 0) || p.NTK.Lower > p.NTK.Upper*(1+1e-12) {
			t.Errorf("%s: gamma %v in [%v, %v], ideal %v", label, p.NTK.Gamma, p.NTK.Lower, p.NTK.Upper, p.Ideal.Gamma)
		}
		// Random and uniform attention see mostly noise tokens: their
		// margin is below the ideal attention's.
		if p.Init != InitFirstStep && !(p.NTK.Gamma < p.Ideal.Gamma) {
			t.Errorf("%s: gamma %v not below the ideal %v", label, p.NTK.Gamma, p.Ideal.Gamma)
		}
		d := cfg.Data
		d.Zeta = float64(p.Zeta)
		if uniform := float64(d.Relevant()) / float64(d.Tokens); p.Init == "zero-W" && math.Abs(float64(p.RelevantAttention)-uniform) > 1e-12 {
			t.Errorf("%s: zero-W attention on relevant tokens %v, want uniform %v", label, p.RelevantAttention, uniform)
		}
	}
	if len(seeds) != 2 {
		t.Errorf("data seeds %v, want 2", seeds)
	}
	if res.Records[0].Label != "heads1-schemerandom-seed1" {
		t.Errorf("first label %q", res.Records[0].Label)
	}
	// The table aggregates over the seed axis and says so.
	var b bytes.Buffer
	if err := Table(runner.WithTableWidth(&b, 0), res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "mean and 95% interval over 2 seeds (data.seed)") || strings.Count(b.String(), "\n") != 3+6 ||
		!strings.Contains(b.String(), "NTK status") || !strings.Contains(b.String(), "certified") {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestZetaAxis: the margin against zeta at fixed H, as a sweep.
func TestZetaAxis(t *testing.T) {
	cfg := DefaultConfig()
	exptest.Tiny(&cfg.Config, filepath.Join(t.TempDir(), "run"))
	cfg.Sweep = nil
	cfg.Config.SweepAxis(runner.Axis{Key: "data.zeta", Values: raw("0.25", "0.5", "1")})
	cfg.Heads = 2
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exptest.CheckRun(t, Experiment, res, []string{"margin_vs_zeta"})
	if res.XAxis("heads", "data.zeta") != "data.zeta" {
		t.Errorf("x axis %q", res.XAxis("heads"))
	}
	pts, _ := Points(res)
	for i, p := range pts {
		if z, _ := res.Records[i].Value("data.zeta"); float64(p.Zeta) != z.Float() || p.Heads != 2 {
			t.Errorf("point %d: zeta %v (swept %s), H %d", i, p.Zeta, z.Text(), p.Heads)
		}
	}
}
