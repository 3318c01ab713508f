package layers

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Params holds one model's parameters in the public layout:
// U is Heads x Rows x Dim and W is Heads x Dim x Dim, row-major.
type Params struct {
	Heads, Rows, Dim int
	U                []float64
	W                []float64
}

// NewZeroParams returns all-zero parameters shaped for c.
func NewZeroParams(c Config) *Params {
	return &Params{
		Heads: c.Heads, Rows: c.Rows(), Dim: c.Dim,
		U: make([]float64, c.USize()),
		W: make([]float64, c.WSize()),
	}
}

// UShape is the public shape of U.
func (p *Params) UShape() []int { return []int{p.Heads, p.Rows, p.Dim} }

// WShape is the public shape of W.
func (p *Params) WShape() []int { return []int{p.Heads, p.Dim, p.Dim} }

// Clone returns a deep copy.
func (p *Params) Clone() *Params {
	q := *p
	q.U = append([]float64(nil), p.U...)
	q.W = append([]float64(nil), p.W...)
	return &q
}

// Check reports whether p fits c and holds only finite values.
func (p *Params) Check(c Config) error {
	if p.Heads != c.Heads || p.Rows != c.Rows() || p.Dim != c.Dim {
		return fmt.Errorf("params: shaped for heads=%d rows=%d dim=%d, model has heads=%d rows=%d dim=%d",
			p.Heads, p.Rows, p.Dim, c.Heads, c.Rows(), c.Dim)
	}
	if len(p.U) != c.USize() || len(p.W) != c.WSize() {
		return fmt.Errorf("params: U has %d and W has %d entries, want %d and %d", len(p.U), len(p.W), c.USize(), c.WSize())
	}
	for name, v := range map[string][]float64{"U": p.U, "W": p.W} {
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("params: %s[%d] = %v is not finite", name, i, x)
			}
		}
	}
	return nil
}

// Trainable appends the trainable blocks of p (U then W, as c says) to dst
// and returns it: the parameter vector theta of the theory.
func (p *Params) Trainable(c Config, dst []float64) []float64 {
	if c.TrainsU() {
		dst = append(dst, p.U...)
	}
	if c.TrainsW() {
		dst = append(dst, p.W...)
	}
	return dst
}

// SetTrainable writes theta (as laid out by Trainable) into p's trainable blocks.
func (p *Params) SetTrainable(c Config, theta []float64) {
	if len(theta) != c.NumTrainable() {
		panic(fmt.Sprintf("layers: theta has %d entries, config trains %d", len(theta), c.NumTrainable()))
	}
	if c.TrainsU() {
		theta = theta[copy(p.U, theta):]
	}
	if c.TrainsW() {
		copy(p.W, theta)
	}
}

// Initialization schemes.
const (
	InitRandom = "random" // U and W i.i.d. Gaussian (default)
	InitZeroW  = "zero-W" // U Gaussian, W = 0: uniform attention
)

// Init says how to draw initial parameters. Entries of each head's block are
// i.i.d. N(0, norm^2 / size), so the expected squared Frobenius norm of U_h
// is UNorm^2, and likewise for W_h.
type Init struct {
	Scheme string  `json:"scheme"` // "random" (default when empty) or "zero-W"
	UNorm  float64 `json:"u_norm"` // expected Frobenius norm of each U_h, >= 0, finite
	WNorm  float64 `json:"w_norm"` // expected Frobenius norm of each W_h (ignored by zero-W), >= 0, finite
	Seed   uint64  `json:"seed"`   // seed of the draws
}

// DefaultInit is the random scheme with unit-norm heads and seed 1.
func DefaultInit() Init { return Init{Scheme: InitRandom, UNorm: 1, WNorm: 1, Seed: 1} }

// Validate reports every out-of-range field.
func (in Init) Validate() error {
	var errs []error
	switch in.Scheme {
	case "", InitRandom, InitZeroW:
	default:
		errs = append(errs, fmt.Errorf("scheme = %q: must be %q or %q", in.Scheme, InitRandom, InitZeroW))
	}
	if !(in.UNorm >= 0) || math.IsInf(in.UNorm, 0) {
		errs = append(errs, fmt.Errorf("u_norm = %v: must be finite and >= 0", in.UNorm))
	}
	if !(in.WNorm >= 0) || math.IsInf(in.WNorm, 0) {
		errs = append(errs, fmt.Errorf("w_norm = %v: must be finite and >= 0", in.WNorm))
	}
	return errors.Join(errs...)
}

// Random-stream identifiers: U and W draw from separate PCG streams of the seed.
const (
	streamU = 0x55
	streamW = 0x57
)

// NewParams draws initial parameters for c.
func NewParams(c Config, in Init) (*Params, error) {
	if err := errors.Join(c.Validate(), in.Validate()); err != nil {
		return nil, err
	}
	p := NewZeroParams(c)
	fillGaussian(p.U, in.UNorm/math.Sqrt(float64(p.Rows*p.Dim)), in.Seed, streamU)
	if in.Scheme != InitZeroW {
		fillGaussian(p.W, in.WNorm/float64(p.Dim), in.Seed, streamW)
	}
	return p, nil
}

func fillGaussian(dst []float64, std float64, seed, stream uint64) {
	rng := rand.New(rand.NewPCG(seed, stream))
	for i := range dst {
		dst[i] = std * rng.NormFloat64()
	}
}
