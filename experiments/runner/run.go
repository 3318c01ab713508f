package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/mhattn/mha/internal/atomicfile"
	"github.com/mhattn/mha/layers/ops"
)

// Experiment is everything the runner needs of an experiment, as values:
// its name, defaults, how to compute one point, the columns of its metric
// rows, and its table and plots. The runner owns the rest.
type Experiment struct {
	// Name is recorded in config.json and summary.json and names the
	// program in messages and SLURM scripts.
	Name string
	// Doc is a line or two for -help.
	Doc string
	// Defaults returns a new default config (a pointer); its sweep is the
	// default grid. A -set of a default axis's key removes that axis.
	Defaults func() Config
	// Columns are the columns of the point's rows, after the runner's
	// label and one column per swept key.
	Columns []string
	// Point computes one point.
	Point PointFunc
	// Units is the number of progress units of a point (e.g. its GD
	// steps); nil: 1.
	Units func(Config) int
	// Cost is a point's relative compute cost, to start the dearest
	// first; nil: equal.
	Cost func(Config) float64
	// Unfinished is the record of a point that did not finish, given its
	// directory (points/<dir>, which may hold a checkpoint); nil records
	// status "pending" and no result.
	Unfinished func(dir string, pt Point) Outcome
	// Table prints the summary of a result (nil: label and status per
	// point); Plots draws plots/*.png (nil: none).
	Table func(w io.Writer, res *Result) error
	Plots PlotFunc
	// Flags are shorthands for -set or -sweep, e.g. -steps for -set steps.
	Flags []Flag
	// Memory estimates a point's peak memory; a run whose points would
	// not fit (the workers largest at once) in the available memory or
	// max_memory is refused before anything is written. nil: no check.
	Memory MemoryFunc
}

// Flag is a command-line shorthand: -Name v is -set Key=v, or with Sweep
// -sweep Key=v.
type Flag struct {
	Name, Key, Usage string
	Sweep            bool
}

// PointFunc computes one point. It reads the point and its config from w,
// may write its own files under w.Dir and w.ParamsDir, checkpoints
// through w.SaveCheckpoint, reports progress through w.Step and returns
// the point's metric rows and record. When ctx is cancelled it should
// checkpoint if it can and return status StatusInterrupted (or ctx.Err()).
type PointFunc func(ctx context.Context, w *Work) (Outcome, error)

// Point statuses.
const (
	StatusOK          = "ok"
	StatusDiverged    = "diverged"
	StatusInterrupted = "interrupted" // stopped by a signal after a checkpoint; the next run resumes it
	StatusPending     = "pending"     // not started when the run stopped
)

// Outcome is what a point produced.
type Outcome struct {
	// Status is StatusOK, StatusDiverged (the run exits 3) or
	// StatusInterrupted (nothing is written: the next run computes the
	// point again, from its checkpoint if it wrote one).
	Status string
	// Rows are the point's metric rows in Experiment.Columns, without
	// newlines; the runner prepends the label and the swept values.
	Rows []string
	// Record is the point's result.json and its "result" in summary.json:
	// a value that encodes to a JSON object with a "status" field equal to
	// Status. It should not repeat the point's label or index, which
	// belong to the grid, not to the point.
	Record any
}

// Record is one point of a run as written.
type Record struct {
	Index  int
	Label  string
	Dir    string  // points/<Dir>, params/<Dir>
	Values []Value // the swept values
	Status string
	JSON   json.RawMessage // the experiment's record (indented)
	Rows   []string        // the experiment's rows, without label and swept values
}

// Decode decodes the record into v (a pointer to the experiment's record
// type), rejecting unknown fields.
func (r Record) Decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(r.JSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("point %s: %w", r.Label, err)
	}
	return nil
}

// Value returns the point's value of a swept key.
func (r Record) Value(key string) (Value, bool) {
	for _, v := range r.Values {
		if v.Key == key {
			return v, true
		}
	}
	return Value{}, false
}

// Finished reports whether the point finished (ok or diverged).
func (r Record) Finished() bool { return r.Status == StatusOK || r.Status == StatusDiverged }

// Work is a running point's view of the run.
type Work struct {
	Point  Point
	Config Config // the point's config, resolved
	Out    string // the result directory
	Dir    string // points/<dir>/, created
	Log    *logrus.Entry
	e      *env
	start  time.Time
}

// ParamsDir is params/<point dir>/<stage>, for the point's parameters.
func (w *Work) ParamsDir(stage string) string {
	return filepath.Join(w.Out, "params", w.Point.Dir, stage)
}

