package gdpoint

import (
	"fmt"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

// This file is the one place of experiments/ that knows the layout of
// the parameters: params/<point>/<stage>/ files and the checkpoint.

// SaveParams writes p to dir (params/<point dir>/init or final).
func SaveParams(dir string, p *layers.Params) error { return graph.SaveParams(dir, p) }

// LoadParams reads the parameters SaveParams wrote for the model lc.
func LoadParams(dir string, lc layers.Config) (*layers.Params, error) {
	return graph.LoadParams(dir, lc)
}

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
	Heads       int       `json:"heads"`
	Step        int       `json:"step"`
	U           []float64 `json:"u"`
	W           []float64 `json:"w"`
	Rows        []string  `json:"rows"`
	WallSeconds float64   `json:"wall_seconds"`
}

// SaveCheckpoint writes the point's checkpoint, atomically.
func SaveCheckpoint(w *runner.Work, cp Checkpoint) error {
	p := cp.Params
	return w.SaveCheckpoint(checkpointFile{Heads: p.Heads, Step: cp.Step, U: p.U, W: p.W, Rows: cp.Rows, WallSeconds: cp.WallSeconds})
}

// LoadCheckpoint reads the point's checkpoint for the model lc after at
// most steps steps; ok is false without one.
func LoadCheckpoint(w *runner.Work, lc layers.Config, steps int) (cp Checkpoint, ok bool, err error) {
	var f checkpointFile
	if ok, err = w.LoadCheckpoint(&f); !ok || err != nil {
		return cp, ok, err
	}
	p := layers.NewZeroParams(lc)
	if f.Heads != lc.Heads || len(f.U) != len(p.U) || len(f.W) != len(p.W) || f.Step < 0 || f.Step > steps {
		return cp, false, fmt.Errorf("%s does not fit this point (heads %d, step %d)", w.CheckpointPath(), f.Heads, f.Step)
	}
	copy(p.U, f.U)
	copy(p.W, f.W)
	return Checkpoint{Step: f.Step, Params: p, Rows: f.Rows, WallSeconds: f.WallSeconds}, true, nil
}

// checkpointStep reads the step and rows of a checkpoint left in a point
// directory, for the record of an unfinished point.
func checkpointStep(dir string) (step int, rows []string, ok bool) {
	var f checkpointFile
	if err := runner.ReadJSON(dir+"/checkpoint.json", &f); err != nil {
		return 0, nil, false
	}
	return f.Step, f.Rows, true
}
