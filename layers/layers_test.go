package layers

import (
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

func TestPackUnpackRoundTrip(t *testing.T) {
	for _, c := range configs() {
		p, err := NewParams(c, DefaultInit())
		if err != nil {
			t.Fatal(err)
		}
		pw, pu := make([]float64, c.WSize()), make([]float64, c.USize())
		PackW(c, p.W, pw)
		PackU(c, p.U, pu)
		w, u := make([]float64, c.WSize()), make([]float64, c.USize())
		UnpackW(c, pw, w)
		UnpackU(c, pu, u)
		if !slices.Equal(w, p.W) || !slices.Equal(u, p.U) {
			t.Errorf("%+v: pack/unpack is not the identity", c)
		}
		theta := p.Trainable(c, nil)
		if len(theta) != c.NumTrainable() {
			t.Fatalf("%+v: theta has %d entries, NumTrainable says %d", c, len(theta), c.NumTrainable())
		}
		tu, tw := make([]float64, c.USize()), make([]float64, c.WSize())
		PackTrainable(c, theta, tu, tw)
		back := make([]float64, len(theta))
		UnpackTrainable(c, tu, tw, back)
		if !slices.Equal(back, theta) {
			t.Errorf("%+v: trainable pack/unpack is not the identity", c)
		}
	}
}

// The packed layouts are what the graph's single products rely on: W_h[j,k]
// sits at row j, column h*d+k (all-token) and U_h[r,k] at (r*H+h)*d+k.
func TestPackedLayout(t *testing.T) {
	c := Config{Heads: 2, Tokens: 3, Dim: 2}
	p, _ := NewParams(c, DefaultInit())
	pw, pu := make([]float64, c.WSize()), make([]float64, c.USize())
	PackW(c, p.W, pw)
	PackU(c, p.U, pu)
	h, j, k, r := 1, 0, 1, 2
	if pw[j*c.Heads*c.Dim+h*c.Dim+k] != p.W[(h*c.Dim+j)*c.Dim+k] {
		t.Error("packed W is not [j, h*d+k]")
	}
	if pu[(r*c.Heads+h)*c.Dim+k] != p.U[(h*c.Tokens+r)*c.Dim+k] {
		t.Error("packed U is not [(r*H+h)*d+k]")
	}
	// First-token stores each head transposed.
	f := Config{Heads: 2, Tokens: 3, Dim: 2, Query: FirstToken}
	q, _ := NewParams(f, DefaultInit())
	PackW(f, q.W, pw)
	if pw[k*f.Heads*f.Dim+h*f.Dim+j] != q.W[(h*f.Dim+j)*f.Dim+k] {
		t.Error("first-token packed W is not [k, h*d+j]")
	}
}

func TestInitIsSeededAndNested(t *testing.T) {
	c := Config{Heads: 4, Tokens: 3, Dim: 5}
	a, _ := NewParams(c, DefaultInit())
	b, _ := NewParams(c, DefaultInit())
	if !slices.Equal(a.U, b.U) || !slices.Equal(a.W, b.W) {
		t.Fatal("same seed, different parameters")
	}
	other := DefaultInit()
	other.Seed = 2
	d, _ := NewParams(c, other)
	if slices.Equal(a.U, d.U) {
		t.Fatal("different seeds, same U")
	}
	// Fewer heads: a prefix of the larger model's heads.
	small := c
	small.Heads = 2
	s, _ := NewParams(small, DefaultInit())
	if !slices.Equal(s.U, a.U[:small.USize()]) || !slices.Equal(s.W, a.W[:small.WSize()]) {
		t.Error("the first heads of a 4-head init differ from a 2-head init")
	}
	// zero-W keeps the same U.
	z := DefaultInit()
	z.Scheme = InitZeroW
	zp, _ := NewParams(c, z)
	if !slices.Equal(zp.U, a.U) {
		t.Error("zero-W changed U")
	}
	for _, w := range zp.W {
		if w != 0 {
			t.Fatal("zero-W has a nonzero W entry")
		}
	}
}

func TestInitNorms(t *testing.T) {
	c := Config{Heads: 400, Tokens: 6, Dim: 5}
	p, _ := NewParams(c, Init{UNorm: 2, WNorm: 3, Seed: 9})
	var su, sw float64
	for _, v := range p.U {
		su += v * v
	}
	for _, v := range p.W {
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
	err := Config{Heads: 0, Tokens: -1, Dim: 0, Query: "x", Scale: "y", Train: "z"}.Validate()
	for _, want := range []string{"heads = 0", "tokens = -1", "dim = 0", `query = "x"`, `scale = "y"`, `train = "z"`, ">= 1"} {
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
	if _, err := NewParams(Config{Heads: 1, Tokens: 1, Dim: 1}, Init{UNorm: math.NaN()}); err == nil {
		t.Error("NaN u_norm accepted")
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