// Shared returns the value of key for the whole run, computing it with
// f once however many points ask (e.g. a dataset several points train on).
func (w *Work) Shared(key string, f func() (any, error)) (any, error) { return w.e.shared(key, f) }

// Step reports that the point reached unit k of its Experiment.Units.
func (w *Work) Step(k int) { w.e.step(w.Point, k, false) }

// Elapsed is the time since the point started in this process.
func (w *Work) Elapsed() time.Duration { return time.Since(w.start) }

// CheckpointPath is points/<dir>/checkpoint.json. The runner removes it
// once the point's result is written.
func (w *Work) CheckpointPath() string { return filepath.Join(w.Dir, "checkpoint.json") }

// SaveCheckpoint writes v as the point's checkpoint, atomically, with the
// SHA-256 of its encoding.
func (w *Work) SaveCheckpoint(v any) error { return writeCheckpoint(w.CheckpointPath(), v) }

// LoadCheckpoint decodes the point's checkpoint into v and reports whether
// there was one. A damaged checkpoint (cut, edited, not matching its
// checksum or v's type) does not stop the point: it is logged, deleted,
// and the point starts from scratch (ok false).
func (w *Work) LoadCheckpoint(v any) (bool, error) {
	err := ReadCheckpoint(w.CheckpointPath(), v)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		w.Log.WithField("checkpoint", w.CheckpointPath()).WithError(err).
			Warn("the checkpoint is damaged: deleting it and computing the point from the start")
		if rerr := os.Remove(w.CheckpointPath()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return false, rerr
		}
		return false, nil
	}
	return true, nil
}

// checkpointEnvelope is checkpoint.json: the checkpoint and the SHA-256
// of its JSON encoding.
type checkpointEnvelope struct {
	SHA256     string          `json:"sha256"`
	Checkpoint json.RawMessage `json:"checkpoint"`
}

func writeCheckpoint(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := sha256.Sum256(b)
	e, err := json.Marshal(checkpointEnvelope{SHA256: hex.EncodeToString(h[:]), Checkpoint: b})
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(e, '\n'))
}

