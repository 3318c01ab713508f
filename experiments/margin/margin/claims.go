package margin

import (
	"fmt"
	"math"
	"strings"

	"github.com/mhattn/mha/experiments/runner"
)

// Claims states the paper's tokenized-mixture claims as measured in a
// margin result, one sentence each: per initialization, at which points
// (every swept value but the seeds) its features are separable and how
// large its normalized margin is against the ideal attention's on the same
// features; how the ideal margin depends on the data; and the largest
// fraction of the ideal margin any initialization reaches. Points where
// n <= P are named: there separability is a dimension count.
func Claims(res *runner.Result) ([]string, error) {
	pts, err := Points(res)
	if err != nil {
		return nil, err
	}
	groups := res.Groups()
	names := initNames(pts)
	if len(names) == 0 {
		return nil, nil
	}
	where := func(g runner.Group) string {
		if g.Name == "" {
			return "the point"
		}
		return g.Name
	}
	var out []string
	feats := pts[groups[0].Records[0]].Features
	var counted []string
	for _, g := range groups {
		if np, dim := groupNP(pts, g); dim {
			counted = append(counted, where(g)+" (n/P = "+strings.TrimSuffix(np, "!")+")")
		}
	}
	if len(counted) > 0 {
		out = append(out, fmt.Sprintf("On %s features n <= P at %s: there separability is a dimension count and only the size of the normalized margin is evidence.", feats, strings.Join(counted, "; ")))
	} else {
		out = append(out, fmt.Sprintf("On %s features n > P at every point, so separability is not a dimension count.", feats))
	}
	for _, name := range names {
		var parts []string
		all, none := true, true
		for _, g := range groups {
			s := countStatus(pts, g, name)
			if s.total == 0 {
				continue
			}
			all = all && s.separable == s.total
			none = none && s.separable == 0
			part := fmt.Sprintf("%s: %s separable, gamma/|psi| %s", where(g), s.cell(), res.MeanCI(g, value(pts, name, normalized)))
			if name != InitIdeal {
				part += fmt.Sprintf(", relevant attention %.3f", stats(g, value(pts, name, attention)).Mean)
			}
			parts = append(parts, part)
		}
		verdict := "separable at some points"
		switch {
		case all:
			verdict = "separable at every point and seed"
		case none:
			verdict = "separable at no point"
		}
		out = append(out, fmt.Sprintf("%s: %s (%s).", name, verdict, strings.Join(parts, "; ")))
	}
	// Data dependence and attainability, against the ideal margin.
	if x := res.XAxis("data.zeta"); x == "data.zeta" {
		for _, s := range res.Series(x) {
			var vals []string
			for j, g := range s.Groups {
				vals = append(vals, fmt.Sprintf("%g: %s", s.X[j], res.MeanCI(g, value(pts, InitIdeal, normalized))))
			}
			name := "ideal normalized margin against zeta"
			if s.Name != "" {
				name += " (" + s.Name + ")"
			}
			out = append(out, name+": "+strings.Join(vals, ", ")+".")
		}
	}
	best, bestAt := math.Inf(-1), ""
	for _, g := range groups {
		ideal := stats(g, value(pts, InitIdeal, normalized)).Mean
		if !(ideal > 0) {
			continue
		}
		for _, name := range names {
			if name == InitIdeal {
				continue
			}
			if r := stats(g, value(pts, name, normalized)).Mean / ideal; r > best {
				best, bestAt = r, name+" at "+where(g)
			}
		}
	}
	if bestAt != "" {
		out = append(out, fmt.Sprintf("No initialization reaches more than %.3g of the ideal attention's normalized margin on the same features (largest: %s; means over seeds).", best, bestAt))
	}
	return out, nil
}
