package gdpoint

import (
	"context"
	"errors"
	"math"
	"os"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

// Path is one GD run of a point that logs rows at some steps and is
// checkpointed every checkpoint_every steps and on interruption, and
// resumed from its checkpoint.
type Path struct {
	Work    *runner.Work
	Model   layers.Model
	P0      *layers.Params
	Train   *datasets.Dataset
	Eta     float64
	Steps   int
	MaxLoss float64
	// Options are the graph's (Config.GraphOptions).
	Options graph.Options
	// LogAt says whether step k is logged; At returns its rows. At may
	// use the model (e.g. Hessian-vector products) but must leave its
	// parameters as they were.
	LogAt func(k int) bool
	At    func(k int, m *graph.Model, p graph.Progress) ([]string, error)
}

// PathOf is a Path from a Start with the point's steps and max_loss.
func PathOf(w *runner.Work, s *Start) Path {
	return Path{Work: w, Model: s.Model, P0: s.P0, Train: s.Train, Eta: s.Eta, Steps: s.Config.Steps, MaxLoss: s.Config.MaxLoss, Options: s.Config.GraphOptions()}
}

// End is how a Path ended.
type End struct {
	Status       string // ok, diverged or interrupted
	Step         int    // last step reached
	DivergedStep *int
	Divergence   string
	Rows         []string
	Model        *graph.Model
	Last         graph.Progress
	WallSeconds  float64 // time spent on the point, over every run that resumed it
	// MaxDistance is max_k ||theta_k - theta_0|| over the steps this run
	// computed (a resumed run starts at its checkpoint).
	MaxDistance float64
	// LastStep is the last step k GD recorded, its parameters and loss
	// finite (for status diverged the step before the one where the
	// divergence was detected), and LastDistance its ||theta_k -
	// theta_0||; LastStep is -1 when this run recorded none.
	LastStep     int
	LastDistance float64
}

// errStop stops GD after a checkpoint on interruption.
var errStop = errors.New("interrupted")

// Run runs the path from its checkpoint (or theta_0) to the end, to
// divergence or until ctx is cancelled (then it checkpoints and returns
// status interrupted).
func (g Path) Run(ctx context.Context) (End, error) {
	w := g.Work
	every := w.Config.RunSettings().CheckpointEvery
	first, params, wall0 := 0, g.P0, 0.0
	var rows []string
	cp, ok, err := LoadCheckpoint(w, g.Model, g.Steps)
	if err != nil {
		// A checkpoint that does not fit (another model or step count)
		// must not block the point: start over.
		w.Log.WithError(err).Warn("the checkpoint does not fit this point: deleting it and computing the point from the start")
		if rerr := os.Remove(w.CheckpointPath()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return End{}, rerr
		}
		ok = false
	}
	if ok {
		first, params, rows, wall0 = cp.Step, cp.Params, cp.Rows, cp.WallSeconds
		w.Log.WithField("step", first).Info("resuming from checkpoint")
	}
	m, err := graph.NewModelOptions(g.Model, params, g.Train, g.Options)
	if err != nil {
		return End{}, err
	}
	wall := func() float64 { return wall0 + w.Elapsed().Seconds() }
	save := func(k int) error {
		return SaveCheckpoint(w, Checkpoint{Step: k, Params: m.Params(), Rows: rows, WallSeconds: wall()})
	}
	gd := graph.GD{StepSize: g.Eta, Steps: g.Steps, MaxLoss: g.MaxLoss}
	theta0, maxDist := g.P0.Trainable(g.Model, nil), 0.0
	lastStep, lastDist := -1, math.NaN()
	rec := graph.RecorderFunc(func(p graph.Progress) error {
		k := p.Step
		dist := Distance(m.Params().Trainable(g.Model, nil), theta0)
		maxDist = max(maxDist, dist)
		lastStep, lastDist = k, dist
		if k < g.Steps && ctx.Err() != nil {
			if err := save(k); err != nil {
				return err
			}
			return errStop
		}
		if k > first && k < g.Steps && k%every == 0 {
			if err := save(k); err != nil {
				return err
			}
		}
		if g.LogAt(k) || k == g.Steps {
			rs, err := g.At(k, m, p)
			if err != nil {
				return err
			}
			rows = append(rows, rs...)
		}
		w.Step(k)
		return nil
	})
	last, err := gd.RunFrom(m, first, rec)
	end := End{Step: last.Step, Model: m, Last: last, MaxDistance: maxDist, LastStep: lastStep, LastDistance: lastDist}
	var div *graph.DivergedError
	switch {
	case errors.Is(err, errStop):
		end.Status = runner.StatusInterrupted
		w.Log.WithField("step", last.Step).Warn("interrupted: checkpoint written")
	case errors.As(err, &div):
		s := div.Step
		end.Status, end.Step, end.DivergedStep, end.Divergence = runner.StatusDiverged, s, &s, div.Error()
		w.Log.WithField("step", s).Warn(div.Error())
	case err != nil:
		return End{}, err
	default:
		end.Status = runner.StatusOK
	}
	end.Rows, end.WallSeconds = rows, wall()
	return end, nil
}
