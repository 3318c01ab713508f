package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/mhattn/mha/internal/atomicfile"
)

var numCPU = runtime.NumCPU

// RunFile is config.json: the experiment, the program that ran it and the
// run's config with its sweep.
type RunFile struct {
	Experiment string          `json:"experiment"`
	Program    Program         `json:"program"`
	Config     json.RawMessage `json:"config"`
}

// prepareOut makes sure the output directory can take this run, before any
// result file is written: it creates the directory, checks it is
// writable, refuses a directory that holds another experiment's run
// (unless force) or files that this program did not write, and writes
// config.json. A directory holding a run of this experiment with another
// config is taken: points are kept by identity, and the log says what
// changed. The caller holds the directory lock (lockDir); shards of one
// run call it concurrently and write the same config.json, and a sharded
// run removes no temporary files here.
func prepareOut(experiment string, cfg Config, force, sharded bool, log *logrus.Logger) error {
	out := cfg.RunSettings().Out
	if err := checkWritable(out); err != nil {
		return &InputError{Err: err}
	}
	path := filepath.Join(out, "config.json")
	var old RunFile
	err := readRunFile(path, &old)
	if err == nil && old.Experiment == "" {
		err = errors.New("it is not the config.json of a run of this program")
	}
	switch {
	case err == nil && force:
		log.WithField("out", out).Warn("-force: deleting the earlier run")
		if err := removeRun(out); err != nil {
			return err
		}
	case err == nil:
		if old.Experiment != experiment {
			return &InputError{Err: fmt.Errorf("output directory %s holds a run of experiment %q, not %q; use another -out, or -force to delete that run",
				out, old.Experiment, experiment)}
		}
		if diff := configDiff(old.Config, mustJSON(cfg)); len(diff) > 0 {
			log.WithFields(logrus.Fields{"out": out, "changes": strings.Join(diff, "; ")}).
				Info("the directory holds a run with another config: points whose identity is unchanged are kept, the others computed")
		}
	case errors.Is(err, os.ErrNotExist):
		if err := checkForeign(out, force); err != nil {
			return err
		}
		// Empty, or only files this program recorded (a run that lost
		// its config.json): points are kept by identity.
	default:
		if !force {
			if _, ok := mustManifest(out).Files["config.json"]; !ok {
				return &InputError{Err: fmt.Errorf("output directory %s: its config.json is not a run's (%v) and this program did not write it; use another -out", out, err)}
			}
			return &InputError{Err: fmt.Errorf("output directory %s: cannot read its config.json (%v); use -force to delete that run and start over", out, err)}
		}
		if err := removeRun(out); err != nil {
			return err
		}
	}
	if !sharded {
		if err := removeStaleTemps(out); err != nil {
			return err
		}
	}
	if err := WriteJSON(path, RunFile{Experiment: experiment, Program: ProgramVersion(), Config: mustJSON(cfg)}); err != nil {
		return err
	}
	return recordFiles(out, "config.json")
}

// checkForeign refuses a directory without a run's config.json that
// holds files this program did not write; the runner calls it before it
// takes the directory's lock, so that it leaves no lock file in a
// directory it refuses.
func checkForeign(out string, force bool) error {
	var old RunFile
	if err := readRunFile(filepath.Join(out, "config.json"), &old); err == nil && old.Experiment != "" {
		return nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		if _, ok := mustManifest(out).Files["config.json"]; ok {
			return nil // ours but damaged: prepareOut says what to do
		}
	}
	if st, err := os.Stat(out); err != nil || !st.IsDir() {
		return nil // checkWritable says why
	}
	foreign, err := foreignFiles(out)
	if err != nil {
		return &InputError{Err: err}
	}
	if len(foreign) == 0 {
		return nil
	}
	more := ""
	if len(foreign) > 5 {
		more = fmt.Sprintf(" and %d more", len(foreign)-5)
		foreign = foreign[:5]
	}
	if force {
		return &InputError{Err: fmt.Errorf("output directory %s holds files this program did not write: %s%s; -force deletes only files this program wrote, so nothing was deleted. Move them away, or use another -out",
			out, strings.Join(foreign, ", "), more)}
	}
	return &InputError{Err: fmt.Errorf("output directory %s is not a run directory: it holds files this program did not write (%s%s) and no config.json of a run; use an empty or new -out",
		out, strings.Join(foreign, ", "), more)}
}

func mustManifest(out string) Manifest {
	m, _ := readManifest(out)
	return m
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// removeStaleTemps deletes the temporary files of atomic writes that a
// killed process left behind (".<name>.tmp-*").
func removeStaleTemps(out string) error {
	return filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == holdersName {
			return filepath.SkipDir
		}
		if !d.IsDir() && isTemp(d.Name()) {
			return os.Remove(path)
		}
		return nil
	})
}

const probeName = ".write-probe"

// isTemp reports whether name is a temporary file of atomicfile.
func isTemp(name string) bool { return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") }

// checkWritable creates dir (and missing parents) and writes and removes
// a unique probe file in it.
func checkWritable(dir string) error {
	if st, err := os.Lstat(dir); err == nil && st.Mode()&os.ModeSymlink != 0 {
		if _, err := os.Stat(dir); err != nil {
			target, _ := os.Readlink(dir)
			return fmt.Errorf("output directory %s is a symbolic link to %s, which does not exist (%v); create the target or use another -out", dir, target, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create output directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, probeName+"-*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	probe := f.Name()
	_, err = f.WriteString("probe\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(probe)
		return fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	if err := os.Remove(probe); err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	return nil
}

func readRunFile(path string, rf *RunFile) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.NewDecoder(bytes.NewReader(b)).Decode(rf)
}

// configDiff lists the keys whose values differ between two configs
// (JSON), ignoring the runner's settings but the sweep.
func configDiff(a, b json.RawMessage) []string {
	fa, fb := flatten(a), flatten(b)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var diff []string
	for k := range keys {
		if k == "out" || k == "workers" || k == "threads" || k == "checkpoint_every" || k == "max_memory" {
			continue
		}
		if fa[k] != fb[k] {
			diff = append(diff, fmt.Sprintf("%s: %s there, %s here", k, orNone(fa[k]), orNone(fb[k])))
		}
	}
	sort.Strings(diff)
	return diff
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func flatten(js []byte) map[string]string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	m := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if obj, ok := v.(map[string]any); ok && prefix != "sweep" {
			for k, x := range obj {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
			return
		}
		b, _ := json.Marshal(v)
		m[prefix] = string(b)
	}
	walk("", v)
	return m
}

// PlotFunc draws a sweep's plots.
type PlotFunc func(res *Result) ([]NamedPlot, error)

// NamedPlot is one plot of plots/: its file name without extension and
// the functions that render it as PNG and (if not nil) as SVG.
type NamedPlot struct {
	Name   string
	Render func(w io.Writer) error
	SVG    func(w io.Writer) error
}

func writePlots(out string, res *Result, plots PlotFunc) error {
	ps, err := plots(res)
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	dir := filepath.Join(out, "plots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	removeTempsIn(dir)
	for _, p := range ps {
		if err := atomicfile.Write(filepath.Join(dir, p.Name+".png"), p.Render); err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		if p.SVG != nil {
			if err := atomicfile.Write(filepath.Join(dir, p.Name+".svg"), p.SVG); err != nil {
				return fmt.Errorf("plots: %w", err)
			}
		}
	}
	return nil
}