// readCheckpointLenient is ReadCheckpoint allowing fields v lacks.
func readCheckpointLenient(path string, v any) error {
	var raw json.RawMessage
	if err := ReadCheckpoint(path, &raw); err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// ReadCheckpoint decodes a checkpoint written by Work.SaveCheckpoint into
// v after checking its checksum; unknown fields are errors.
func ReadCheckpoint(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var e checkpointEnvelope
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	h := sha256.Sum256(e.Checkpoint)
	if e.SHA256 != hex.EncodeToString(h[:]) {
		return fmt.Errorf("%s: does not match its recorded SHA-256", path)
	}
	dec := json.NewDecoder(bytes.NewReader(e.Checkpoint))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Options are the settings of a run that do not change its results.
type Options struct {
	// Context stops the run when cancelled: running points write a
	// checkpoint and the run returns ErrInterrupted. nil: never.
	Context context.Context
	// Log receives progress and events; nil discards them.
	Log *logrus.Logger
	// Progress, if not nil, is called after every unit of every point
	// (from the worker goroutines, serialized).
	Progress func(Progress)
	// Force deletes the files of an earlier run in the directory first.
	// Not with Shard.
	Force bool
	// Shard, if Count > 0, runs only the shard's points (point i when
	// i mod Count = Index) and writes only their files.
	Shard Shard
	// Merge runs no point: it checks that every point finished (else an
	// *InputError wrapping *IncompleteError names those that did not) and
	// writes metrics.csv, summary.json and the plots.
	Merge bool
	// AllowLargeGrid lets a grid have more than MaxPoints points.
	AllowLargeGrid bool
}

// ErrInterrupted is returned by a run whose Context was cancelled; every
// running point wrote a checkpoint, and running the same config again
// resumes it.
var ErrInterrupted = errors.New("interrupted")

// InputError is an error the user can fix without touching code: a bad
// config or flag, or an output directory that is refused or not writable.
// Nothing has been written when a run returns one.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Result is a finished (or stopped) sweep, as written to its directory.
type Result struct {
	Experiment string
	Dir        string
	Config     Config   // the run's config with its sweep, resolved settings
	Axes       []string // the swept keys, in order
	// Status is "ok", "diverged" (some points diverged, the others
	// finished) or "interrupted".
	Status  string
	Records []Record // every point, in grid order
	// Shard is the shard this result covers; zero for a whole run or a
	// merge.
	Shard Shard
}

// Diverged counts the points with status "diverged".
func (r *Result) Diverged() int {
	n := 0
	for _, p := range r.Records {
		if p.Status == StatusDiverged {
			n++
		}
	}
	return n
}

// Run runs every point of cfg's grid in its Out on Workers goroutines,
// skipping points an earlier run finished (same identity) and resuming
// the others, then writes metrics.csv, summary.json and the plots. Errors
// the user can fix are *InputError; a cancelled context gives
// ErrInterrupted together with the partial Result.
func Run(e Experiment, cfg Config, opt Options) (*Result, error) {
	// The base config is not resolved: a "0 selects" field is resolved
	// per point, after the point's values are set.
	cfg = Clone(cfg)
	points, err := Grid(e.Name, cfg, opt.AllowLargeGrid, e.Cost)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	s := cfg.RunSettings()
	if s.Workers == 0 {
		s.Workers = numCPU()
	}
	ctx := opt.Context
	if ctx == nil {
		ctx = context.Background()
	}
	log := opt.Log
	if log == nil {
		log = logrus.New()
		log.SetOutput(io.Discard)
	}
	if opt.Merge {
		return merge(ctx, e, cfg, points, log)
	}
	sharded := opt.Shard.Count > 0
	if sharded && opt.Force {
		return nil, &InputError{Err: fmt.Errorf("-force with -shard %s: a shard would delete the other shards' files; clear %s with a run without -shard, or use another -out", opt.Shard, s.Out)}
	}
	if err := checkForeign(s.Out, opt.Force); err != nil {
		return nil, err
	}
	if err := checkMemory(e, cfg, points, s.Workers); err != nil {
		return nil, &InputError{Err: err}
	}
	if err := checkWritable(s.Out); err != nil {
		return nil, &InputError{Err: err}
	}
	mode := modeRun
	if sharded {
		mode = modeShard
	}
	lock, err := lockDir(ctx, s.Out, e.Name, cfg, mode, opt.Shard, log)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	if err := prepareOut(e.Name, cfg, opt.Force, sharded, log); err != nil {
		return nil, err
	}
	env := &env{out: s.Out, log: log, progress: opt.Progress, cache: map[string]*cached{}, start: time.Now(), units: e.Units}
	records := make([]*Record, len(points))
	var todo []int
	finished := 0
	for i, pt := range points {
		if !opt.Shard.Has(i) {
			continue
		}
		r, err := readRecord(s.Out, e, pt)
		var dmg *DamagedError
		if errors.As(err, &dmg) {
			log.WithFields(logrus.Fields{"point": pt.Label, "file": dmg.File}).
				Warn("finished point is damaged (" + dmg.Error() + "): it is not used and is computed again")
		}
		if err == nil {
			// A kill between result.json and the checkpoint's removal
			// leaves a stale checkpoint.
			os.Remove(filepath.Join(pointDir(s.Out, pt.Dir), "checkpoint.json"))
			records[i] = r
			finished++
			continue
		}
		todo = append(todo, i)
		env.prog.Total += pt.Cost * float64(env.unitsOf(pt))
	}
	env.prog.Points = len(todo)
	if !sharded {
		logStale(s.Out, points, log)
	}
	// Dearest first, so that the longest point does not start last.
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
	workers := min(s.Workers, max(len(todo), 1))
	// Cores are shared: workers x intra-step threads <= cores (issue 18),
	// unless the threads setting says otherwise. Results do not depend on
	// the thread count.
	defer ops.SetThreads(ops.Threads())
	threads := max(1, numCPU()/workers)
	if s.Threads > 0 {
		threads = s.Threads
	}
	ops.SetThreads(threads)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				r, err := env.runPoint(runCtx, e, points[i])
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
		res, err = shardResult(e, cfg, points, records, opt.Shard)
	} else {
		res, err = finish(e, cfg, points, records, true)
	}
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return res, ErrInterrupted
	}
	return res, nil
}

// logStale lists the point directories that belong to no point of this
// grid: points of an earlier grid, or whose identity changed (config or
// code). They are kept, and left out of metrics.csv and summary.json.
func logStale(out string, points []Point, log *logrus.Logger) {
	entries, err := os.ReadDir(filepath.Join(out, "points"))
	if err != nil {
		return
	}
	cur := map[string]bool{}
	for _, p := range points {
		cur[p.Dir] = true
	}
	var stale []string
	for _, en := range entries {
		if en.IsDir() && !cur[en.Name()] {
			stale = append(stale, en.Name())
		}
	}
	if len(stale) > 0 {
		log.WithFields(logrus.Fields{"count": len(stale), "points": strings.Join(stale, " ")}).
			Warn("points/ holds points that are not in this grid (an earlier grid, or a changed config or code); they are kept but left out of metrics.csv and summary.json")
	}
}

