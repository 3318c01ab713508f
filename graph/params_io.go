package graph

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/mhattn/mha/datasets/npy"
	"github.com/mhattn/mha/layers"
)

// SaveParams writes p to dir/U.npy (Heads x Rows x d) and dir/W.npy
// (Heads x d x d), float64, creating dir. Each file is written whole or not
// at all.
func SaveParams(dir string, p *layers.Params) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := npy.WriteFile(filepath.Join(dir, "U.npy"), p.UShape(), p.U); err != nil {
		return err
	}
	return npy.WriteFile(filepath.Join(dir, "W.npy"), p.WShape(), p.W)
}

// LoadParams reads parameters saved by SaveParams (or by numpy, with the
// same shapes) and checks them against c.
func LoadParams(dir string, c layers.Config) (*layers.Params, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := layers.NewZeroParams(c)
	for _, block := range []struct {
		name  string
		shape []int
		dst   []float64
	}{{"U.npy", p.UShape(), p.U}, {"W.npy", p.WShape(), p.W}} {
		path := filepath.Join(dir, block.name)
		shape, data, err := npy.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(shape, block.shape) {
			return nil, fmt.Errorf("%s: shape %v, model (heads=%d tokens=%d dim=%d query=%s) needs %v",
				path, shape, c.Heads, c.Tokens, c.Dim, c.Query, block.shape)
		}
		copy(block.dst, data)
	}
	if err := p.Check(c); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return p, nil
}
