package convexity

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/mhattn/mha/experiments/figure"
	"github.com/mhattn/mha/experiments/runner"
)

// plots are the convexity experiment's plots: those against the swept
// key, the curvature along the path and the spectral densities.
func plots(res *runner.Result) ([]runner.NamedPlot, error) {
	out, err := figure.Plots(figure.Builder{Name: "weak_convexity_vs_heads", Build: WeakConvexityPlot},
		figure.Builder{Name: "smoothness_vs_heads", Build: SmoothnessPlot},
		figure.Builder{Name: "curvature_path", Build: CurvaturePathPlot},
		figure.Builder{Name: "negative_mass_vs_heads", Build: NegativeMassPlot},
		figure.Builder{Name: "trace_vs_heads", Build: TracePlot})(res)
	if err != nil {
		return nil, err
	}
	panels, err := DensityPanels(res)
	if err != nil {
		return nil, fmt.Errorf("spectral_density: %w", err)
	}
	if len(panels) > 0 {
		out = append(out, runner.NamedPlot{Name: "spectral_density", Render: renderPanels(panels, false), SVG: renderPanels(panels, true)})
	}
	return out, nil
}

// NegativeMassPlot is the fraction of negative eigenvalues of Hess F (SLQ,
// below -neg_tol times the spectral width) against heads (else the first
// numeric swept key), log-log: the largest along the GD path and at
// theta_0; against heads with the least-squares slopes.
func NegativeMassPlot(res *runner.Result) (*plot.Plot, error) {
	pts, _, err := PointsOf(res)
	if err != nil {
		return nil, err
	}
	p, x, logX := xPlot(res, "Negative mass of the Hessian spectrum (SLQ)", "fraction of eigenvalues < −tol")
	if p == nil {
		return nil, nil
	}
	defer figure.LogHeadroom(p, 30)
	series, stats, err := byX(res, x, func(q Point) float64 { return float64(q.NegFractionWorst) },
		func(q Point) float64 { return float64(q.NegFraction0) })
	if err != nil {
		return nil, err
	}
	names := []string{"largest on the path", "at θ_0"}
	if x == "heads" {
		f := FitConvexity(pts)
		names[0] += fmt.Sprintf(" (slope %.2f)", f.NegSlope)
		names[1] += fmt.Sprintf(" (slope %.2f)", f.NegInitSlope)
	}
	return p, lines(p, series, stats, names, []int{0, 1}, logX)
}

// TracePlot is Hutchinson's estimate of tr Hess F against heads (else the
// first numeric swept key), log-log: at the last measured step and at
// theta_0; against heads with the least-squares slopes.
func TracePlot(res *runner.Result) (*plot.Plot, error) {
	pts, _, err := PointsOf(res)
	if err != nil {
		return nil, err
	}
	p, x, logX := xPlot(res, "Trace of Hess F (Hutchinson)", "tr Hess F")
	if p == nil {
		return nil, nil
	}
	defer figure.LogHeadroom(p, 30)
	series, stats, err := byX(res, x, func(q Point) float64 { return float64(q.TraceFinal) },
		func(q Point) float64 { return float64(q.Trace0) })
	if err != nil {
		return nil, err
	}
	names := []string{"at the last step", "at θ_0"}
	if x == "heads" {
		f := FitConvexity(pts)
		names[0] += fmt.Sprintf(" (slope %.2f)", f.TraceSlope)
		names[1] += fmt.Sprintf(" (slope %.2f)", f.TraceInitSlope)
	}
	return p, lines(p, series, stats, names, []int{0, 1}, logX)
}

// densityPoints is the number of grid points of each density curve, and
// densityFloor the floor of the log density axis relative to the panel's
// peak.
const (
	densityPoints = 400
	densityFloor  = 1e-5
)

