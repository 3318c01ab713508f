package theory

import (
	"fmt"
	"math"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// idealCase is a model configuration for the IdealNTK tests.
type idealCase struct {
	query, train string
}

func idealCases() []idealCase {
	var cs []idealCase
	for _, q := range []string{layers.AllToken, layers.FirstToken} {
		for _, tr := range []string{layers.TrainUW, layers.TrainU, layers.TrainW} {
			cs = append(cs, idealCase{q, tr})
		}
	}
	return cs
}

func compareNTK(t *testing.T, got, want *NTK, tol float64) {
	t.Helper()
	if got.N != want.N || got.P != want.P {
		t.Fatalf("ideal NTK is %d x %d, graph NTK %d x %d", got.N, got.P, want.N, want.P)
	}
	var peak, worst float64
	for _, v := range want.Features {
		peak = math.Max(peak, math.Abs(v))
	}
	for j, v := range want.Features {
		worst = math.Max(worst, math.Abs(got.Features[j]-v))
	}
	if !(worst <= tol*math.Max(peak, 1)) {
		t.Errorf("largest feature difference %.3g, features up to %.3g (tolerance %.1g relative)", worst, peak, tol)
	}
}

// With every token relevant (zeta = 1) the ideal attention is uniform, which
// W = 0 produces exactly: IdealNTK must equal the graph's NTK at a zero-W
// initialization, on every block set and query mode.
func TestIdealNTKIsZeroWNTKWhenAllTokensAreRelevant(t *testing.T) {
	mix := datasets.DefaultMixture()
	mix.Train, mix.Dim, mix.Tokens, mix.Zeta = 12, 7, 5, 1
	data, _, err := mix.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range idealCases() {
		t.Run(fmt.Sprintf("%s/%s", tc.query, tc.train), func(t *testing.T) {
			m := arch(layers.Config{Heads: 3, Tokens: data.T, Dim: data.D, Query: tc.query, Train: tc.train})
			p, err := layers.NewParams(m, layers.Init{Scheme: layers.InitZeroW, UNorm: 1.3, Seed: 4})
			if err != nil {
				t.Fatal(err)
			}
			want, err := NewNTK(m, p, data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := IdealNTK(m, p, data)
			if err != nil {
				t.Fatal(err)
			}
			compareNTK(t, got, want, 1e-12)
		})
	}
}

// With part of the tokens relevant and sigma = 0, the attention of
// W = c a b^T (a the sum of all centre axes, b = e_1 + e_2) puts weight
// about e^-c S^2 on noise keys from every query: at c = 40 the graph's NTK
// there equals the ideal features up to rounding. (At sigma = 0 the
// relevant tokens of a sequence coincide, so the W features vanish; the
// zeta = 1 test checks them where they do not.)
func TestIdealNTKIsTheLimitOfSelectingAttention(t *testing.T) {
	mix := datasets.DefaultMixture()
	mix.Train, mix.Dim, mix.Tokens, mix.Zeta, mix.Sigma, mix.Clusters = 12, 6, 6, 0.34, 0, 4
	data, _, err := mix.Generate()
	if err != nil {
		t.Fatal(err)
	}
	d := data.D
	for _, tc := range idealCases() {
		t.Run(fmt.Sprintf("%s/%s", tc.query, tc.train), func(t *testing.T) {
			m := arch(layers.Config{Heads: 2, Tokens: data.T, Dim: d, Query: tc.query, Train: tc.train})
			p, err := layers.NewParams(m, layers.Init{Scheme: layers.InitZeroW, UNorm: 1, Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			// All-token scores are x_t^T W x_s, first-token ones x_s^T W x_1:
			// W = c a b^T, or its transpose.
			w := p.Get("W")
			for h := 0; h < 2; h++ {
				for r := 0; r < d; r++ {
					for s := 0; s < 2; s++ {
						if tc.query == layers.FirstToken {
							w[(h*d+s)*d+r] = 40
						} else {
							w[(h*d+r)*d+s] = 40
						}
					}
				}
			}
			want, err := NewNTK(m, p, data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := IdealNTK(m, p, data)
			if err != nil {
				t.Fatal(err)
			}
			compareNTK(t, got, want, 1e-12)
		})
	}
}

// On U features alone IdealNTK has the Gram matrix IdealMargin uses.
func TestIdealNTKMatchesIdealMarginOnU(t *testing.T) {
	mix := datasets.DefaultMixture()
	mix.Train = 30
	data, _, err := mix.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c := layers.Config{Heads: 2, Tokens: data.T, Dim: data.D, Train: layers.TrainU}
	m := arch(c)
	p, err := layers.NewParams(m, layers.DefaultInit())
	if err != nil {
		t.Fatal(err)
	}
	k, err := IdealNTK(m, p, data)
	if err != nil {
		t.Fatal(err)
	}
	got := k.Margin()
	want, err := IdealMargin(c, data)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Gamma-want.Gamma) > 1e-9*want.Gamma || !got.Separable {
		t.Errorf("IdealNTK margin %v, IdealMargin %v", got.Gamma, want.Gamma)
	}
	noMask := *data
	noMask.Mask = nil
	if _, err := IdealNTK(m, p, &noMask); err == nil {
		t.Error("no mask accepted")
	}
	kq := arch(layers.Config{Heads: 2, Tokens: data.T, Dim: data.D, Kind: layers.KindKQ})
	pq, _ := layers.NewParams(kq, layers.DefaultInit())
	if _, err := IdealNTK(kq, pq, data); err == nil {
		t.Error("kind kq accepted")
	}
}
