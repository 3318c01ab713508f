package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/mhattn/mha/datasets/npy"
	"github.com/mhattn/mha/internal/atomicfile"
)

// Sidecar identification. Bump formatVersion when the layout changes in a
// way an old reader would misread.
const (
	formatName    = "mha-dataset"
	formatVersion = 1
	sidecarName   = "dataset.json"
)

// sidecar is the content of dataset.json.
type sidecar struct {
	Format    string           `json:"format"`
	Version   int              `json:"version"`
	Generator *MixtureConfig   `json:"generator,omitempty"`
	Relevant  int              `json:"relevant,omitempty"` // Generator.Relevant(), for readers in other languages
	Arrays    map[string][]int `json:"arrays"`             // file name -> shape
}

func arrayNames(split string) (x, y, mask string) {
	return split + "_X.npy", split + "_y.npy", split + "_mask.npy"
}

// Save writes train and test to dir as train_X.npy (n, T, d) float64,
// train_y.npy (n,) float64, train_mask.npy (n, T) bool (only when Mask is
// not nil), the same for test, and dataset.json with the format version,
// the shape of every array and, when cfg is not nil, the generator
// parameters (cfg must then describe this data: its train, test, tokens and
// dim must match the datasets). It creates dir if needed. Each file is replaced atomically, and
// dataset.json is written last.
func Save(dir string, train, test *Dataset, cfg *MixtureConfig) error {
	if err := checkPair(train, test); err != nil {
		return fmt.Errorf("datasets: Save: %w", err)
	}
	sc := sidecar{Format: formatName, Version: formatVersion, Arrays: map[string][]int{}}
	if cfg != nil {
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("datasets: Save: %w", err)
		}
		if cfg.Tokens != train.T || cfg.Dim != train.D || cfg.Train != train.N || cfg.Test != test.N {
			return fmt.Errorf("datasets: Save: config says train, test, tokens, dim = %d, %d, %d, %d but the datasets have %d, %d, %d, %d",
				cfg.Train, cfg.Test, cfg.Tokens, cfg.Dim, train.N, test.N, train.T, train.D)
		}
		c := *cfg
		sc.Generator = &c
		sc.Relevant = c.Relevant()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("datasets: Save: %w", err)
	}
	for _, s := range []struct {
		name string
		d    *Dataset
	}{{"train", train}, {"test", test}} {
		xName, yName, maskName := arrayNames(s.name)
		d := s.d
		if err := npy.WriteFile(filepath.Join(dir, xName), []int{d.N, d.T, d.D}, d.X); err != nil {
			return fmt.Errorf("datasets: Save: %w", err)
		}
		sc.Arrays[xName] = []int{d.N, d.T, d.D}
		if err := npy.WriteFile(filepath.Join(dir, yName), []int{d.N}, d.Y); err != nil {
			return fmt.Errorf("datasets: Save: %w", err)
		}
		sc.Arrays[yName] = []int{d.N}
		maskPath := filepath.Join(dir, maskName)
		if d.Mask != nil {
			if err := npy.WriteBoolFile(maskPath, []int{d.N, d.T}, d.Mask); err != nil {
				return fmt.Errorf("datasets: Save: %w", err)
			}
			sc.Arrays[maskName] = []int{d.N, d.T}
		} else if err := os.Remove(maskPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			// A mask left from an earlier save would describe other data.
			return fmt.Errorf("datasets: Save: removing stale mask: %w", err)
		}
	}
	js, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return fmt.Errorf("datasets: Save: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, sidecarName), append(js, '\n')); err != nil {
		return fmt.Errorf("datasets: Save: %w", err)
	}
	return nil
}

// checkPair validates both splits and that they share T and D.
func checkPair(train, test *Dataset) error {
	if err := train.Validate(); err != nil {
		return fmt.Errorf("train %w", err)
	}
	if err := test.Validate(); err != nil {
		return fmt.Errorf("test %w", err)
	}
	if train.T != test.T || train.D != test.D {
		return fmt.Errorf("train has T, d = %d, %d but test has %d, %d", train.T, train.D, test.T, test.D)
	}
	return nil
}

