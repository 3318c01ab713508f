package layers

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func configs() []Config {
	return []Config{
		{Heads: 3, Tokens: 4, Dim: 2},
		{Heads: 2, Tokens: 5, Dim: 3, Query: FirstToken},
		{Heads: 1, Tokens: 2, Dim: 4, Train: TrainW, Scale: InvHeads},
		{Heads: 4, Tokens: 3, Dim: 2, Train: TrainU},
	}
}

func mustNew(t *testing.T, c Config) Model {
	t.Helper()
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTrainableRoundTrip(t *testing.T) {
	for _, c := range configs() {
		for _, kind := range Kinds() {
			c.Kind = kind
			m := mustNew(t, c)
			p, err := NewParams(m, DefaultInit())
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Check(m); err != nil {
				t.Fatalf("%+v: fresh params fail Check: %v", c, err)
			}
			theta := p.Trainable(m, nil)
			if len(theta) != NumTrainable(m) {
				t.Fatalf("%+v: theta has %d entries, NumTrainable says %d", c, len(theta), NumTrainable(m))
			}
			for i := range theta {
				theta[i] = float64(i)
			}
			q := p.Clone()
			q.SetTrainable(m, theta)
			if !slices.Equal(q.Trainable(m, nil), theta) {
				t.Errorf("%+v: SetTrainable then Trainable is not the identity", c)
			}
			// Frozen parameters are left alone.
			for i, s := range m.Specs() {
				if s.Frozen && !slices.Equal(q.List[i].Data, p.List[i].Data) {
					t.Errorf("%+v: frozen %s changed", c, s.Name)
				}
			}
		}
	}
}

func TestKindsListTheirParameters(t *testing.T) {
	c := Config{Heads: 2, Tokens: 3, Dim: 4, Rank: 2}
	want := map[string]string{
		KindPaper: "U [2 3 4], W [2 4 4]",
		KindKQ:    "U [2 3 4], Q [2 4 2], K [2 4 2]",
		KindReLU:  "U [2 3 4], W [2 4 4]",
		KindValue: "U [2 3 4], W [2 4 4], V [2 4 4]",
	}
	for kind, w := range want {
		c.Kind = kind
		var parts []string
		for _, s := range mustNew(t, c).Specs() {
			parts = append(parts, fmt.Sprintf("%s %v", s.Name, s.Shape))
		}
		if got := strings.Join(parts, ", "); got != w {
			t.Errorf("kind %s: parameters %s, want %s", kind, got, w)
		}
	}
	// value starts as the paper's model: V_h = I.
	c.Kind = KindValue
	m := mustNew(t, c)
	p, _ := NewParams(m, DefaultInit())
	v := p.Get("V")
	for h := 0; h < 2; h++ {
		for j := 0; j < 4; j++ {
			for k := 0; k < 4; k++ {
				want := 0.0
				if j == k {
					want = 1
				}
				if v[(h*4+j)*4+k] != want {
					t.Fatalf("V[%d,%d,%d] = %v, want %v", h, j, k, v[(h*4+j)*4+k], want)
				}
			}
		}
	}
}

func TestInitIsSeededAndNested(t *testing.T) {
	c := Config{Heads: 4, Tokens: 3, Dim: 5}
	m := mustNew(t, c)
	a, _ := NewParams(m, DefaultInit())
	b, _ := NewParams(m, DefaultInit())
	if !slices.Equal(a.Get("U"), b.Get("U")) || !slices.Equal(a.Get("W"), b.Get("W")) {
		t.Fatal("same seed, different parameters")
	}
	other := DefaultInit()
	other.Seed = 2
	d, _ := NewParams(m, other)
	if slices.Equal(a.Get("U"), d.Get("U")) {
		t.Fatal("different seeds, same U")
	}
	// Fewer heads: a prefix of the larger model's heads.
	small := c
	small.Heads = 2
	s, _ := NewParams(mustNew(t, small), DefaultInit())
	if !slices.Equal(s.Get("U"), a.Get("U")[:len(s.Get("U"))]) || !slices.Equal(s.Get("W"), a.Get("W")[:len(s.Get("W"))]) {
		t.Error("the first heads of a 4-head init differ from a 2-head init")
	}
	// zero-W keeps the same U.
	z := DefaultInit()
	z.Scheme = InitZeroW
	zp, _ := NewParams(m, z)
	if !slices.Equal(zp.Get("U"), a.Get("U")) {
		t.Error("zero-W changed U")
	}
	for _, w := range zp.Get("W") {
		if w != 0 {
			t.Fatal("zero-W has a nonzero W entry")
		}
	}
}

func TestInitNorms(t *testing.T) {
	c := Config{Heads: 400, Tokens: 6, Dim: 5}
	p, _ := NewParams(mustNew(t, c), Init{UNorm: 2, WNorm: 3, Seed: 9})
	var su, sw float64
	for _, v := range p.Get("U") {
		su += v * v
	}
	for _, v := range p.Get("W") {
		sw += v * v
	}
	// E||U_h||^2 = UNorm^2; averaged over 400 heads of 30 entries the
	// relative standard deviation is sqrt(2/12000) ~ 1.3%.
	if got := math.Sqrt(su / 400); math.Abs(got-2) > 0.05*2 {
		t.Errorf("RMS head norm of U = %v, want ~2", got)
	}
	if got := math.Sqrt(sw / 400); math.Abs(got-3) > 0.05*3 {
		t.Errorf("RMS head norm of W = %v, want ~3", got)
	}
}

func TestValidateNamesFieldsAndRanges(t *testing.T) {
	err := Config{Heads: 0, Tokens: -1, Dim: 0, Query: "x", Scale: "y", Train: "z", Kind: "mlp", Engine: "gpu", Rank: -1}.Validate()
	for _, want := range []string{"heads = 0", "tokens = -1", "dim = 0", `query = "x"`, `scale = "y"`, `train = "z"`, ">= 1",
		`kind = "mlp"`, `"kq", "paper", "relu", "value"`, `engine = "gpu"`, `"auto", "composed" or "fused"`, "rank = -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	err = Init{Scheme: "ones", UNorm: -1, WNorm: math.Inf(1)}.Validate()
	for _, want := range []string{`scheme = "ones"`, "u_norm = -1", "w_norm = +Inf"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if _, err := NewParams(mustNew(t, Config{Heads: 1, Tokens: 1, Dim: 1}), Init{UNorm: math.NaN()}); err == nil {
		t.Error("NaN u_norm accepted")
	}
	if err := (Config{Heads: 1, Tokens: 2, Dim: 3, Rank: 4}).Validate(); err == nil || !strings.Contains(err.Error(), "rank = 4: must be in [1, dim = 3]") {
		t.Errorf("rank > dim: %v", err)
	}
	for _, kind := range []string{KindKQ, KindReLU, KindValue} {
		_, err := New(Config{Heads: 1, Tokens: 2, Dim: 3, Kind: kind, Engine: EngineFused})
		if err == nil || !strings.Contains(err.Error(), `engine = "fused"`) || !strings.Contains(err.Error(), kind) {
			t.Errorf("kind %s on the fused engine: %v", kind, err)
		}
	}
}

func TestScaleFactor(t *testing.T) {
	if got := (Config{Heads: 16}).ScaleFactor(); got != 0.25 {
		t.Errorf("1/sqrt(16) = %v", got)
	}
	if got := (Config{Heads: 16, Scale: InvHeads}).ScaleFactor(); got != 1.0/16 {
		t.Errorf("1/16 = %v", got)
	}
}
