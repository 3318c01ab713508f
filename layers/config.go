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

// Engines of the paper's model.
const (
	EngineAuto     = "auto"     // the fused op where it implements the model (default)
	EngineComposed = "composed" // always the composition of blocks
	EngineFused    = "fused"    // the fused op; an error for a model it does not implement
)

// Config fixes the architecture. Empty strings select the defaults.
type Config struct {
	Heads  int    `json:"heads"`  // H, number of heads, >= 1
	Tokens int    `json:"tokens"` // T, tokens per sequence, >= 1
	Dim    int    `json:"dim"`    // d, token dimension, >= 1
	Query  string `json:"query"`  // "all-token" (default) or "first-token"
	Scale  string `json:"scale"`  // "inv-sqrt" for 1/sqrt(H) (default) or "inv" for 1/H
	// Train names the trainable blocks: "UW" (default) trains everything,
	// "U" only the readout U, "W" only the attention (W; Q and K; V).
	Train string `json:"train"`
	// Kind is the registered model kind (Kinds): "paper" (default), "kq",
	// "relu", "value", or one a program registered with Register.
	Kind string `json:"kind,omitempty"`
	// Engine is "auto" (default), "composed" or "fused"; see the constants.
	Engine string `json:"engine,omitempty"`
	// Rank is r of the factored key-query model "kq"; 0 selects Dim; in [0, Dim].
	Rank int `json:"rank,omitempty"`
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
	if _, ok := lookupKind(c.Kind); !ok {
		errs = append(errs, fmt.Errorf("kind = %q: must be one of %s", c.Kind, quoted(Kinds())))
	}
	switch c.Engine {
	case "", EngineAuto, EngineComposed, EngineFused:
	default:
		errs = append(errs, fmt.Errorf("engine = %q: must be %q, %q or %q", c.Engine, EngineAuto, EngineComposed, EngineFused))
	}
	if c.Rank < 0 || (c.Dim >= 1 && c.Rank > c.Dim) {
		errs = append(errs, fmt.Errorf("rank = %d: must be in [1, dim = %d] (0 selects dim)", c.Rank, c.Dim))
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

// KindName is the model kind with the default filled in.
func (c Config) KindName() string {
	if c.Kind == "" {
		return KindPaper
	}
	return c.Kind
}

// RankOrDim is the rank of a factored model: Rank, or Dim when 0.
func (c Config) RankOrDim() int {
	if c.Rank == 0 {
		return c.Dim
	}
	return c.Rank
}
