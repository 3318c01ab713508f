package layers

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	G "gorgonia.org/gorgonia"
)

// Model is an attention model as a value: it lists its parameters and
// builds Phi from input nodes. Everything downstream (graph.Model, GD, the
// Evaluator, per-sample gradients, Hessian-vector products, parameter files,
// checkpoints, the experiment runner) works through this interface and never
// names a particular weight.
type Model interface {
	// Config is the configuration the model was made from.
	Config() Config
	// Specs lists the parameters in a fixed order: the order of the
	// parameter vector theta (trainable ones only) and of Params.List.
	Specs() []ParamSpec
	// Build adds the model to x's graph. x is [n, T, d]; params holds one
	// node per spec, in Specs order, with the spec's shape (shared by the
	// whole batch).
	Build(x *G.Node, params []*G.Node) (*Outputs, error)
}

// ParamSpec describes one named parameter array.
type ParamSpec struct {
	Name  string // unique within a model; also the .npy file name
	Shape []int  // row-major
	// Frozen parameters keep their initial value: they get no gradient and
	// are not part of theta.
	Frozen bool
	// Init fills dst (zeroed, of the spec's size) from the seeded
	// initialization in; nil leaves zeros. It must draw only from
	// in.Seed, never from the clock.
	Init func(dst []float64, in Init)
}

// Size is the number of entries of the parameter.
func (s ParamSpec) Size() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// Outputs are the nodes of one forward pass over a batch of n sequences.
type Outputs struct {
	// Phi is the model output, shape [n].
	Phi *G.Node
	// Weights are the attention weights where the model has them, shape
	// [n, Q, T] (Q query rows per sequence, T keys), else nil. For the
	// models of this package row r*H+h is query r of head h.
	Weights *G.Node
}

// Constructor makes a model of a registered kind from its configuration.
type Constructor func(Config) (Model, error)

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Constructor{}
)

// Register makes a model kind selectable by Config.Kind (and so by
// "model.kind" in every experiment's config). Registering a kind twice
// replaces it.
func Register(kind string, build Constructor) {
	if kind == "" || build == nil {
		panic("layers.Register: empty kind or nil constructor")
	}
	kindsMu.Lock()
	defer kindsMu.Unlock()
	kinds[kind] = build
}

// Kinds lists the registered model kinds, sorted.
func Kinds() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func lookupKind(kind string) (Constructor, bool) {
	if kind == "" {
		kind = KindPaper
	}
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	b, ok := kinds[kind]
	return b, ok
}

func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// New validates c and makes the model of kind c.Kind.
func New(c Config) (Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	build, _ := lookupKind(c.Kind)
	m, err := build(c)
	if err != nil {
		return nil, err
	}
	if err := checkSpecs(m.Specs()); err != nil {
		return nil, fmt.Errorf("model kind %q: %w", c.KindName(), err)
	}
	return m, nil
}

func checkSpecs(specs []ParamSpec) error {
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Name == "" || strings.ContainsAny(s.Name, `/\. `) {
			return fmt.Errorf("parameter name %q: must be non-empty without '/', '\\', '.' or spaces", s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("parameter %q listed twice", s.Name)
		}
		seen[s.Name] = true
		for _, d := range s.Shape {
			if d < 1 {
				return fmt.Errorf("parameter %q has shape %v: sizes must be >= 1", s.Name, s.Shape)
			}
		}
	}
	return nil
}

// NumTrainable is the length of theta: the sizes of m's trainable
// parameters, added up.
func NumTrainable(m Model) int {
	n := 0
	for _, s := range m.Specs() {
		if !s.Frozen {
			n += s.Size()
		}
	}
	return n
}
