package theory

import (
	"fmt"
	"math"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// ntkOf builds an NTK from explicit feature vectors.
func ntkOf(pts [][]float64, c float64) *NTK {
	n, P := len(pts), len(pts[0])
	k := &NTK{N: n, P: P, Features: make([]float64, n*P), Gram: make([]float64, n*n)}
	for i, p := range pts {
		for j, v := range p {
			k.Features[i*P+j] = c * v
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			k.Gram[i*n+j] = dotF(k.row(i), k.row(j))
		}
	}
	return k
}

// Scaling every feature by c scales gamma, its bounds and the mean feature
// norm by c, and leaves the normalized margin unchanged (to the solver's
// certified tolerance).
func TestNormalizedMarginIsScaleFree(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pts   [][]float64
		gamma float64 // 0: not separable
	}{
		{"separable", knownMarginPoints(40, 8, 0.3, 1, 3), 0.3},
		{"not separable", [][]float64{{1, 0}, {-1, 0.5}, {0, -2}, {0.3, 0.2}}, 0},
	} {
		base := ntkOf(tc.pts, 1)
		var mean float64
		for _, p := range tc.pts {
			mean += math.Sqrt(dotF(p, p)) / float64(len(tc.pts))
		}
		if math.Abs(base.MeanNorm()-mean) > 1e-12*mean {
			t.Errorf("%s: MeanNorm %v, want mean_i ||psi_i|| = %v", tc.name, base.MeanNorm(), mean)
		}
		m0 := base.Margin()
		g0, lo0, hi0 := m0.Normalize(base.MeanNorm())
		if math.Abs(m0.Gamma-tc.gamma) > 1e-5*math.Max(tc.gamma, 1) {
			t.Fatalf("%s: gamma %v, want %v", tc.name, m0.Gamma, tc.gamma)
		}
		for _, c := range []float64{1e-3, 0.5, 7, 1e4} {
			t.Run(fmt.Sprintf("%s/c=%g", tc.name, c), func(t *testing.T) {
				k := ntkOf(tc.pts, c)
				m := k.Margin()
				if mn := k.MeanNorm(); math.Abs(mn-c*base.MeanNorm()) > 1e-12*mn {
					t.Errorf("mean norm %v, want c times %v", mn, base.MeanNorm())
				}
				if m.Status != m0.Status {
					t.Errorf("status %v, unscaled %v", m.Status, m0.Status)
				}
				if math.Abs(m.Gamma-c*m0.Gamma) > 2*Tolerance*c*m0.Upper {
					t.Errorf("gamma %v, want c gamma = %v", m.Gamma, c*m0.Gamma)
				}
				g, lo, hi := m.Normalize(k.MeanNorm())
				if !(lo <= g && g <= hi) {
					t.Errorf("normalized %v outside its bounds [%v, %v]", g, lo, hi)
				}
				// Both normalized margins are certified within their gaps.
				if math.Abs(g-g0) > (hi-lo)+(hi0-lo0)+1e-12*hi0 {
					t.Errorf("normalized margin %v at scale %v, %v unscaled", g, c, g0)
				}
			})
		}
	}
	if g, lo, hi := (Margin{Gamma: 1, Lower: 1, Upper: 1}).Normalize(0); g != 0 || lo != 0 || hi != 0 {
		t.Errorf("scale 0: %v %v %v, want 0", g, lo, hi)
	}
}

// scale(H) multiplies every NTK feature of the paper's model: the raw
// margins of scale 1/sqrt(H) and 1/H differ by sqrt(H), the normalized ones
// agree.
func TestNormalizedMarginIgnoresHeadScale(t *testing.T) {
	mix := datasets.DefaultMixture()
	mix.Train, mix.Dim, mix.Tokens, mix.Clusters = 40, 6, 4, 2
	data, _, err := mix.Generate()
	if err != nil {
		t.Fatal(err)
	}
	const H = 4
	var gammas, norms, normalized [2]float64
	for i, s := range []string{layers.InvSqrtHeads, layers.InvHeads} {
		m := arch(layers.Config{Heads: H, Tokens: data.T, Dim: data.D, Query: layers.FirstToken, Scale: s})
		p, err := layers.NewParams(m, layers.DefaultInit())
		if err != nil {
			t.Fatal(err)
		}
		k, err := NewNTK(m, p, data)
		if err != nil {
			t.Fatal(err)
		}
		mg := k.Margin()
		if mg.Status != Certified {
			t.Fatalf("scale %s: status %v", s, mg.Status)
		}
		gammas[i], norms[i] = mg.Gamma, k.MeanNorm()
		normalized[i], _, _ = mg.Normalize(norms[i])
	}
	if r := norms[0] / norms[1]; math.Abs(r-math.Sqrt(H)) > 1e-9 {
		t.Errorf("mean norms differ by %v, want sqrt(H) = 2", r)
	}
	if r := gammas[0] / gammas[1]; math.Abs(r-math.Sqrt(H)) > 1e-5 {
		t.Errorf("raw margins differ by %v, want sqrt(H) = 2", r)
	}
	if math.Abs(normalized[0]-normalized[1]) > 1e-5*normalized[0] {
		t.Errorf("normalized margins %v and %v differ", normalized[0], normalized[1])
	}
}
