package theory

import (
	"math"
	"strings"
	"testing"

	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

func TestStepRuleValidate(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"theory", true}, {"curvature", true}, {"fixed", true},
		{"", false}, {"Theory", false}, {"lanczos", false},
	} {
		r, err := ParseStepRule(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok %v", tc.in, err, tc.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "step.rule") || !strings.Contains(err.Error(), `"curvature"`)) {
			t.Errorf("%q: error %q should name step.rule and the allowed values", tc.in, err)
		}
		if err == nil && string(r) != tc.in {
			t.Errorf("%q parsed as %q", tc.in, r)
		}
	}
}

func TestCurvatureStepSizeOnKnownSpectra(t *testing.T) {
	for _, tc := range []struct {
		name string
		eigs []float64
		c    float64
		want float64 // eta; 0 for an error
		err  string
	}{
		{"psd", linspace(0, 8, 30), 1, 1.0 / 8, ""},
		{"indefinite", linspace(-3, 5, 20), 1.5, 1.5 / 5, ""},
		{"negative definite", linspace(-9, -1, 10), 1, 0, "not defined"},
		{"c zero", linspace(0, 8, 5), 0, 0, "step.c"},
		{"c negative", linspace(0, 8, 5), -1, 0, "step.c"},
		{"c NaN", linspace(0, 8, 5), math.NaN(), 0, "step.c"},
		{"c infinite", linspace(0, 8, 5), math.Inf(1), 0, "step.c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := randomSymmetric(tc.eigs, 3)
			s, err := CurvatureStepSize(len(tc.eigs), applySym(a), tc.c, len(tc.eigs), 1)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(s.Eta-tc.want) > 1e-9*tc.want {
				t.Errorf("eta %v, want c / lambda_max = %v", s.Eta, tc.want)
			}
		})
	}
}

// On a model, the rule's lambda_max is the one Curvature measures.
func TestCurvatureStepSizeOnModel(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 3, Dim: 2}
	in := randomInstance(t, c, 5, 1.5, 50)
	m, err := graph.NewModel(arch(c), in.p, in.data)
	if err != nil {
		t.Fatal(err)
	}
	P := layers.NumTrainable(arch(c))
	spec, err := Curvature(m, P, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := CurvatureStepSize(P, func(v, dst []float64) error {
		_, err := m.HessVec(v, dst)
		return err
	}, 0.5, P, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(s.LambdaMax-spec.Max) > 1e-12*spec.Max || math.Abs(s.Eta-0.5/spec.Max) > 1e-12/spec.Max {
		t.Errorf("rule: lambda_max %v, eta %v; Curvature: %v", s.LambdaMax, s.Eta, spec.Max)
	}
	if !strings.Contains(s.Rule(), "curvature") {
		t.Errorf("rule text %q", s.Rule())
	}
}
