package graph

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/mhattn/mha/datasets/npy"
	"github.com/mhattn/mha/internal/atomicfile"
	"github.com/mhattn/mha/layers"
)

// ParamsFile is the JSON file beside the .npy arrays of a parameter
// directory: the model kind and every array's name and shape, in order.
const ParamsFile = "params.json"

// paramsIndex is the content of ParamsFile.
type paramsIndex struct {
	Format string       `json:"format"` // "mha-params"
	Kind   string       `json:"kind"`
	Params []paramEntry `json:"params"`
}

type paramEntry struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	File  string `json:"file"`
}

// SaveParams writes every parameter of p to dir/<name>.npy (float64, its
// shape) and their names and shapes to dir/params.json, creating dir. Each
// file is written whole or not at all. kind is recorded in the index.
func SaveParams(dir string, m layers.Model, p *layers.Params) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	idx := paramsIndex{Format: "mha-params", Kind: m.Config().KindName()}
	for _, q := range p.List {
		file := q.Name + ".npy"
		if err := npy.WriteFile(filepath.Join(dir, file), q.Shape, q.Data); err != nil {
			return err
		}
		idx.Params = append(idx.Params, paramEntry{Name: q.Name, Shape: q.Shape, File: file})
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, ParamsFile), append(b, '\n'))
}

// LoadParams reads parameters saved by SaveParams (arrays may also come
// from numpy, with the index naming them) and checks names, order, shapes
// and values against m.
func LoadParams(dir string, m layers.Model) (*layers.Params, error) {
	if err := m.Config().Validate(); err != nil {
		return nil, err
	}
	indexPath := filepath.Join(dir, ParamsFile)
	raw, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	var idx paramsIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", indexPath, err)
	}
	specs := m.Specs()
	kind := m.Config().KindName()
	if idx.Kind != kind || len(idx.Params) != len(specs) {
		return nil, fmt.Errorf("%s: holds kind %q with %d arrays, model is kind %q with %d (%v)",
			indexPath, idx.Kind, len(idx.Params), kind, len(specs), layers.NewZeroParams(m).Names())
	}
	p := layers.NewZeroParams(m)
	for i, s := range specs {
		e := idx.Params[i]
		if e.Name != s.Name || !slices.Equal(e.Shape, s.Shape) {
			return nil, fmt.Errorf("%s: array %d is %s %v, model kind %q needs %s %v", indexPath, i, e.Name, e.Shape, kind, s.Name, s.Shape)
		}
		path := filepath.Join(dir, filepath.Base(e.File))
		shape, data, err := npy.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(shape, s.Shape) {
			return nil, fmt.Errorf("%s: shape %v, model kind %q needs %s %v", path, shape, kind, s.Name, s.Shape)
		}
		copy(p.List[i].Data, data)
	}
	if err := p.Check(m); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return p, nil
}