// Header is the first line of metrics.csv: label, the swept keys, then
// the experiment's columns.
func Header(e Experiment, axes []string) string {
	return strings.Join(append(append([]string{"label"}, axes...), e.Columns...), ",")
}

// finish makes the Result of a run from the points' records (nil: not
// finished) and, if write, writes metrics.csv, summary.json and the plots.
func finish(e Experiment, cfg Config, points []Point, records []*Record, write bool) (*Result, error) {
	res := &Result{Experiment: e.Name, Dir: cfg.RunSettings().Out, Config: cfg, Axes: cfg.RunSettings().Sweep.Keys()}
	var err error
	var lines []string
	var entries []summaryEntry
	res.Records, res.Status, lines, entries, err = assemble(e, res, points, records)
	if err != nil || !write {
		return res, err
	}
	// Plots first, then metrics.csv, then summary.json: a kill in
	// between never leaves a summary.json without its plots.
	if e.Plots != nil {
		if err := writePlots(res.Dir, res, e.Plots); err != nil {
			return nil, err
		}
	}
	if err := writeLines(filepath.Join(res.Dir, "metrics.csv"), Header(e, res.Axes), lines); err != nil {
		return nil, err
	}
	if err := WriteJSON(filepath.Join(res.Dir, "summary.json"), summaryFile{Experiment: e.Name, Status: res.Status, Axes: res.Axes, Points: entries}); err != nil {
		return nil, err
	}
	rec := []string{"metrics.csv", "summary.json"}
	if e.Plots != nil {
		rec = append(rec, "plots")
	}
	if err := recordFiles(res.Dir, rec...); err != nil {
		return nil, err
	}
	return res, nil
}

// runPoint computes one point and, unless it was interrupted, writes its
// metrics.csv and then result.json, the commit point: a point with a
// result.json is finished.
func (env *env) runPoint(ctx context.Context, e Experiment, pt Point) (*Record, error) {
	dir := pointDir(env.out, pt.Dir)
	lf, ok, err := lockPoint(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		env.log.WithField("point", pt.Label).Warn("another process is computing this point: left to it")
		return nil, nil
	}
	defer lf.Close()
	removePointTemps(env.out, pt.Dir)
	switch r, err := readRecord(env.out, e, pt); {
	case err == nil:
		return r, nil // another process finished it meanwhile
	case errors.As(err, new(*DamagedError)):
		for _, f := range []string{"result.json", sumsName} {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	if err := WriteJSON(filepath.Join(dir, "config.json"), pointFile{Experiment: e.Name, Program: ProgramVersion(),
		Code: ProgramVersion().Code(), ID: pt.ID, Config: pt.Config}); err != nil {
		return nil, err
	}
	if err := recordFiles(env.out, "points/"+pt.Dir+"/config.json"); err != nil {
		return nil, err
	}
	w := &Work{Point: pt, Config: pt.Config, Out: env.out, Dir: dir,
		Log: env.log.WithField("point", pt.Label), e: env, start: time.Now()}
	o, err := e.Point(ctx, w)
	if err == nil && o.Record == nil {
		err = errors.New("point function returned no record")
	}
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
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
	if err := writeLines(filepath.Join(dir, "metrics.csv"), strings.Join(e.Columns, ","), o.Rows); err != nil {
		return nil, err
	}
	result := append(slices.Clone(r.JSON), '\n')
	if err := writePointSums(env.out, pt, result); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "result.json"), result); err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(dir, "checkpoint.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	env.step(pt, 0, true)
	env.log.WithFields(logrus.Fields{"point": pt.Label, "status": o.Status,
		"seconds": fmt.Sprintf("%.1f", w.Elapsed().Seconds())}).Info("point done")
	return r, nil
}

// pointFile is points/<dir>/config.json: the point's identity spelled out.
type pointFile struct {
	Experiment string  `json:"experiment"`
	Program    Program `json:"program"`
	Code       string  `json:"code"`
	ID         string  `json:"id"`
	Config     Config  `json:"config"`
}

func newRecord(pt Point, o Outcome) (*Record, error) {
	b, err := json.MarshalIndent(o.Record, "", "  ")
	if err != nil {
		return nil, err
	}
	return &Record{Index: pt.Index, Label: pt.Label, Dir: pt.Dir, Values: pt.Values, Status: o.Status, JSON: b, Rows: o.Rows}, nil
}

// readRecord reads a finished point's result.json and metrics.csv.
func readRecord(out string, e Experiment, pt Point) (*Record, error) {
	dir := pointDir(out, pt.Dir)
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		return nil, err
	}
	if err := verifyPoint(out, pt); err != nil {
		return nil, err
	}
	var head struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, err
	}
	if head.Status == "" {
		return nil, fmt.Errorf("%s: result.json has no status", dir)
	}
	rows, err := readLines(filepath.Join(dir, "metrics.csv"), strings.Join(e.Columns, ","))
	if err != nil {
		return nil, err
	}
	return &Record{Index: pt.Index, Label: pt.Label, Dir: pt.Dir, Values: pt.Values, Status: head.Status, JSON: bytes.TrimSpace(b), Rows: rows}, nil
}

