package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/zcomm-go/zcomm/benchmarks/report"
)

// chartSpec says which panels a -plot chart has.
type chartSpec struct {
	// title heads the whole chart, and detail, in smaller type, follows.
	title, detail string
	// throughput draws the session's throughput lines: messages per
	// second and, by payload size, MB/s.
	throughput bool
	// latency draws the round-trip percentiles of the session's latency
	// lines.
	latency bool
	// ratios draws each figure's median ratio to its baseline as a bar,
	// throughput and latency figures in panels of their own.
	ratios bool
}

// Sizes of one panel and of the band above the panels that holds the title.
const (
	panelWidth  = 6 * vg.Inch
	panelHeight = 4.5 * vg.Inch
	titleBand   = 0.7 * vg.Inch
)

// writeChart draws the panels c asks for from s's data, side by side, two
// to a row, and writes them to path as a PNG image.
func writeChart(path string, s *session, c chartSpec) error {
	var panels []*plot.Plot
	add := func(p *plot.Plot, err error) error {
		if err == nil && p != nil {
			panels = append(panels, p)
		}
		return err
	}
	if c.throughput && len(s.tput) > 0 {
		if err := add(throughputPanel(s, false)); err != nil {
			return err
		}
		if s.bySize {
			if err := add(throughputPanel(s, true)); err != nil {
				return err
			}
		}
	}
	if c.ratios {
		for _, b := range []report.Better{report.Higher, report.Lower} {
			if err := add(ratioPanel(s.series, b)); err != nil {
				return err
			}
		}
	}
	if c.latency && len(s.lat) > 0 {
		if err := add(latencyPanel(s.lat)); err != nil {
			return err
		}
	}
	if len(panels) == 0 {
		return fmt.Errorf("nothing to draw")
	}

	cols := min(2, len(panels))
	rows := (len(panels) + cols - 1) / cols
	img := vgimg.New(panelWidth*vg.Length(cols), panelHeight*vg.Length(rows)+titleBand)
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	title := draw.TextStyle{Color: color.Black, Font: font.From(plot.DefaultFont, 16),
		XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	dc.FillText(title, vg.Point{X: dc.Center().X, Y: dc.Max.Y - titleBand/6}, c.title)
	title.Font = font.From(plot.DefaultFont, 11)
	dc.FillText(title, vg.Point{X: dc.Center().X, Y: dc.Max.Y - titleBand/2}, c.detail)

	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
		for col := range grid[r] {
			if i := r*cols + col; i < len(panels) {
				grid[r][col] = panels[i]
			}
		}
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadTop: titleBand, PadX: vg.Inch / 4,
		PadY: vg.Inch / 4, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 4,
		PadBottom: vg.Inch / 8}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for col, p := range grid[r] {
			if p != nil {
				p.Draw(canvases[r][col])
			}
		}
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// throughputPanel draws the throughput lines, in messages per second or,
// with mb set, in payload MB/s, by payload size or by worker count.
func throughputPanel(s *session, mb bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "all-to-all messages, all workers together"
	p.Y.Label.Text = "messages/s"
	if mb {
		p.Title.Text = "all-to-all payload bandwidth, all workers together"
		p.Y.Label.Text = "payload MB/s"
	}
	var xs []float64
	var ys []float64
	var lines []any
	for _, c := range s.tput {
		pts := make(plotter.XYs, len(c.xs))
		for i := range c.xs {
			pts[i].X, pts[i].Y = c.xs[i], c.ys[i]
			if mb {
				pts[i].Y *= c.xs[i] / 1e6
			}
			xs, ys = append(xs, pts[i].X), append(ys, pts[i].Y)
		}
		lines = append(lines, c.name, pts)
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return nil, err
	}
	valueAxis(&p.Y, ys, si)
	if s.bySize {
		p.X.Label.Text = "payload size"
		p.X.Scale = plot.LogScale{}
		p.X.Min, p.X.Max = slices.Min(xs)/1.5, slices.Max(xs)*1.5
		p.X.Tick.Marker = valueTicks(xs, func(v float64) string { return sizeName(int(v)) })
		p.Legend.Left = mb // the MB/s lines rise to the right, the messages/s lines fall
	} else {
		p.X.Label.Text = "workers"
		p.X.Min, p.X.Max = 0, slices.Max(xs)+1
		p.X.Tick.Marker = valueTicks(xs, func(v float64) string { return fmt.Sprint(v) })
		p.Legend.Left = true
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}

// latencyPanel draws the round-trip percentiles of each latency line, on a
// scale that gives each nine (p90, p99, p99.9) the same width.
func latencyPanel(lines []*latencyCurve) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "ping-pong round trip, 64 B"
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "round trip"
	nines := func(q float64) float64 { return -math.Log10(1 - q/100) }
	var ys []float64
	var args []any
	var shown []float64
	// The baseline's line comes last, under the lines it is the floor of.
	lines = slices.Clone(lines)
	slices.SortStableFunc(lines, func(a, b *latencyCurve) int {
		return cmpBool(a.name == baselineLine, b.name == baselineLine)
	})
	for _, l := range lines {
		var pts plotter.XYs
		for _, q := range []float64{50, 90, 99, 99.9, 99.99, 99.999} {
			// Show a percentile only if some sample lies above it.
			if float64(l.h.TotalCount())*(1-q/100) < 1 {
				break
			}
			v := float64(l.h.ValueAtQuantile(q))
			pts = append(pts, plotter.XY{X: nines(q), Y: v})
			ys = append(ys, v)
			if !slices.Contains(shown, q) {
				shown = append(shown, q)
			}
		}
		if len(pts) > 0 {
			args = append(args, l.name, pts)
		}
	}
	if len(args) == 0 {
		return nil, nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	var ticks []plot.Tick
	for _, q := range shown {
		ticks = append(ticks, plot.Tick{Value: nines(q), Label: quantileName(q)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = nines(shown[0])-0.1, nines(shown[len(shown)-1])+0.1
	valueAxis(&p.Y, ys, formatNs)
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return p, nil
}

// baselineLine names the latency baseline's line.
const baselineLine = "atomic"

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// ratioPanel draws, for each figure whose better direction is b, its
// median ratio to its baseline as a horizontal bar, with a line at 1. The
// first figure is at the top.
func ratioPanel(sers []*series, b report.Better) (*plot.Plot, error) {
	var names []string
	var vals plotter.Values
	for _, s := range slices.Backward(sers) {
		if s.Better == b {
			names = append(names, s.Name)
			vals = append(vals, median(s.Ratios()))
		}
	}
	if len(vals) == 0 {
		return nil, nil
	}
	p := plot.New()
	if b == report.Higher {
		p.Title.Text = "throughput / its baseline (higher is better)"
	} else {
		p.Title.Text = "latency / its baseline (lower is better)"
	}
	p.X.Label.Text = "median ratio to the baseline measured in the same run"
	bars, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return nil, err
	}
	bars.Horizontal = true
	bars.Color = plotutil.Color(map[report.Better]int{report.Higher: 0, report.Lower: 1}[b])
	bars.LineStyle.Width = 0
	p.Add(bars)

	labels := plotter.XYLabels{XYs: make(plotter.XYs, len(vals))}
	for i, v := range vals {
		labels.XYs[i] = plotter.XY{X: v, Y: float64(i)}
		labels.Labels = append(labels.Labels, " "+formatRatio(v))
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].YAlign = draw.YCenter
	}
	p.Add(l)

	one, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(len(vals)) - 0.5}})
	if err != nil {
		return nil, err
	}
	one.Color = color.Gray{Y: 96}
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(one)
	p.NominalY(names...)
	p.X.Min = 0
	p.X.Max = max(1.1, slices.Max(vals)*1.25) // room for the labels
	return p, nil
}

