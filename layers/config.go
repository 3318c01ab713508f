package layers

import (
	"errors"
	"fmt"
	"math"
)

// Query modes.
const (
	AllToken   = "all-token"   // every token is a query; U_h is T x d (default)
	FirstToken = "first-token" // only x_1 queries; u_h is a d-vector
)

// Scales of the sum over heads.
const (
	InvSqrtHeads = "inv-sqrt" // scale(H) = 1/sqrt(H) (default)
	InvHeads     = "inv"      // scale(H) = 1/H
)

// Trainable blocks.
const (
	TrainUW = "UW" // U and W (default)
	TrainU  = "U"  // U only; W stays at its initial value
	TrainW  = "W"  // W only; U stays at its initial value
)

// Config fixes the architecture. Empty strings select the defaults.
type Config struct {
	Heads  int    `json:"heads"`  // H, number of heads, >= 1
	Tokens int    `json:"tokens"` // T, tokens per sequence, >= 1
	Dim    int    `json:"dim"`    // d, token dimension, >= 1
	Query  string `json:"query"`  // "all-token" (default) or "first-token"
	Scale  string `json:"scale"`  // "inv-sqrt" for 1/sqrt(H) (default) or "inv" for 1/H
	Train  string `json:"train"`  // trainable blocks: "UW" (default), "U" or "W"
}

// Validate reports every out-of-range field, naming it and its allowed range.
func (c Config) Validate() error {
	var errs []error
	if c.Heads < 1 {
		errs = append(errs, fmt.Errorf("heads = %d: must be >= 1", c.Heads))
	}
	if c.Tokens < 1 {
		errs = append(errs, fmt.Errorf("tokens = %d: must be >= 1", c.Tokens))
	}
	if c.Dim < 1 {
		errs = append(errs, fmt.Errorf("dim = %d: must be >= 1", c.Dim))
	}
	switch c.Query {
	case "", AllToken, FirstToken:
	default:
		errs = append(errs, fmt.Errorf("query = %q: must be %q or %q", c.Query, AllToken, FirstToken))
	}
	switch c.Scale {
	case "", InvSqrtHeads, InvHeads:
	default:
		errs = append(errs, fmt.Errorf("scale = %q: must be %q (1/sqrt(H)) or %q (1/H)", c.Scale, InvSqrtHeads, InvHeads))
	}
	switch c.Train {
	case "", TrainUW, TrainU, TrainW:
	default:
		errs = append(errs, fmt.Errorf("train = %q: must be %q, %q or %q", c.Train, TrainUW, TrainU, TrainW))
	}
	return errors.Join(errs...)
}

// IsFirstToken reports whether only x_1 is a query.
func (c Config) IsFirstToken() bool { return c.Query == FirstToken }

// Rows is the number of query rows per head: T, or 1 for first-token.
func (c Config) Rows() int {
	if c.IsFirstToken() {
		return 1
	}
	return c.Tokens
}

// ScaleFactor is scale(H).
func (c Config) ScaleFactor() float64 {
	if c.Scale == InvHeads {
		return 1 / float64(c.Heads)
	}
	return 1 / math.Sqrt(float64(c.Heads))
}

// TrainsU reports whether U is trained.
func (c Config) TrainsU() bool { return c.Train != TrainW }

// TrainsW reports whether W is trained.
func (c Config) TrainsW() bool { return c.Train != TrainU }

// USize is the number of entries of U: H * Rows * d.
func (c Config) USize() int { return c.Heads * c.Rows() * c.Dim }

// WSize is the number of entries of W: H * d * d.
func (c Config) WSize() int { return c.Heads * c.Dim * c.Dim }

// NumTrainable is the length of the trainable parameter vector theta:
// the trainable blocks in the order U, W.
func (c Config) NumTrainable() int {
	n := 0
	if c.TrainsU() {
		n += c.USize()
	}
	if c.TrainsW() {
		n += c.WSize()
	}
	return n
}