// assemble makes the lines of metrics.csv and the entries of
// summary.json from the points' records, in point order, and returns the
// records and the run's status.
func assemble(e Experiment, res *Result, points []Point, records []*Record) ([]Record, string, []string, []summaryEntry, error) {
	status := StatusOK
	all := make([]Record, len(points))
	var lines []string
	entries := make([]summaryEntry, len(points))
	for i, pt := range points {
		r := records[i]
		if r == nil {
			o := Outcome{Status: StatusPending, Record: map[string]string{"status": StatusPending}}
			if e.Unfinished != nil {
				o = e.Unfinished(pointDir(res.Dir, pt.Dir), pt)
			}
			var err error
			if r, err = newRecord(pt, o); err != nil {
				return nil, "", nil, nil, err
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
		all[i] = *r
		entries[i] = summaryEntry{Index: r.Index, Label: r.Label, Dir: r.Dir, Point: valuesJSON(r.Values), Status: r.Status, Result: r.JSON}
		prefix := r.Label
		for _, v := range r.Values {
			prefix += "," + v.Text()
		}
		for _, row := range r.Rows {
			lines = append(lines, prefix+","+row)
		}
	}
	return all, status, lines, entries, nil
}

// summaryFile is summary.json.
type summaryFile struct {
	Experiment string         `json:"experiment"`
	Status     string         `json:"status"`
	Axes       []string       `json:"axes"`
	Points     []summaryEntry `json:"points"`
}

// summaryEntry is one point of summary.json: its place in the grid, its
// swept values and the experiment's record.
type summaryEntry struct {
	Index  int             `json:"index"`
	Label  string          `json:"label"`
	Dir    string          `json:"dir"`
	Point  json.RawMessage `json:"point"` // {"key": value, ...} in axis order
	Status string          `json:"status"`
	Result json.RawMessage `json:"result"`
}

func valuesJSON(vs []Value) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(v.Key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v.JSON)
	}
	b.WriteByte('}')
	return b.Bytes()
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

// readLines reads a CSV file with the given header and returns its rows.
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

func pointDir(out, dir string) string { return filepath.Join(out, "points", dir) }

// env is the state shared by the points of one run.
type env struct {
	out      string
	log      *logrus.Logger
	progress func(Progress)
	start    time.Time
	units    func(Config) int

	mu    sync.Mutex
	cache map[string]*cached
	prog  Progress
}

type cached struct {
	once sync.Once
	v    any
	err  error
}

func (e *env) shared(key string, f func() (any, error)) (any, error) {
	e.mu.Lock()
	c := e.cache[key]
	if c == nil {
		c = &cached{}
		e.cache[key] = c
	}
	e.mu.Unlock()
	c.once.Do(func() { c.v, c.err = f() })
	return c.v, c.err
}

func (e *env) unitsOf(pt Point) int {
	if e.units == nil {
		return 1
	}
	return e.units(pt.Config)
}

// step reports one unit of a point to the progress callback.
func (e *env) step(pt Point, k int, done bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if k > 0 {
		e.prog.Done += pt.Cost
	}
	if done {
		e.prog.PointsDone++
	}
	if e.progress == nil {
		return
	}
	p := e.prog
	p.Elapsed = time.Since(e.start)
	if f := p.Fraction(); f > 0 {
		p.Left = time.Duration(float64(p.Elapsed) * (1 - f) / f)
	}
	p.Label, p.Step, p.Steps, p.Finished = pt.Label, k, e.unitsOf(pt), done
	e.progress(p)
}
