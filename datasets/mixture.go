package datasets

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// MixtureConfig holds the parameters of the tokenized-mixture data model.
// The zero value is not valid; start from DefaultMixture.
type MixtureConfig struct {
	// Dim is the token dimension d. Default 16; needs Dim >= Clusters+2 so
	// that mu_+, mu_- and every nu_j have their own axis.
	Dim int `json:"dim"`
	// Tokens is the sequence length T. Default 8; >= 1.
	Tokens int `json:"tokens"`
	// Train is the number n of training sequences. Default 256; >= 1.
	Train int `json:"train"`
	// Test is the number n_test of test sequences. Default 1024; >= 1.
	Test int `json:"test"`
	// Zeta is the fraction of relevant (signal) tokens per sequence; each
	// sequence has Relevant() = max(1, round(Zeta*T)) of them.
	// Default 0.25; in (0, 1].
	Zeta float64 `json:"zeta"`
	// Signal is S, the norm of the signal means mu_+ = S e_1 and
	// mu_- = S e_2 (or -S e_1 when Antipodal). Default 1; >= 0, finite.
	Signal float64 `json:"signal"`
	// Noise is Z, the norm of the noise centres nu_j = Z e_{2+j}.
	// Default 1; >= 0, finite.
	Noise float64 `json:"noise"`
	// Clusters is the number M of noise centres. Default 4; >= 1.
	Clusters int `json:"clusters"`
	// Sigma is the standard deviation of the isotropic Gaussian jitter
	// added to every token. Default 0.1; >= 0, finite.
	Sigma float64 `json:"sigma"`
	// Antipodal sets mu_- = -mu_+ instead of the orthogonal S e_2.
	// Default false.
	Antipodal bool `json:"antipodal"`
	// Decoy is D, the weight of a decoy signal on every noise token: a noise
	// token is nu_j + D mu_s + sigma g with its own label s uniform on
	// {-1, +1}, drawn independently of the sequence's label y. Decoys put
	// label-independent signal into the noise tokens, so the mean token of a
	// sequence (what uniform attention sees) carries the label only through
	// the r relevant tokens against the sum of T - r random decoy signs,
	// while the relevant tokens still differ from the noise tokens by their
	// missing noise-centre component. Default 0 (no decoys, the paper's
	// model); >= 0, finite.
	Decoy float64 `json:"decoy,omitempty"`
	// Seed seeds every draw (see Sample). Default 1; any value.
	Seed uint64 `json:"seed"`
}

// Streams of the PCG generator used by Generate. Train and test come from
// different streams of the same seed, so changing n_test never changes the
// training set and vice versa.
const (
	TrainStream uint64 = 1
	TestStream  uint64 = 2
	// DecoyStream is xored into a split's stream for the decoy labels, so
	// decoys leave every other draw of the split unchanged.
	DecoyStream uint64 = 0xdec0 << 32
)

// DefaultMixture returns the project's default tokenized mixture.
func DefaultMixture() MixtureConfig {
	return MixtureConfig{
		Dim:      16,
		Tokens:   8,
		Train:    256,
		Test:     1024,
		Zeta:     0.25,
		Signal:   1,
		Noise:    1,
		Clusters: 4,
		Sigma:    0.1,
		Seed:     1,
	}
}

// Validate reports every out-of-range field, joined with errors.Join. Each
// error names the field by its JSON name, its value and the allowed range.
func (c MixtureConfig) Validate() error {
	var errs []error
	bad := func(field string, value any, want string) {
		errs = append(errs, fmt.Errorf("mixture config: %s = %v, want %s", field, value, want))
	}
	if c.Clusters < 1 {
		bad("clusters", c.Clusters, ">= 1")
	}
	if c.Dim < max(c.Clusters, 1)+2 {
		bad("dim", c.Dim, fmt.Sprintf(">= clusters+2 = %d (one axis each for mu_+, mu_- and the noise centres)", max(c.Clusters, 1)+2))
	}
	if c.Tokens < 1 {
		bad("tokens", c.Tokens, ">= 1")
	}
	if c.Train < 1 {
		bad("train", c.Train, ">= 1")
	}
	if c.Test < 1 {
		bad("test", c.Test, ">= 1")
	}
	if !(c.Zeta > 0 && c.Zeta <= 1) {
		bad("zeta", c.Zeta, "a fraction in (0, 1]")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"signal", c.Signal}, {"noise", c.Noise}, {"sigma", c.Sigma}, {"decoy", c.Decoy}} {
		if !(f.v >= 0 && f.v <= math.MaxFloat64) {
			bad(f.name, f.v, "a finite value >= 0")
		}
	}
	return errors.Join(errs...)
}

