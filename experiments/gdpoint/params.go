package gdpoint

import (
	"fmt"
	"slices"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

// This file is the one place of experiments/ that knows the layout of
// the parameters: params/<point>/<stage>/ files and the checkpoint.

// SaveParams writes p to dir (params/<point dir>/init or final).
func SaveParams(dir string, m layers.Model, p *layers.Params) error {
	return graph.SaveParams(dir, m, p)
}

// LoadParams reads the parameters SaveParams wrote for the model m.
func LoadParams(dir string, m layers.Model) (*layers.Params, error) { return graph.LoadParams(dir, m) }

// Checkpoint is a GD path stopped at step Step: theta_Step, the metric
// rows of the steps before and the compute time so far.
type Checkpoint struct {
	Step        int
	Params      *layers.Params
	Rows        []string
	WallSeconds float64
}

// checkpointFile is points/<dir>/checkpoint.json.
type checkpointFile struct {
	Step        int          `json:"step"`
	Params      []savedParam `json:"params"`
	Rows        []string     `json:"rows"`
	WallSeconds float64      `json:"wall_seconds"`
}

type savedParam struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// SaveCheckpoint writes the point's checkpoint, atomically.
func SaveCheckpoint(w *runner.Work, cp Checkpoint) error {
	f := checkpointFile{Step: cp.Step, Rows: cp.Rows, WallSeconds: cp.WallSeconds}
	for _, q := range cp.Params.List {
		f.Params = append(f.Params, savedParam{Name: q.Name, Shape: q.Shape, Data: q.Data})
	}
	return w.SaveCheckpoint(f)
}

// LoadCheckpoint reads the point's checkpoint for the model m after at
// most steps steps; ok is false without one. A checkpoint whose
// parameters' names or shapes are not m's is an error.
func LoadCheckpoint(w *runner.Work, m layers.Model, steps int) (cp Checkpoint, ok bool, err error) {
	var f checkpointFile
	if ok, err = w.LoadCheckpoint(&f); !ok || err != nil {
		return cp, ok, err
	}
	p := layers.NewZeroParams(m)
	fits := len(f.Params) == len(p.List) && f.Step >= 0 && f.Step <= steps
	for i := 0; fits && i < len(p.List); i++ {
		q := f.Params[i]
		fits = q.Name == p.List[i].Name && slices.Equal(q.Shape, p.List[i].Shape) && len(q.Data) == len(p.List[i].Data)
		if fits {
			copy(p.List[i].Data, q.Data)
		}
	}
	if !fits {
		return cp, false, fmt.Errorf("%s does not fit this point (step %d of %d, %d parameters)", w.CheckpointPath(), f.Step, steps, len(f.Params))
	}
	return Checkpoint{Step: f.Step, Params: p, Rows: f.Rows, WallSeconds: f.WallSeconds}, true, nil
}

// checkpointStep reads the step and rows of a checkpoint left in a point
// directory, for the record of an unfinished point.
func checkpointStep(dir string) (step int, rows []string, ok bool) {
	var f checkpointFile
	if err := runner.ReadCheckpoint(dir+"/checkpoint.json", &f); err != nil {
		return 0, nil, false
	}
	return f.Step, f.Rows, true
}