// Load reads a directory written by Save. cfg is nil when dataset.json holds
// no generator parameters; a split's Mask is nil when it was saved without
// one. Every array is checked against the shape dataset.json records and
// against the rules of LoadXY.
func Load(dir string) (train, test *Dataset, cfg *MixtureConfig, err error) {
	scPath := filepath.Join(dir, sidecarName)
	js, err := os.ReadFile(scPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("datasets: %s not found: not a directory written by Save (for your own arrays use LoadXY)", scPath)
		}
		return nil, nil, nil, fmt.Errorf("datasets: %w", err)
	}
	var sc sidecar
	dec := json.NewDecoder(bytes.NewReader(js))
	if err := dec.Decode(&sc); err != nil {
		return nil, nil, nil, fmt.Errorf("datasets: %s: %w", scPath, err)
	}
	switch {
	case sc.Format != formatName:
		return nil, nil, nil, fmt.Errorf("datasets: %s: format %q, want %q", scPath, sc.Format, formatName)
	case sc.Version > formatVersion:
		return nil, nil, nil, fmt.Errorf("datasets: %s: format version %d is newer than this reader's %d", scPath, sc.Version, formatVersion)
	case sc.Version < 1:
		return nil, nil, nil, fmt.Errorf("datasets: %s: format version %d, want %d", scPath, sc.Version, formatVersion)
	}
	if sc.Generator != nil {
		if err := sc.Generator.Validate(); err != nil {
			return nil, nil, nil, fmt.Errorf("datasets: %s: generator: %w", scPath, err)
		}
	}
	var splits [2]*Dataset
	for i, split := range []string{"train", "test"} {
		xName, yName, maskName := arrayNames(split)
		for _, name := range []string{xName, yName} {
			if _, ok := sc.Arrays[name]; !ok {
				return nil, nil, nil, fmt.Errorf("datasets: %s: lists no %s", scPath, name)
			}
		}
		maskPath := ""
		if _, ok := sc.Arrays[maskName]; ok {
			maskPath = filepath.Join(dir, maskName)
		}
		d, shapes, err := loadSplit(filepath.Join(dir, xName), filepath.Join(dir, yName), maskPath)
		if err != nil {
			return nil, nil, nil, err
		}
		// Sorted, so the error for several mismatches is always the same.
		for _, name := range slices.Sorted(maps.Keys(shapes)) {
			shape := shapes[name]
			if want := sc.Arrays[filepath.Base(name)]; !slices.Equal(shape, want) {
				return nil, nil, nil, fmt.Errorf("datasets: %s has shape %s but %s records %s: the files come from different saves",
					name, shapeString(shape), scPath, shapeString(want))
			}
		}
		splits[i] = d
	}
	train, test = splits[0], splits[1]
	if err := checkPair(train, test); err != nil {
		return nil, nil, nil, fmt.Errorf("datasets: %s: %w", dir, err)
	}
	if g := sc.Generator; g != nil && (g.Tokens != train.T || g.Dim != train.D || g.Train != train.N || g.Test != test.N) {
		return nil, nil, nil, fmt.Errorf("datasets: %s: generator says train, test, tokens, dim = %d, %d, %d, %d but the arrays have %d, %d, %d, %d",
			scPath, g.Train, g.Test, g.Tokens, g.Dim, train.N, test.N, train.T, train.D)
	}
	return train, test, sc.Generator, nil
}

// LoadXY reads a dataset from your own .npy files: X of shape (n, T, d) in
// any dtype package npy reads (float64, float32, integers, bool), and y of
// shape (n,) with every value -1 or +1. Labels in {0, 1} are rejected with a
// hint to use 2*y - 1, rather than silently mapped. Mask is nil.
func LoadXY(xPath, yPath string) (*Dataset, error) {
	d, _, err := loadSplit(xPath, yPath, "")
	return d, err
}

// loadSplit reads and checks X, y and, if maskPath is not empty, the mask.
// It also returns the shape read from each file, keyed by path.
func loadSplit(xPath, yPath, maskPath string) (*Dataset, map[string][]int, error) {
	shapes := map[string][]int{}
	xShape, x, err := npy.ReadFile(xPath)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	shapes[xPath] = xShape
	if len(xShape) != 3 {
		return nil, nil, fmt.Errorf("datasets: %s: X has shape %s, want 3-D (n, T, d)", xPath, shapeString(xShape))
	}
	n, T, D := xShape[0], xShape[1], xShape[2]
	if n < 1 || T < 1 || D < 1 {
		return nil, nil, fmt.Errorf("datasets: %s: X has shape %s, want every dimension >= 1", xPath, shapeString(xShape))
	}
	if err := checkFinite("X", x, T, D); err != nil {
		return nil, nil, fmt.Errorf("datasets: %s: %w", xPath, err)
	}

	yShape, y, err := npy.ReadFile(yPath)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	shapes[yPath] = yShape
	if len(yShape) != 1 {
		hint := ""
		if len(yShape) == 2 && (yShape[0] == 1 || yShape[1] == 1) {
			hint = "; flatten it with y.ravel()"
		}
		return nil, nil, fmt.Errorf("datasets: %s: y has shape %s, want 1-D (n,)%s", yPath, shapeString(yShape), hint)
	}
	if yShape[0] != n {
		return nil, nil, fmt.Errorf("datasets: %s has %d labels but %s has %d sequences", yPath, yShape[0], xPath, n)
	}
	if err := checkLabels("y", y); err != nil {
		return nil, nil, fmt.Errorf("datasets: %s: %w", yPath, err)
	}
	d := &Dataset{N: n, T: T, D: D, X: x, Y: y}

	if maskPath != "" {
		mShape, m, err := npy.ReadFile(maskPath)
		if err != nil {
			return nil, nil, fmt.Errorf("datasets: %w", err)
		}
		shapes[maskPath] = mShape
		if !slices.Equal(mShape, []int{n, T}) {
			return nil, nil, fmt.Errorf("datasets: %s: mask has shape %s, want (n, T) = (%d, %d) to match %s", maskPath, shapeString(mShape), n, T, xPath)
		}
		d.Mask = make([]bool, len(m))
		for i, v := range m {
			if v != 0 && v != 1 {
				return nil, nil, fmt.Errorf("datasets: %s: mask[%d] (sequence %d, token %d) = %v, want 0 or 1", maskPath, i, i/T, i%T, v)
			}
			d.Mask[i] = v == 1
		}
	}
	return d, shapes, nil
}

func shapeString(s []int) string {
	if len(s) == 1 {
		return fmt.Sprintf("(%d,)", s[0])
	}
	b := []byte{'('}
	for i, v := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%d", v)
	}
	return string(append(b, ')'))
}
