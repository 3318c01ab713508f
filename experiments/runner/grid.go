package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mhattn/mha/internal/kernel"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Overrides are what a command line puts over a config: -set key=value
// and -sweep key=v1,v2, in order.
type Overrides struct {
	Sets   []Set
	Sweeps []Axis
}

// Apply returns cfg with the overrides: each -set replaces one value; the
// axes of -sweep replace those of their keys and come after the others, in
// their order. fixed lists the axes of
// cfg that a -set of their key removes (the experiment's default axes:
// setting heads=4 runs H = 4 only); a -set of any other swept key, or of
// a key also given to -sweep, is an error. So is a key set or swept twice,
// an unknown key (named with the nearest valid ones) and a value of the
// wrong type.
func Apply(cfg Config, fixed []string, o Overrides) (Config, error) {
	c := Clone(cfg)
	m := toMap(c)
	swept := map[string]bool{}
	for _, a := range o.Sweeps {
		if err := checkKey("-sweep", a.Key, m, true); err != nil {
			return nil, err
		}
		if swept[a.Key] {
			return nil, fmt.Errorf("-sweep %s is given twice; give all its values in one -sweep", a.Key)
		}
		swept[a.Key] = true
	}
	set := map[string]bool{}
	for _, s := range o.Sets {
		if err := checkKey("-set", s.Key, m, false); err != nil {
			return nil, err
		}
		if set[s.Key] {
			return nil, fmt.Errorf("-set %s is given twice", s.Key)
		}
		set[s.Key] = true
		if swept[s.Key] {
			return nil, fmt.Errorf("%s is both set (-set) and swept (-sweep): give one of them", s.Key)
		}
		sw := c.RunSettings().Sweep
		if i := sw.index(s.Key); i >= 0 {
			if !slices.Contains(fixed, s.Key) {
				return nil, fmt.Errorf("%s is both set (-set) and swept (the config file's sweep): give one of them", s.Key)
			}
			c.RunSettings().Sweep = slices.Delete(slices.Clone(sw), i, i+1)
		}
		var err error
		if c, err = withValue(c, "-set", s.Key, s.Value); err != nil {
			return nil, err
		}
	}
	// The axes of -sweep replace those of their keys and come last, in
	// command-line order.
	s := c.RunSettings()
	s.Sweep = slices.DeleteFunc(slices.Clone(s.Sweep), func(a Axis) bool { return swept[a.Key] })
	s.Sweep = append(s.Sweep, o.Sweeps...)
	return c, nil
}

// Point is one point of a sweep's grid.
type Point struct {
	Index int    // position in the grid
	Label string // the swept values, e.g. "zeta0.125-heads2"; "base" without axes
	// Values are the point's value per axis, in axis order.
	Values []Value
	// ID is the point's identity: a hash of its resolved config, the
	// experiment and the code version. Dir is points/<Dir> and
	// params/<Dir>: the label and the start of the ID.
	ID  string
	Dir string
	// Cost is the relative compute cost (Experiment.Cost), used only to
	// start the dearest points first.
	Cost float64
	// Config is the point's own config, resolved, without a sweep.
	Config Config
}

// Value is the value of one axis at a point.
type Value struct {
	Key  string          `json:"key"`
	JSON json.RawMessage `json:"value"` // canonical JSON
}

// Text is the value as written in metrics.csv and labels: a string
// without quotes, anything else as JSON.
func (v Value) Text() string {
	var s string
	if json.Unmarshal(v.JSON, &s) == nil {
		return strings.ReplaceAll(s, ",", ";")
	}
	return string(v.JSON)
}

// Float is the value as a number (NaN if it is not one).
func (v Value) Float() float64 {
	f, err := strconv.ParseFloat(string(v.JSON), 64)
	if err != nil {
		return nanValue
	}
	return f
}

