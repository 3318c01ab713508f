package gdpoint_test

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/internal/exptest"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/theory"
)

// TestValidateStep: step.rule and step.c out of range, or a rule not
// defined for the model, name the field; valid combinations pass.
func TestValidateStep(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*gdpoint.Config)
		want []string // nil: valid
	}{
		{"default theory", func(c *gdpoint.Config) {}, nil},
		{"eta selects fixed", func(c *gdpoint.Config) { c.Eta = 0.1 }, nil},
		{"curvature", func(c *gdpoint.Config) { c.Step.Rule = "curvature" }, nil},
		{"curvature kq", func(c *gdpoint.Config) { c.Step.Rule, c.Model.Kind = "curvature", "kq" }, nil},
		{"fixed", func(c *gdpoint.Config) { c.Step.Rule, c.Eta = "fixed", 0.1 }, nil},
		{"unknown rule", func(c *gdpoint.Config) { c.Step.Rule = "adam" }, []string{`step.rule = "adam"`, `"curvature"`}},
		{"c zero", func(c *gdpoint.Config) { c.Step.Rule, c.Step.C = "curvature", 0 }, []string{"step.c = 0", "> 0"}},
		{"c negative", func(c *gdpoint.Config) { c.Step.C = -1 }, []string{"step.c = -1", "> 0"}},
		{"c infinite", func(c *gdpoint.Config) { c.Step.C = math.Inf(1) }, []string{"step.c = +Inf", "finite"}},
		{"theory for kq", func(c *gdpoint.Config) { c.Step.Rule, c.Model.Kind = "theory", "kq" }, []string{`step.rule = "theory"`, `kind "kq"`}},
		{"default for kq", func(c *gdpoint.Config) { c.Model.Kind = "kq" }, []string{"eta = 0", `kind "kq"`}},
		{"theory W from zero U", func(c *gdpoint.Config) { c.Model.Train, c.Init.UNorm = "W", 0 }, []string{`step.rule = "theory"`, "u_norm = 0"}},
		{"fixed without eta", func(c *gdpoint.Config) { c.Step.Rule = "fixed" }, []string{"eta = 0", `step.rule "fixed"`}},
		{"eta with curvature", func(c *gdpoint.Config) { c.Step.Rule, c.Eta = "curvature", 0.1 }, []string{"eta = 0.1", `step.rule "curvature"`}},
		{"eta with theory", func(c *gdpoint.Config) { c.Step.Rule, c.Eta = "theory", 0.1 }, []string{"eta = 0.1", `step.rule "theory"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gdpoint.DefaultConfig("out")
			c.Eta = 0 // eta 0 (not the default 1): the rules decide
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
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

// TestDefaultStepIsFixed: the default config trains with the fixed
// eta = DefaultEta, and names a rule that needs eta = 0 with the remedy.
func TestDefaultStepIsFixed(t *testing.T) {
	c := gdpoint.DefaultConfig("out")
	if err := c.Validate(); err != nil || c.StepRule() != theory.RuleFixed || c.Eta != gdpoint.DefaultEta {
		t.Fatalf("rule %q, eta %v, %v", c.StepRule(), c.Eta, err)
	}
	c.Step.Rule = "theory"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "eta = 1") || !strings.Contains(err.Error(), "-set eta=0") {
		t.Errorf("theory rule with the default eta: %v", err)
	}
}

// TestStepRulesAndValidity: each rule makes its eta and says so in the
// record and table; the bounds' hypotheses are decided after the run
// (the path and token-norm ones are never left unknown), the summary
// lists them, and a bound that is not valid prints as n/a with a reason.
func TestStepRulesAndValidity(t *testing.T) {
	cfg := gdpoint.DefaultConfig("")
	exptest.Tiny(&cfg, filepath.Join(t.TempDir(), "run"))
	cfg.Eta = 0
	cfg.Step.C = 0.5
	cfg.SweepAxis(runner.Axis{Key: "step.rule", Values: []json.RawMessage{json.RawMessage(`"theory"`), json.RawMessage(`"curvature"`)}})
	e := gdpoint.Experiment("steprule", "test", func() *gdpoint.Config { c := gdpoint.DefaultConfig(""); return &c })
	res, err := runner.Run(e, &cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pts, err := gdpoint.Points(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].StepRule != "theory" || pts[1].StepRule != "curvature" {
		t.Fatalf("rules %q, %q", pts[0].StepRule, pts[1].StepRule)
	}
	if !strings.Contains(pts[1].EtaDerivation, "c = 0.5") || !(pts[1].Eta > 0) {
		t.Errorf("curvature eta %v: %s", pts[1].Eta, pts[1].EtaDerivation)
	}
	for i, p := range pts {
		b := p.Theory.Bound
		if b == nil {
			t.Fatalf("%d: no bound (%s)", i, p.Theory.CertificateError)
		}
		if len(b.Hypotheses) != 7 {
			t.Fatalf("%d: %d hypotheses", i, len(b.Hypotheses))
		}
		for _, h := range b.Hypotheses {
			if (h.Name == theory.HypPath || h.Name == theory.HypTokenSupport) && h.Holds == "unknown" {
				t.Errorf("%d: %s left unknown: %s", i, h.Name, h.Reason)
			}
		}
		// The path hypothesis is decided by the measured distance, which
		// is at least the final one.
		if !(float64(b.MaxDistance) >= float64(p.DistFromInit)) {
			t.Errorf("%d: max distance %v < final %v", i, b.MaxDistance, p.DistFromInit)
		}
		if b.TrainValid != (b.TrainReason == "") || b.TestValid != (b.Reason == "") || (b.TestValid && !b.TrainValid) {
			t.Errorf("%d: train %v (%q), test %v (%q)", i, b.TrainValid, b.TrainReason, b.TestValid, b.Reason)
		}
		if !b.TrainValid && !math.IsNaN(b.Train(5)) {
			t.Errorf("%d: invalid bound plots %v", i, b.Train(5))
		}
	}
	var out bytes.Buffer
	if err := gdpoint.Table(&out, res); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"step_rule", "theory", "curvature"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, out.String())
		}
	}
	if !pts[0].Theory.Bound.TrainValid && !strings.Contains(out.String(), "n/a (") {
		t.Errorf("invalid bound not marked n/a:\n%s", out.String())
	}
}

// TestNullNumber: unknown values are null in summaries and read back NaN.
func TestNullNumber(t *testing.T) {
	b, err := json.Marshal([]gdpoint.NullNumber{1.5, gdpoint.NullNumber(math.NaN()), gdpoint.NullNumber(math.Inf(1))})
	if err != nil || string(b) != "[1.5,null,null]" {
		t.Fatalf("%s, %v", b, err)
	}
	var back []gdpoint.NullNumber
	if err := json.Unmarshal(b, &back); err != nil || back[0] != 1.5 || !math.IsNaN(float64(back[1])) {
		t.Fatalf("%v, %v", back, err)
	}
}

// TestSeedReplacesDataAndInitSeeds: seed sets both seeds when resolved,
// and a data or init seed set or swept beside it is refused, not
// silently replaced.
func TestSeedReplacesDataAndInitSeeds(t *testing.T) {
	c := gdpoint.DefaultConfig("out")
	c.Seed = 7
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Resolve()
	if c.Data.Seed != 7 || c.Init.Seed != 7 || c.Validate() != nil {
		t.Errorf("resolved data.seed %d, init.seed %d, %v", c.Data.Seed, c.Init.Seed, c.Validate())
	}
	c = gdpoint.DefaultConfig("out")
	c.Seed, c.Data.Seed = 3, 9
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "data.seed = 9") || !strings.Contains(err.Error(), "seed=0") {
		t.Errorf("data.seed beside seed: %v", err)
	}
	c = gdpoint.DefaultConfig("out")
	c.SweepAxis(gdpoint.SeedsAxis(1, 2))
	c.SweepAxis(runner.Axis{Key: "init.seed", Values: []json.RawMessage{json.RawMessage("1"), json.RawMessage("2")}})
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "init.seed") {
		t.Errorf("init.seed swept beside seed: %v", err)
	}
}
