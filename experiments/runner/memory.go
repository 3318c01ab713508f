package runner

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// MemoryFunc estimates the peak memory of one point in bytes, before
// anything is allocated, with the terms that make it up, each naming the
// config fields that drive it, largest first (e.g. "graph buffers 3.1 TB
// from data.train = 10000000, heads = 4096, ...").
type MemoryFunc func(Config) (bytes float64, terms []string)

// ParseBytes reads a memory size: a number of bytes ("1000000", "1e9") or
// a number with a unit K, M, G, T (powers of 1024, also KB, KiB, ...).
func ParseBytes(s string) (float64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := 1.0
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGTP", t[n-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			t = t[:n-1]
		}
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || !(x > 0) || math.IsInf(x*mult, 0) {
		return 0, fmt.Errorf("want a positive size in bytes, e.g. 8G, 512M or 1e9")
	}
	return x * mult, nil
}

// FormatBytes prints a size with a binary unit.
func FormatBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return strconv.FormatFloat(b, 'f', 1, 64) + " " + units[i]
}

// memAvailable reads MemAvailable from /proc/meminfo; ok is false where
// there is none.
var memAvailable = func() (float64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "MemAvailable:" {
			kb, err := strconv.ParseFloat(fs[1], 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// memCgroupLimit is cgroupLimit of this process; a variable for tests.
var memCgroupLimit = func() (float64, string, bool) { return cgroupLimit(cgroupRoot, readCgroupFile()) }

// checkMemory refuses a run whose points, the workers largest at once,
// would need more memory than the machine has available, than this
// process's cgroup allows or than max_memory allows.
func checkMemory(e Experiment, cfg Config, points []Point, workers int) error {
	if e.Memory == nil || len(points) == 0 {
		return nil
	}
	type est struct {
		b     float64
		terms []string
		label string
	}
	ests := make([]est, len(points))
	for i, pt := range points {
		b, terms := e.Memory(pt.Config)
		ests[i] = est{b, terms, pt.Label}
	}
	sort.SliceStable(ests, func(i, j int) bool { return ests[i].b > ests[j].b })
	at := min(max(workers, 1), len(ests))
	total := 0.0
	for _, x := range ests[:at] {
		total += x.b
	}
	limit, source := math.Inf(1), ""
	if avail, ok := memAvailable(); ok {
		limit, source = avail, "the memory available on this machine (MemAvailable in /proc/meminfo)"
	}
	if cg, file, ok := memCgroupLimit(); ok && cg < limit {
		limit, source = cg, "the memory limit of this process's cgroup ("+file+")"
	}
	if s := cfg.RunSettings().MaxMemory; s != "" {
		if m, err := ParseBytes(s); err == nil && m < limit {
			limit, source = m, "max_memory = "+s
		}
	}
	if total <= limit {
		return nil
	}
	top := ests[0]
	msg := fmt.Sprintf("estimated peak memory %s exceeds %s, %s: the largest point, %s, needs about %s (%s)",
		FormatBytes(total), source, FormatBytes(limit), top.label, FormatBytes(top.b), strings.Join(top.terms, "; "))
	if at > 1 {
		msg += fmt.Sprintf(", and %d points run at once (workers)", at)
	}
	return fmt.Errorf("%s; reduce the fields named, or workers, or raise max_memory if the estimate is too high", msg)
}

// cgroupRoot is where the cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// readCgroupFile returns /proc/self/cgroup ("" where there is none).
func readCgroupFile() string {
	b, _ := os.ReadFile("/proc/self/cgroup")
	return string(b)
}

// cgroupDirs lists the directories of this process's memory cgroup and
// its parents, innermost first, given the mount root and the contents of
// /proc/self/cgroup: the unified hierarchy (cgroup v2, line "0::/path")
// where root holds cgroup.controllers, else the memory hierarchy of
// cgroup v1 (line "N:memory:/path", mounted at root/memory). A path that
// is not under the mount (a cgroup namespace) gives the mount's root.
func cgroupDirs(root, procCgroup string) []string {
	base, path := "", ""
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		base = root
		for _, l := range strings.Split(procCgroup, "\n") {
			if p, ok := strings.CutPrefix(l, "0::"); ok {
				path = p
			}
		}
	} else {
		base = filepath.Join(root, "memory")
		for _, l := range strings.Split(procCgroup, "\n") {
			f := strings.SplitN(l, ":", 3)
			if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "memory") {
				path = f[2]
			}
		}
	}
	if _, err := os.Stat(base); err != nil {
		return nil
	}
	dir := filepath.Join(base, filepath.Clean("/"+path))
	if _, err := os.Stat(dir); err != nil {
		dir = base
	}
	var dirs []string
	for {
		dirs = append(dirs, dir)
		if dir == base || !strings.HasPrefix(dir, base) {
			return dirs
		}
		dir = filepath.Dir(dir)
	}
}

// cgroupLimit is the smallest memory limit of this process's cgroup and
// its parents (memory.max in cgroup v2, memory.limit_in_bytes in v1:
// what SLURM's --mem and container limits set), and the file that sets
// it; ok is false where none is set.
func cgroupLimit(root, procCgroup string) (limit float64, file string, ok bool) {
	limit = math.Inf(1)
	for _, dir := range cgroupDirs(root, procCgroup) {
		for _, name := range []string{"memory.max", "memory.limit_in_bytes"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			// "max", or v1's page-rounded 2^63 - 1, is no limit.
			x, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
			if err == nil && x > 0 && x < 1<<60 && x < limit {
				limit, file, ok = x, filepath.Join(dir, name), true
			}
		}
	}
	return limit, file, ok
}