// valueAxis fits a to the values vs, with some room around them, and labels
// its ticks with label: on a logarithmic scale when they span more than
// wideRange, on a linear one from zero otherwise, where a logarithmic
// scale would show one labelled tick or none.
func valueAxis(a *plot.Axis, vs []float64, label func(float64) string) {
	lo, hi := slices.Min(vs), slices.Max(vs)
	ticker := plot.Ticker(plot.DefaultTicks{})
	if lo > 0 && hi/lo > wideRange {
		a.Scale = plot.LogScale{}
		a.Min, a.Max = lo/1.5, hi*1.5
		ticker = plot.LogTicks{Prec: -1}
	} else {
		a.Min, a.Max = 0, hi*1.15
	}
	a.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		ts := ticker.Ticks(min, max)
		for i := range ts {
			if ts[i].Label != "" {
				ts[i].Label = label(ts[i].Value)
			}
		}
		return ts
	})
}

// wideRange is the ratio of the largest value to the smallest past which
// valueAxis chooses a logarithmic scale.
const wideRange = 20

// valueTicks labels each distinct value of vs.
func valueTicks(vs []float64, label func(float64) string) plot.Ticker {
	var ts plot.ConstantTicks
	seen := map[float64]bool{}
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			ts = append(ts, plot.Tick{Value: v, Label: label(v)})
		}
	}
	return ts
}
