package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/internal/atomicfile"
)

// Sweep is what an experiment gives the runner: its points, how to
// compute one, the columns of its metric rows and its plots. The runner
// owns everything else: the output directory and config.json, the worker
// pool, skipping finished points and resuming checkpointed ones, the
// per-point files, assembling metrics.csv and summary.json in point order,
// progress and logging. HeadSweep's points are GD runs (GDPoint); the
// other experiments supply their own PointFunc.
type Sweep struct {
	Experiment string // recorded in config.json and summary.json
	// Header is the first line of every metrics.csv of the run (without
	// newline). Experiments other than headsweep start it with "label".
	Header string
	Points []Point
	Run    PointFunc
	// Unfinished is the outcome recorded for a point that did not finish
	// (not started, or stopped by a signal in an earlier run). nil records
	// {"index", "label", "status": "pending"}.
	Unfinished func(out string, pt Point) Outcome
	Plots      PlotFunc // nil: no plots
}

// PointFunc computes one point. It reads the point and its config from w,
// may write its own files under w.Dir or elsewhere in w.Out (parameters,
// checkpoints through w.SaveCheckpoint), reports progress through w.Step,
// and returns the point's metric rows and summary record; the runner writes
// those. When ctx is cancelled it should checkpoint if it can and return an
// outcome with status StatusInterrupted (or just the error ctx.Err()).
type PointFunc func(ctx context.Context, w *Work) (Outcome, error)

// Outcome is what a point produced.
type Outcome struct {
	// Status is StatusOK, StatusDiverged (some measurement hit divergence;
	// the run exits 3) or StatusInterrupted (nothing is written: the next
	// run computes the point again, from its checkpoint if it wrote one).
	Status string
	// Rows are the point's lines of metrics.csv in the columns of
	// Sweep.Header, without newlines.
	Rows []string
	// Record is the point's entry of summary.json and its result.json: a
	// struct that encodes to a JSON object with at least "index", "label"
	// and "status" (equal to Status).
	Record any
}

// Record is one point of a run as written: its status, result.json and
// metric rows.
type Record struct {
	Index  int
	Label  string
	Status string
	JSON   json.RawMessage // result.json (indented)
	Rows   []string        // metrics.csv lines without the header
}

// Decode decodes the point's result.json into v (a pointer to the
// experiment's record type), rejecting unknown fields.
func (r Record) Decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(r.JSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("point %s: %w", r.Label, err)
	}
	return nil
}

// Work is a running point's view of the run.
type Work struct {
	Point  Point
	Config Config // the point's config, resolved
	Out    string // the result directory
	Dir    string // points/<label>/, created
	Log    *logrus.Entry
	e      *env
	start  time.Time
}

// Data generates the training and test sets of a mixture config, once per
// run however many points ask for it.
func (w *Work) Data(c datasets.MixtureConfig) (train, test *datasets.Dataset, err error) {
	return w.e.dataFor(c)
}

// Step reports that the point reached step k of its w.Config.Steps work
// units (GD steps for a GD point); progress counts Point.Cost per call
// with k > 0.
func (w *Work) Step(k int) { w.e.step(w.Point, k, false) }

// Elapsed is the time since the point started in this process.
func (w *Work) Elapsed() time.Duration { return time.Since(w.start) }

// CheckpointPath is points/<label>/checkpoint.json. The runner removes it
// once the point's result is written.
func (w *Work) CheckpointPath() string { return filepath.Join(w.Dir, "checkpoint.json") }

// SaveCheckpoint writes v as the point's checkpoint, atomically.
func (w *Work) SaveCheckpoint(v any) error { return writeJSON(w.CheckpointPath(), v) }