// Relevant returns the number of relevant tokens per sequence,
// round(zeta*T) clamped to [1, T].
func (c MixtureConfig) Relevant() int {
	r := math.Round(c.Zeta * float64(c.Tokens))
	switch {
	case !(r >= 1): // also catches NaN
		return 1
	case r > float64(c.Tokens):
		return max(c.Tokens, 1)
	}
	return int(r)
}

// Generate draws the training set (Train sequences, stream TrainStream) and
// the test set (Test sequences, stream TestStream).
func (c MixtureConfig) Generate() (train, test *Dataset, err error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if train, err = c.Sample(c.Train, TrainStream); err != nil {
		return nil, nil, err
	}
	if test, err = c.Sample(c.Test, TestStream); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// Sample draws n sequences from rand.NewPCG(c.Seed, stream). It ignores
// c.Train and c.Test.
//
// Draws happen sequence by sequence, in this order: the label, the relevant
// positions (a partial Fisher-Yates shuffle of 0..T-1), then for each token
// t = 0..T-1 the noise cluster j (noise tokens only) and d standard normals.
// Decoy labels (noise tokens only, when Decoy > 0) come in token order from
// a second generator, rand.NewPCG(c.Seed, stream^DecoyStream). Hence the
// first m sequences of Sample(n, s) are Sample(m, s) for m <= n (nested
// training sets), and S, Z, sigma, Antipodal and Decoy change the values of
// X but not the labels, positions, clusters or Gaussian draws.
func (c MixtureConfig) Sample(n int, stream uint64) (*Dataset, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("datasets: Sample: n = %d, want >= 1", n)
	}
	T, D := c.Tokens, c.Dim
	if n > math.MaxInt/T/D {
		return nil, fmt.Errorf("datasets: Sample: n*T*d = %d*%d*%d overflows", n, T, D)
	}
	rng := rand.New(rand.NewPCG(c.Seed, stream))
	decoys := rand.New(rand.NewPCG(c.Seed, stream^DecoyStream))
	r := c.Relevant()
	ds := &Dataset{
		N:    n,
		T:    T,
		D:    D,
		X:    make([]float64, n*T*D),
		Y:    make([]float64, n),
		Mask: make([]bool, n*T),
	}
	// Axis of each centre: mu_+ on 0, mu_- on 1 (or -axis 0), nu_j on 2+j.
	plusAxis, minusAxis, minusSign := 0, 1, 1.0
	if c.Antipodal {
		minusAxis, minusSign = 0, -1
	}
	perm := make([]int, T)
	for i := range n {
		y := 1.0
		if rng.IntN(2) == 0 {
			y = -1
		}
		ds.Y[i] = y
		mask := ds.Mask[i*T : (i+1)*T]
		for t := range perm {
			perm[t] = t
		}
		for k := range r {
			j := k + rng.IntN(T-k)
			perm[k], perm[j] = perm[j], perm[k]
			mask[perm[k]] = true
		}
		for t := range T {
			row := ds.X[(i*T+t)*D : (i*T+t+1)*D]
			axis, centre := 0, 0.0
			decoyAxis, decoy := 0, 0.0
			switch {
			case !mask[t]:
				axis, centre = 2+rng.IntN(c.Clusters), c.Noise
				if c.Decoy > 0 {
					decoyAxis, decoy = plusAxis, c.Decoy*c.Signal
					if decoys.IntN(2) == 0 {
						decoyAxis, decoy = minusAxis, minusSign*c.Decoy*c.Signal
					}
				}
			case y > 0:
				axis, centre = plusAxis, c.Signal
			default:
				axis, centre = minusAxis, minusSign*c.Signal
			}
			for k := range row {
				row[k] = c.Sigma * rng.NormFloat64()
			}
			row[axis] += centre
			row[decoyAxis] += decoy
		}
	}
	return ds, nil
}
