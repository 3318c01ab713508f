package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
)

// Shard is one of Count disjoint shares of a sweep: point i (its position
// in the sweep's point list) belongs to shard i mod Count. Round robin
// rather than contiguous blocks, because sweeps list their points by
// growing cost (H = 1, 2, 4, ...), so every shard gets a cheap-to-dear mix.
// The zero Shard is no sharding: a run does every point and assembles.
type Shard struct {
	Index int // i in [0, Count)
	Count int // N >= 1; 0: not sharded
}

// maxShards bounds -shard and -slurm; a sweep has far fewer points.
const maxShards = 100_000

// Has reports whether point i belongs to the shard.
func (s Shard) Has(i int) bool { return s.Count == 0 || i%s.Count == s.Index }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ParseShard reads "i/N" with 0 <= i < N.
func ParseShard(v string) (Shard, error) {
	is, ns, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil || n < 1 || n > maxShards || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("flag -shard = %q: want i/N with N in [1, %d] and i in [0, N-1], e.g. 0/4", v, maxShards)
	}
	return Shard{Index: i, Count: n}, nil
}

// IncompleteError is returned by a merge when some points of the sweep
// have not finished; nothing was written.
type IncompleteError struct {
	Dir    string
	Points []string // labels, in point order
	// Reasons says per point what was found instead of a result.
	Reasons []string
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("merge: %d point(s) of %s are not finished: %s; run their shards again (point i belongs to shard i mod N), then merge",
		len(e.Points), e.Dir, strings.Join(e.Reasons, "; "))
}

// merge is Run with Options.Merge: it computes nothing, checks that the
// directory holds a run of this experiment whose every point of this grid
// finished, and writes metrics.csv, summary.json and the plots from the
// per-point files, as one run that finished would have.
func merge(ctx context.Context, e Experiment, cfg Config, points []Point, log *logrus.Logger) (*Result, error) {
	out := cfg.RunSettings().Out
	var rf RunFile
	if err := readRunFile(filepath.Join(out, "config.json"), &rf); err != nil {
		return nil, &InputError{Err: fmt.Errorf("merge: %s holds no run (%v); run the shards first", out, err)}
	}
	if rf.Experiment != e.Name {
		return nil, &InputError{Err: fmt.Errorf("merge: %s holds a run of experiment %q, not %q", out, rf.Experiment, e.Name)}
	}
	lock, err := lockDir(ctx, out, e.Name, cfg, modeMerge, Shard{}, log)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	records := make([]*Record, len(points))
	inc := &IncompleteError{Dir: out}
	for i, pt := range points {
		if ctx.Err() != nil {
			return nil, ErrInterrupted
		}
		r, err := readRecord(out, e, pt)
		if err == nil {
			records[i] = r
			continue
		}
		why := "not started"
		var cp struct {
			Step int `json:"step"`
		}
		var dmg *DamagedError
		dir := pointDir(out, pt.Dir)
		switch cerr := readCheckpointLenient(filepath.Join(dir, "checkpoint.json"), &cp); {
		case errors.As(err, &dmg):
			why = "damaged: " + dmg.Error() + "; it is not used"
		case pointRunning(dir):
			why = "running (its lock is held by another process)"
			if cerr == nil {
				why += fmt.Sprintf(", at step %d or later", cp.Step)
			}
		case cerr == nil:
			why = fmt.Sprintf("stopped at step %d (checkpoint)", cp.Step)
		case !errors.Is(cerr, os.ErrNotExist):
			why = "stopped (damaged checkpoint)"
		case !errors.Is(err, os.ErrNotExist):
			why = err.Error()
		}
		inc.Points = append(inc.Points, pt.Label)
		inc.Reasons = append(inc.Reasons, fmt.Sprintf("%s (point %d): %s", pt.Label, i, why))
	}
	if len(inc.Points) > 0 {
		return nil, &InputError{Err: inc}
	}
	if ctx.Err() != nil {
		return nil, ErrInterrupted
	}
	// Only the temporaries of the files a merge writes: the rest may be
	// a live shard's.
	removeMergeTemps(out)
	logStale(out, points, log)
	res, err := finish(e, cfg, points, records, true)
	if err != nil {
		return nil, err
	}
	log.WithFields(logrus.Fields{"points": len(points), "status": res.Status}).Info("merged")
	if ctx.Err() != nil {
		return res, ErrInterrupted
	}
	return res, nil
}

// removeMergeTemps removes the temporaries of metrics.csv and
// summary.json left by a killed merge (those of plots/ go in writePlots).
func removeMergeTemps(out string) {
	entries, _ := os.ReadDir(out)
	for _, en := range entries {
		n := en.Name()
		if !en.IsDir() && isTemp(n) && (strings.HasPrefix(n, ".metrics.csv.tmp-") || strings.HasPrefix(n, ".summary.json.tmp-")) {
			os.Remove(filepath.Join(out, n))
		}
	}
}

// shardResult is the Result of a shard: its own points only, and nothing
// written.
func shardResult(e Experiment, cfg Config, points []Point, records []*Record, shard Shard) (*Result, error) {
	var own []Point
	var rs []*Record
	for i, pt := range points {
		if shard.Has(i) {
			own = append(own, pt)
			rs = append(rs, records[i])
		}
	}
	res, err := finish(e, cfg, own, rs, false)
	if res != nil {
		res.Shard = shard
	}
	return res, err
}

// removeTempsIn deletes the temporary files of atomic writes directly in
// dir (not below it).
func removeTempsIn(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() && isTemp(e.Name()) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// removePointTemps is a shard's cleanup of stale temporary files: only
// under points/<label> and params/<label> of its own points, which no
// other process writes while it runs.
func removePointTemps(out, dir string) {
	for _, dir := range []string{pointDir(out, dir), filepath.Join(out, "params", dir)} {
		if _, err := os.Stat(dir); err == nil {
			removeStaleTemps(dir)
		}
	}
}