// LoadCheckpoint decodes the point's checkpoint into v and reports whether
// there was one.
func (w *Work) LoadCheckpoint(v any) (bool, error) {
	err := readJSON(w.CheckpointPath(), v)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// Run runs every point of a sweep in cfg.Out on cfg.Workers goroutines,
// skipping points a previous run finished and resuming the others, then
// writes metrics.csv, summary.json and the plots. Errors the user can fix
// (bad config, refused or unwritable directory) are *InputError; a
// cancelled context gives ErrInterrupted together with the partial Result.
// Result.Records holds every point; Result.Points is left empty (RunSweep
// fills it for GD points).
func Run(cfg Config, s Sweep, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	cfg = cfg.Resolve()
	ctx := opt.Context
	if ctx == nil {
		ctx = context.Background()
	}
	log := opt.Log
	if log == nil {
		log = logrus.New()
		log.SetOutput(discard{})
	}
	if opt.Merge {
		return merge(cfg, s, log)
	}
	sharded := opt.Shard.Count > 0
	if sharded && opt.Force {
		return nil, &InputError{Err: fmt.Errorf("-force with -shard %s: a shard would delete the other shards' files; clear %s with a run without -shard, or use another -out", opt.Shard, cfg.Out)}
	}
	if err := prepareOut(s.Experiment, cfg, opt.Force, sharded, log); err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, log: log, progress: opt.Progress, data: map[string]*dataPair{}, start: time.Now()}
	train, test, err := e.dataFor(cfg.Data)
	if err != nil {
		return nil, err
	}
	if err := datasets.Save(filepath.Join(cfg.Out, "data"), train, test, &cfg.Data); err != nil {
		return nil, err
	}

	points := s.Points
	records := make([]*Record, len(points))
	var todo []int
	finished := 0
	for i, pt := range points {
		if !opt.Shard.Has(i) {
			continue
		}
		if sharded {
			removePointTemps(cfg.Out, pt.Label)
		}
		if r, err := readRecord(cfg.Out, s.Header, pt); err == nil {
			// A kill between result.json and the checkpoint's removal
			// leaves a stale checkpoint.
			os.Remove(filepath.Join(pointDir(cfg.Out, pt.Label), "checkpoint.json"))
			records[i] = r
			finished++
			continue
		}
		todo = append(todo, i)
		e.prog.Total += pt.Cost * float64(pt.Config.Steps)
	}
	e.prog.Points = len(todo)
	// Largest first, so that the longest point does not start last.
	slices.SortStableFunc(todo, func(a, b int) int {
		switch {
		case points[a].Cost > points[b].Cost:
			return -1
		case points[a].Cost < points[b].Cost:
			return 1
		}
		return 0
	})
	if finished > 0 {
		log.WithField("finished", finished).Info("resuming: finished points are kept")
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range min(cfg.Workers, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				r, err := e.runPoint(runCtx, s, points[i])
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("point %s: %w", points[i].Label, err)
					cancel()
				}
				records[i] = r
				mu.Unlock()
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case queue <- i:
		case <-runCtx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}

	var res *Result
	if sharded {
		res, err = shardResult(cfg, s, records, opt.Shard)
	} else {
		res, err = finish(cfg, s, records, true)
	}
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return res, ErrInterrupted
	}
	return res, nil
}

// finish makes the Result of a run from the points' records (nil: not
// finished) and, if write, writes metrics.csv, summary.json and the plots.
func finish(cfg Config, s Sweep, records []*Record, write bool) (*Result, error) {
	res := &Result{Experiment: s.Experiment, Dir: cfg.Out, Config: cfg}
	var err error
	res.Records, res.Status, err = assemble(s, cfg.Out, records, write)
	if err != nil {
		return nil, err
	}
	res.Summary.Experiment = s.Experiment
	if s.Experiment == HeadSweepName || s.Header == MetricsHeader {
		if err := res.decodeGD(); err != nil {
			return nil, err
		}
	}
	if write && s.Plots != nil {
		if err := writePlots(cfg.Out, res, s.Plots); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// runPoint computes one point and, unless it was interrupted, writes its
// metrics.csv and then result.json, the commit point: a point with a
// result.json is finished.
func (e *env) runPoint(ctx context.Context, s Sweep, pt Point) (*Record, error) {
	dir := pointDir(e.cfg.Out, pt.Label)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w := &Work{Point: pt, Config: pt.Config.Resolve(), Out: e.cfg.Out, Dir: dir,
		Log: e.log.WithField("point", pt.Label), e: e, start: time.Now()}
	o, err := s.Run(ctx, w)
	if err == nil && o.Record == nil {
		err = errors.New("point function returned no record")
	}
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			// Not started or stopped without a record: the next run
			// computes it again.
			return nil, nil
		}
		return nil, err
	}
	r, err := newRecord(pt, o)
	if err != nil {
		return nil, err
	}
	if o.Status == StatusInterrupted {
		return r, nil
	}
	if err := writeLines(filepath.Join(dir, "metrics.csv"), s.Header, o.Rows); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "result.json"), append(slices.Clone(r.JSON), '\n')); err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(dir, "checkpoint.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	e.step(pt, 0, true)
	e.log.WithFields(logrus.Fields{"point": pt.Label, "status": o.Status,
		"seconds": fmt.Sprintf("%.1f", w.Elapsed().Seconds())}).Info("point done")
	return r, nil
}