// DensityPanels are the spectral densities of Hess F along the GD path,
// one panel per finished point (titled by its swept values, in grid
// order) with one curve per measured step: the SLQ nodes of the point's
// slq.csv broadened by a Gaussian of sigma times the step's spectral
// width, divided by the dimension (a probability density), on a log axis
// floored at 1e-5 of the panel's peak. Points without slq.csv (e.g. a
// result directory copied without points/) have no panel.
func DensityPanels(res *runner.Result) ([]*plot.Plot, error) {
	var out []*plot.Plot
	for _, r := range res.Records {
		if !r.Finished() {
			continue
		}
		var pt Point
		if err := r.Decode(&pt); err != nil {
			return nil, err
		}
		rows, err := ReadSLQ(filepath.Join(res.Dir, "points", r.Dir, "slq.csv"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 || pt.Dim < 1 || !(pt.Spectrum.Sigma > 0) {
			continue
		}
		steps, quads, err := Quadratures(rows, pt.Dim)
		if err != nil {
			return nil, fmt.Errorf("point %s: %w", r.Label, err)
		}
		title := r.Label
		if len(r.Values) > 0 {
			title = ""
			for i, v := range r.Values {
				if i > 0 {
					title += ", "
				}
				title += res.AxisName(v.Key) + " = " + v.Text()
			}
		}
		p := figure.New(title, "eigenvalue of Hess F", "density / dim")
		figure.LogAxis(&p.Y)
		p.Title.TextStyle.Font.Size = vg.Points(10)
		p.Legend.TextStyle.Font.Size = vg.Points(7)
		p.Legend.Top, p.Legend.Left = true, false
		var curves []plotter.XYs
		peak := 0.0
		for _, q := range quads {
			lo, hi := q.Range()
			sigma := pt.Spectrum.Sigma * (hi - lo)
			if !(sigma > 0) {
				sigma = pt.Spectrum.Sigma * math.Max(math.Abs(lo), 1)
			}
			grid, err := q.Grid(densityPoints, sigma)
			if err != nil {
				return nil, err
			}
			d, err := q.Density(grid, sigma)
			if err != nil {
				return nil, err
			}
			xy := make(plotter.XYs, len(grid))
			for i := range grid {
				xy[i] = plotter.XY{X: grid[i], Y: d[i] / float64(q.Dim)}
				peak = math.Max(peak, xy[i].Y)
			}
			curves = append(curves, xy)
		}
		floor := densityFloor * peak
		for i, xy := range curves {
			for j := range xy {
				xy[j].Y = math.Max(xy[j].Y, floor)
			}
			if err := figure.AddLine(p, figure.Positive(xy, false, true), figure.Color(i), nil, fmt.Sprintf("k = %d", steps[i])); err != nil {
				return nil, err
			}
		}
		if len(curves) > 0 {
			// Room above the curves for the legend.
			figure.LogHeadroom(p, 300)
			p.Y.Min = floor
		}
		out = append(out, p)
	}
	return out, nil
}

// renderPanels draws plots as a grid of panels in one PNG (or SVG), as many
// columns as needed for a squarish grid, each panel of figure.Width / 2 by
// figure.Height / 2 (at least figure's size in all).
func renderPanels(ps []*plot.Plot, svg bool) func(io.Writer) error {
	return func(w io.Writer) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("drawing the spectral densities: %v", r)
			}
		}()
		cols := int(math.Ceil(math.Sqrt(float64(len(ps)))))
		rows := (len(ps) + cols - 1) / cols
		width := vg.Length(math.Max(float64(cols)*float64(figure.Width)/2, float64(figure.Width)))
		height := vg.Length(math.Max(float64(rows)*float64(figure.Height)/1.6, float64(figure.Height)))
		var c vg.CanvasSizer = vgimg.New(width, height)
		if svg {
			c = vgsvg.New(width, height)
		}
		dc := draw.New(c)
		grid := make([][]*plot.Plot, rows)
		for i := range grid {
			grid[i] = make([]*plot.Plot, cols)
			for j := range grid[i] {
				if k := i*cols + j; k < len(ps) {
					grid[i][j] = ps[k]
				}
			}
		}
		t := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 2, PadY: vg.Millimeter * 2,
			PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
		canvases := plot.Align(grid, t, dc)
		for i := range grid {
			for j, p := range grid[i] {
				if p != nil {
					p.Draw(canvases[i][j])
				}
			}
		}
		if svg {
			_, err = c.(*vgsvg.Canvas).WriteTo(w)
		} else {
			_, err = vgimg.PngCanvas{Canvas: c.(*vgimg.Canvas)}.WriteTo(w)
		}
		return err
	}
}
