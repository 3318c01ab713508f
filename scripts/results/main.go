// Command results writes docs/results.md and its figures (docs/img/) from
// the result directories of the experiments' runs, so the text cannot
// drift from the code: every number and every verdict in the document is
// computed here from summary.json and metrics.csv (runner.LoadResult).
// scripts/results.sh runs the experiments and then this program.
//
//	go run ./scripts/results -in results/docs -doc docs/results.md -img docs/img [experiment ...]
//
// Without experiment names it documents every result directory under -in.
// For the experiments it knows (headsweep, zetasweep, margin,
// generalization, stepsize, convexity) it states the claims they test as
// measured: where they hold, where not, and in which regime, per
// initialization or other swept value where the answer depends on it. Any
// other experiment gets its table and plots. Exit status 2 on bad
// arguments, 1 when a result cannot be read.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mhattn/mha/experiments/runner"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("results", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "results/docs", "directory holding one result directory per experiment (and <name>.stdout, .seconds, .exit)")
	doc := fs.String("doc", "docs/results.md", "the document to write")
	img := fs.String("img", "docs/img", "the figures' directory (its .png files are replaced)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	names := fs.Args()
	if len(names) == 0 {
		ents, err := os.ReadDir(*in)
		if err != nil {
			fmt.Fprintf(stderr, "results: -in %s: %v\n", *in, err)
			return 2
		}
		for _, e := range ents {
			if fileExists(filepath.Join(*in, e.Name(), "summary.json")) {
				names = append(names, e.Name())
			}
		}
	}
	if len(names) == 0 {
		fmt.Fprintf(stderr, "results: -in %s holds no result directory (run bash scripts/results.sh)\n", *in)
		return 2
	}
	for _, n := range names {
		if !fileExists(filepath.Join(*in, n, "summary.json")) {
			fmt.Fprintf(stderr, "results: %s: no result directory %s (with summary.json)\n", n, filepath.Join(*in, n))
			return 2
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return order(names[i]) < order(names[j]) })
	d, err := build(*in, *img, *doc, names)
	if err != nil {
		fmt.Fprintf(stderr, "results: %v\n", err)
		return 1
	}
	if err := os.WriteFile(*doc, d, 0o644); err != nil {
		fmt.Fprintf(stderr, "results: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s and %s/ from %d experiments in %s\n", *doc, *img, len(names), *in)
	return 0
}

// order puts the known experiments first, in the order of the document.
func order(name string) int {
	if i := slices.Index(known, name); i >= 0 {
		return i
	}
	return len(known)
}

var known = []string{"headsweep", "zetasweep", "margin", "generalization", "stepsize", "convexity"}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// section is one experiment's part of the document.
type section struct {
	Name    string
	Res     *runner.Result // nil when the generator cannot read it
	Claims  []string       // measured statements, markdown
	Seconds string
	Exit    string
	Args    string   // extra arguments of the run (MHA_RESULTS_ARGS)
	Plots   []string // paths relative to the document
	Table   string
}

func build(in, img, doc string, names []string) ([]byte, error) {
	if err := os.MkdirAll(img, 0o755); err != nil {
		return nil, err
	}
	old, _ := filepath.Glob(filepath.Join(img, "*.png"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return nil, err
		}
	}
	rel, err := filepath.Rel(filepath.Dir(doc), img)
	if err != nil {
		rel = img
	}
	var secs []section
	for _, name := range names {
		dir := filepath.Join(in, name)
		s := section{Name: name, Seconds: readTrim(filepath.Join(in, name+".seconds")), Exit: readTrim(filepath.Join(in, name+".exit")),
			Args: readTrim(filepath.Join(in, name+".args"))}
		res, claims, err := analyse(name, dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.Res, s.Claims = res, claims
		s.Table = table(readTrim(filepath.Join(in, name+".stdout")))
		pngs, _ := filepath.Glob(filepath.Join(dir, "plots", "*.png"))
		for _, p := range pngs {
			dst := name + "-" + filepath.Base(p)
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(img, dst), b, 0o644); err != nil {
				return nil, err
			}
			s.Plots = append(s.Plots, filepath.ToSlash(filepath.Join(rel, dst)))
		}
		secs = append(secs, s)
	}
	return render(secs, in), nil
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// table is the program's printed table: its stdout without the closing
// "results in ..." line.
func table(stdout string) string {
	var keep []string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "results in ") {
			continue
		}
		keep = append(keep, strings.TrimRight(l, " "))
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

func render(secs []section, in string) []byte {
	var b bytes.Buffer
	p := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	p("# Results: the experiments against the theory (generated)\n\n")
	p("This file is written by `bash scripts/results.sh` (the generator is `scripts/results`), which reruns every\n")
	p("experiment program under `experiments/` with its default config into `%s/<name>/` and then states\n", in)
	p("each claim from the result files: where it holds, where it does not, and in which regime. Do not edit it by\n")
	p("hand; rerun the command (`MHA_RESULTS_SKIP_RUN=1 bash scripts/results.sh` rewrites it from the last runs).\n")
	p("Theory: [theory.md](theory.md). A bound is reported only where every hypothesis it rests on holds for\n")
	p("the run (decided after GD, with the measured path); otherwise its first failing hypothesis is named.\n\n")
	p("Generated %s.", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	if v := version(secs); v != "" {
		p(" Code version: %s.", v)
	}
	p("\n\n| experiment | question | points | status | wall time | exit |\n| --- | --- | --- | --- | --- | --- |\n")
	total := 0
	for _, s := range secs {
		q, pts, st := "", "-", "unreadable"
		if s.Res != nil {
			pts, st = strconv.Itoa(len(s.Res.Records)), s.Res.Status
			q = question(s)
		}
		sec := "-"
		if n, err := strconv.Atoi(s.Seconds); err == nil {
			total += n
			sec = fmt.Sprintf("%d s", n)
		}
		exit := s.Exit
		if exit == "" {
			exit = "-"
		}
		p("| [%s](#%s) | %s | %s | %s | %s | %s |\n", s.Name, s.Name, q, pts, st, sec, exit)
	}
	p("\nTotal wall time of the runs: %d s (%.1f min) on this machine (`nproc` = %d at generation; the load from other jobs is not controlled).\n", total, float64(total)/60, nprocs())
	for _, s := range secs {
		p("\n## %s\n\n", s.Name)
		if s.Res != nil {
			cmd := "go run ./experiments/" + s.Name
			if s.Args != "" {
				cmd += " " + s.Args
			}
			p("    %s\n\n", cmd)
			if d := describe(s.Res); d != "" {
				p("%s\n\n", d)
			}
		}
		if len(s.Claims) > 0 {
			p("**As measured:**\n\n")
			for _, c := range s.Claims {
				p("- %s\n", c)
			}
			p("\n")
		}
		if s.Table != "" {
			p("The program's table:\n\n```text\n%s\n```\n\n", s.Table)
		}
		for _, pl := range s.Plots {
			p("![%s](%s)\n", strings.TrimSuffix(filepath.Base(pl), ".png"), pl)
		}
	}
	return b.Bytes()
}

func nprocs() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\nprocessor") + 1
}

// version is the code version the runs recorded (config.json's program),
// when they agree.
func version(secs []section) string {
	seen := map[string]bool{}
	var vs []string
	for _, s := range secs {
		if s.Res == nil {
			continue
		}
		var rf struct {
			Program runner.Program `json:"program"`
		}
		if err := readJSONLoose(filepath.Join(s.Res.Dir, "config.json"), &rf); err != nil {
			continue
		}
		v := rf.Program.Revision
		if len(v) > 12 {
			v = v[:12]
		}
		if rf.Program.Modified {
			v += " (modified)"
		}
		if !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	return strings.Join(vs, ", ")
}