func newRecord(pt Point, o Outcome) (*Record, error) {
	b, err := json.MarshalIndent(o.Record, "", "  ")
	if err != nil {
		return nil, err
	}
	return &Record{Index: pt.Index, Label: pt.Label, Status: o.Status, JSON: b, Rows: o.Rows}, nil
}

// readRecord reads a finished point's result.json and metrics.csv.
func readRecord(out, header string, pt Point) (*Record, error) {
	dir := pointDir(out, pt.Label)
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		return nil, err
	}
	var head struct {
		Label  string `json:"label"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, err
	}
	if head.Label != pt.Label || head.Status == "" {
		return nil, fmt.Errorf("%s: not the result of point %s", dir, pt.Label)
	}
	rows, err := readLines(filepath.Join(dir, "metrics.csv"), header)
	if err != nil {
		return nil, err
	}
	return &Record{Index: pt.Index, Label: pt.Label, Status: head.Status, JSON: bytes.TrimSpace(b), Rows: rows}, nil
}

// assemble writes metrics.csv and summary.json from the points' records,
// in point order, and returns the records and the run's status. A nil
// record is a point that did not finish this run. Unless write, it only
// returns them.
func assemble(s Sweep, out string, records []*Record, write bool) ([]Record, string, error) {
	status := StatusOK
	all := make([]Record, len(s.Points))
	var lines []string
	raws := make([]json.RawMessage, len(s.Points))
	for i, pt := range s.Points {
		r := records[i]
		if r == nil {
			o := Outcome{Status: StatusPending, Record: pendingRecord{Index: pt.Index, Label: pt.Label, Status: StatusPending}}
			if s.Unfinished != nil {
				o = s.Unfinished(out, pt)
			}
			var err error
			if r, err = newRecord(pt, o); err != nil {
				return nil, "", err
			}
		}
		switch r.Status {
		case StatusInterrupted, StatusPending:
			status = StatusInterrupted
		case StatusDiverged:
			if status == StatusOK {
				status = StatusDiverged
			}
		}
		all[i], raws[i] = *r, r.JSON
		lines = append(lines, r.Rows...)
	}
	if !write {
		return all, status, nil
	}
	if err := writeLines(filepath.Join(out, "metrics.csv"), s.Header, lines); err != nil {
		return nil, "", err
	}
	if len(raws) == 0 {
		raws = nil
	}
	return all, status, writeJSON(filepath.Join(out, "summary.json"), rawSummary{Experiment: s.Experiment, Status: status, Points: raws})
}

// pendingRecord is the default record of a point that did not finish.
type pendingRecord struct {
	Index  int    `json:"index"`
	Label  string `json:"label"`
	Status string `json:"status"`
}

// rawSummary is summary.json with each point's record as written.
type rawSummary struct {
	Experiment string            `json:"experiment"`
	Status     string            `json:"status"`
	Points     []json.RawMessage `json:"points"`
}

func writeLines(path, header string, lines []string) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, header+"\n"); err != nil {
			return err
		}
		for _, l := range lines {
			if _, err := io.WriteString(w, l+"\n"); err != nil {
				return err
			}
		}
		return nil
	})
}

// readLines reads a metrics.csv with the given header and returns its rows.
func readLines(path, header string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) == 0 || lines[0] != header {
		return nil, fmt.Errorf("%s: header is not %q", path, header)
	}
	var rows []string
	for _, l := range lines[1:] {
		if l != "" {
			rows = append(rows, l)
		}
	}
	return rows, nil
}

// decodeGD fills Summary.Points from the records of GD points.
func (r *Result) decodeGD() error {
	r.Points = make([]PointResult, len(r.Records))
	for i, rec := range r.Records {
		if err := rec.Decode(&r.Points[i]); err != nil {
			return err
		}
		r.Points[i].Rows = parseLines(rec.Rows)
	}
	if len(r.Points) == 0 {
		r.Points = nil
	}
	return nil
}
