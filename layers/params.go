package layers

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Param is one named parameter array, row-major float64.
type Param struct {
	Name  string
	Shape []int
	Data  []float64
}

// Params is a model's parameters: a list in the order of Model.Specs.
type Params struct {
	List []Param
}

// NewZeroParams returns all-zero parameters shaped for m.
func NewZeroParams(m Model) *Params {
	specs := m.Specs()
	p := &Params{List: make([]Param, len(specs))}
	for i, s := range specs {
		p.List[i] = Param{Name: s.Name, Shape: slices.Clone(s.Shape), Data: make([]float64, s.Size())}
	}
	return p
}

// NewParams draws initial parameters for m from the seeded in.
func NewParams(m Model, in Init) (*Params, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	p := NewZeroParams(m)
	for i, s := range m.Specs() {
		if s.Init != nil {
			s.Init(p.List[i].Data, in)
		}
	}
	return p, nil
}

// Get returns the data of the parameter called name, or nil.
func (p *Params) Get(name string) []float64 {
	for _, q := range p.List {
		if q.Name == name {
			return q.Data
		}
	}
	return nil
}

// Names lists the parameter names in order.
func (p *Params) Names() []string {
	names := make([]string, len(p.List))
	for i, q := range p.List {
		names[i] = q.Name
	}
	return names
}

// Clone returns a deep copy.
func (p *Params) Clone() *Params {
	q := &Params{List: make([]Param, len(p.List))}
	for i, x := range p.List {
		q.List[i] = Param{Name: x.Name, Shape: slices.Clone(x.Shape), Data: slices.Clone(x.Data)}
	}
	return q
}

// Check reports whether p has exactly m's parameters (names, order,
// shapes) and only finite values.
func (p *Params) Check(m Model) error {
	specs := m.Specs()
	if len(p.List) != len(specs) {
		return fmt.Errorf("params: %d arrays %v, model kind %q has %d: %v", len(p.List), p.Names(), m.Config().KindName(), len(specs), specNames(specs))
	}
	for i, s := range specs {
		q := p.List[i]
		if q.Name != s.Name || !slices.Equal(q.Shape, s.Shape) || len(q.Data) != s.Size() {
			return fmt.Errorf("params: array %d is %s %v (%d entries), model kind %q needs %s %v",
				i, q.Name, q.Shape, len(q.Data), m.Config().KindName(), s.Name, s.Shape)
		}
		for j, x := range q.Data {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("params: %s[%d] = %v is not finite", q.Name, j, x)
			}
		}
	}
	return nil
}

func specNames(specs []ParamSpec) []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

// Trainable appends m's trainable parameters (in Specs order) to dst and
// returns it: the parameter vector theta of the theory.
func (p *Params) Trainable(m Model, dst []float64) []float64 {
	for i, s := range m.Specs() {
		if !s.Frozen {
			dst = append(dst, p.List[i].Data...)
		}
	}
	return dst
}

// SetTrainable writes theta (as laid out by Trainable) into p.
func (p *Params) SetTrainable(m Model, theta []float64) {
	if len(theta) != NumTrainable(m) {
		panic(fmt.Sprintf("layers: theta has %d entries, model trains %d", len(theta), NumTrainable(m)))
	}
	for i, s := range m.Specs() {
		if !s.Frozen {
			theta = theta[copy(p.List[i].Data, theta):]
		}
	}
}

// Initialization schemes.
const (
	InitRandom = "random" // every parameter drawn as its model says (default)
	InitZeroW  = "zero-W" // the attention logits start at 0 (W = 0, or K = 0): uniform attention
)

// Init says how to draw initial parameters. For the paper's model, entries
// of each head's block are i.i.d. N(0, norm^2 / size), so the expected
// squared Frobenius norm of U_h is UNorm^2, and likewise for W_h; other
// models document how they read it.
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

// FillGaussian fills dst with i.i.d. N(0, std^2) draws from PCG stream
// `stream` of seed: a parameter's own stream, so adding a parameter to a
// model changes no other parameter's draws, and the first heads of a larger
// model (laid out head-major) equal a smaller model's heads.
func FillGaussian(dst []float64, std float64, seed, stream uint64) {
	rng := rand.New(rand.NewPCG(seed, stream))
	for i := range dst {
		dst[i] = std * rng.NormFloat64()
	}
}