// Grid expands cfg's sweep into its points, each config resolved and
// validated. An empty axis, a repeated value, an unknown key, a value of
// the wrong type or out of range, and a grid of more than MaxPoints
// points (unless allowLarge) are errors.
func Grid(experiment string, cfg Config, allowLarge bool, cost func(Config) float64) ([]Point, error) {
	s := cfg.RunSettings()
	if errs := s.validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	m := toMap(cfg)
	axes := s.Sweep
	n := 1
	canon := make([][]json.RawMessage, len(axes))
	for i, a := range axes {
		if err := checkKey("sweep", a.Key, m, true); err != nil {
			return nil, err
		}
		if len(a.Values) == 0 {
			return nil, fmt.Errorf("sweep %s: no values; give at least one (-sweep %s=v1,v2)", a.Key, a.Key)
		}
		seen := map[string]bool{}
		for _, v := range a.Values {
			c, err := withValue(cfg, "sweep", a.Key, v)
			if err != nil {
				return nil, err
			}
			cv := canonical(c, a.Key)
			if seen[cv] {
				return nil, fmt.Errorf("sweep %s: the value %s appears twice", a.Key, cv)
			}
			seen[cv] = true
			canon[i] = append(canon[i], json.RawMessage(cv))
		}
		n *= len(a.Values)
		if n > MaxPoints && !allowLarge {
			return nil, fmt.Errorf("sweep: the grid has more than %d points (%s); allow it with -allow-large-grid", MaxPoints, gridSize(axes))
		}
	}
	names := labelNames(axes.Keys())
	code := ProgramVersion().Code()
	pts := make([]Point, 0, n)
	var errs []error
	seenErr := map[string]bool{}
	idx := make([]int, len(axes))
	labels := map[string]bool{}
	for k := 0; k < n; k++ {
		pm := toMap(cfg)
		var vals []Value
		var parts []string
		for i, a := range axes {
			v := canon[i][idx[i]]
			setPath(pm, a.Key, v)
			val := Value{Key: a.Key, JSON: v}
			vals = append(vals, val)
			parts = append(parts, names[i]+labelText(val.Text()))
		}
		pm["sweep"] = map[string]any{}
		b, _ := json.Marshal(pm)
		pc, err := decodeStrict(cfg, b)
		if err != nil {
			return nil, err
		}
		if r, ok := pc.(Resolver); ok {
			r.Resolve()
		}
		if err := pc.Validate(); err != nil {
			for _, e := range Unjoin(err) {
				if !seenErr[e.Error()] {
					seenErr[e.Error()] = true
					errs = append(errs, e)
				}
			}
		}
		label := strings.Join(parts, "-")
		if label == "" {
			label = "base"
		}
		if labels[label] {
			// Distinct values can share a label's text ("a b", "a_b").
			label += "-p" + strconv.Itoa(k)
		}
		labels[label] = true
		id := Identity(experiment, code, pc)
		pt := Point{Index: k, Label: label, Values: vals, ID: id, Dir: label + "-" + id[:12], Cost: 1, Config: pc}
		if cost != nil {
			pt.Cost = cost(pc)
		}
		pts = append(pts, pt)
		for i := len(idx) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < len(axes[i].Values) {
				break
			}
			idx[i] = 0
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return pts, nil
}

func gridSize(axes Axes) string {
	var s []string
	for _, a := range axes {
		s = append(s, fmt.Sprintf("%s: %d", a.Key, len(a.Values)))
	}
	return strings.Join(s, " x ")
}

// labelNames are the axes' names in labels: the last part of the key,
// or the whole key where two axes share their last part.
func labelNames(keys []string) []string {
	last := func(k string) string { return k[strings.LastIndexByte(k, '.')+1:] }
	count := map[string]int{}
	for _, k := range keys {
		count[last(k)]++
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = last(k)
		if count[last(k)] > 1 {
			out[i] = k
		}
	}
	return out
}

// labelText keeps a value's text safe in a directory name and a CSV field.
func labelText(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '+' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Identity is the hash of everything a point's result depends on: the
// experiment, the code version and the point's resolved config without
// the runner's settings (out, workers, threads, checkpoint_every,
// max_memory, sweep).
func Identity(experiment, code string, c Config) string {
	m := toMap(c)
	for _, k := range runnerKeys {
		delete(m, k)
	}
	b, err := json.Marshal(map[string]any{"experiment": experiment, "code": code, "config": m})
	if err != nil {
		panic(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Program identifies the code that wrote a result.
type Program struct {
	Module   string `json:"module"`
	Version  string `json:"version"`  // module version; "(devel)" for a checkout
	Revision string `json:"revision"` // VCS commit, or "unknown"
	Modified bool   `json:"modified"` // the checkout had uncommitted changes
	// Source says where the revision came from: "build" (the binary's
	// build information), "git" (git in the module's checkout, as under
	// go run, where the build records none) or "unknown".
	Source string `json:"source"`
	Go     string `json:"go"`
	// Inherited is the code version given by the environment variable
	// MHA_CODE_VERSION (Source "MHA_CODE_VERSION"): the SLURM scripts set
	// it to the version of the program that wrote them, whose copy the
	// jobs run.
	Inherited string `json:"inherited,omitempty"`
	// Kernel is the internal/kernel in force, "vectorized" or "portable";
	// both give the same bits, so it is recorded but not part of identities.
	Kernel string `json:"kernel"`
}

// CodeVersionEnv names the environment variable that, when set, is the
// code version of the running program (Program.Inherited).
const CodeVersionEnv = "MHA_CODE_VERSION"

// Code is the code version in point identities: the module version for a
// released module, else the commit with "+dirty" for uncommitted changes,
// else "unknown".
func (p Program) Code() string {
	if p.Inherited != "" {
		return p.Inherited
	}
	if p.Version != "" && p.Version != "(devel)" && p.Version != "(unknown)" {
		return p.Module + "@" + p.Version
	}
	if p.Revision == "unknown" || p.Revision == "" {
		return "unknown"
	}
	if p.Modified {
		return p.Revision + "+dirty"
	}
	return p.Revision
}

var (
	versionOnce sync.Once
	version     Program
)

// ProgramVersion reads the running program's version once: the build
// information; else $MHA_CODE_VERSION (set by the SLURM scripts); else,
// when the build records no VCS revision (go run, go test, or
// GOFLAGS=-buildvcs=false), git rev-parse HEAD and git status --porcelain
// in the module's checkout, which describe the checkout as it is when the
// program starts.
func ProgramVersion() Program {
	versionOnce.Do(func() {
		p := Program{Module: "github.com/mhattn/mha", Version: "(unknown)", Revision: "unknown", Source: "unknown", Go: runtime.Version()}
		if bi, ok := debug.ReadBuildInfo(); ok {
			if bi.Main.Path != "" {
				p.Module = bi.Main.Path
			}
			p.Version = bi.Main.Version
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					p.Revision, p.Source = s.Value, "build"
				case "vcs.modified":
					p.Modified = s.Value == "true"
				}
			}
		}
		if v := os.Getenv(CodeVersionEnv); v != "" && p.Source != "build" {
			p.Inherited, p.Source = v, CodeVersionEnv
		}
		if p.Source == "unknown" {
			if rev, dirty, ok := gitVersion(); ok {
				p.Revision, p.Modified, p.Source = rev, dirty, "git"
			}
		}
		version = p
	})
	p := version
	p.Kernel = kernel.Name() // selected per run (MHA_KERNEL), not once
	return p
}

// gitVersion asks git in the module root: the directory of this source
// file (known to go run and go test) or the working directory, and their
// parents, up to a go.mod.
func gitVersion() (rev string, dirty, ok bool) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		root := moduleRoot(dir)
		if root == "" {
			continue
		}
		out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
		if err != nil {
			continue
		}
		st, err := exec.Command("git", "-C", root, "status", "--porcelain").Output()
		if err != nil {
			continue
		}
		return strings.TrimSpace(string(out)), len(bytes.TrimSpace(st)) > 0, true
	}
	return "", false, false
}

func moduleRoot(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
