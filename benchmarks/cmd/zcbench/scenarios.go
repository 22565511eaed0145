package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zcomm-go/zcomm/benchmarks/report"
	"github.com/zcomm-go/zcomm/benchmarks/scenario"
	"github.com/zcomm-go/zcomm/process"
)

// minGateRuns is the fewest runs per report with which compare's
// Mann-Whitney test can find a change significant at its default level.
const minGateRuns = 5

// outputs are the flags every scenario subcommand shares.
type outputs struct {
	runs  int
	json  string
	plot  string
	label string
}

// register adds the shared flags to fs; -plot only if plot is set.
func (o *outputs) register(fs *flag.FlagSet, plot bool) {
	fs.IntVar(&o.runs, "runs", minGateRuns, "runs of each figure and of its baseline, "+
		"alternating; compare's Mann-Whitney test\nneeds at least 5 runs in each report to "+
		"ever call a change significant")
	fs.StringVar(&o.json, "json", "", "also write the figures to `FILE` as a report for "+
		"zcbench compare")
	if plot {
		fs.StringVar(&o.plot, "plot", "", "also draw the figures as a PNG chart in `FILE`")
	}
	fs.StringVar(&o.label, "label", "", "label of the report, e.g. a commit id")
}

// check validates the shared flags before anything is measured, so that a
// long run does not end in an error it could have given at once.
func (o *outputs) check(stderr io.Writer) error {
	if o.runs < 1 {
		return fmt.Errorf("-runs %d: want at least 1", o.runs)
	}
	for _, f := range []struct{ flag, path string }{{"-json", o.json}, {"-plot", o.plot}} {
		if f.path == "" {
			continue
		}
		dir := filepath.Dir(f.path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("%s %s: no directory %s to write it in", f.flag, f.path, dir)
		}
	}
	if o.json != "" && o.runs < minGateRuns {
		fmt.Fprintf(stderr, "zcbench: note: with -runs %d (< %d), compare cannot find any "+
			"change in this report significant\n", o.runs, minGateRuns)
	}
	return nil
}

// newFlagSet returns the flag set of a subcommand, whose -h prints synopsis
// and summary before the flags.
func newFlagSet(name, synopsis, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("zcbench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: zcbench %s %s\n%s\n\nFlags:\n", name, synopsis, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a subcommand's arguments, which take no operands.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// parseSizes parses a comma-separated list of payload sizes: bytes, or with
// a suffix K or KiB, M or MiB.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		num, unit := f, 1
		for _, u := range []struct {
			suffix string
			mult   int
		}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
			if strings.HasSuffix(f, u.suffix) {
				num, unit = strings.TrimSuffix(f, u.suffix), u.mult
				break
			}
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("-sizes: %q is not a size in bytes (say 64, 1KiB or 1024)", f)
		}
		if n *= unit; n < scenario.TagSize || n > process.DefaultMaxPayload {
			return nil, fmt.Errorf("-sizes: %s: want %d bytes to %s", f, scenario.TagSize,
				sizeName(process.DefaultMaxPayload))
		}
		out = append(out, n)
	}
	return out, nil
}

// parsePublish turns -publish into the modes to measure.
func parsePublish(s string) ([]process.Publish, error) {
	switch s {
	case "both":
		return []process.Publish{process.Batched, process.Eager}, nil
	case "batched":
		return []process.Publish{process.Batched}, nil
	case "eager":
		return []process.Publish{process.Eager}, nil
	}
	return nil, fmt.Errorf("-publish %q: want both, batched or eager", s)
}

// start returns a session of runs runs whose progress counts steps steps.
func start(ctx context.Context, runs, steps int, stderr io.Writer) *session {
	return &session{ctx: ctx, runs: runs, prog: newProgress(stderr, int64(steps), "")}
}

// finish ends s: it prints its figures under title and detail, writes the
// report and the chart the flags ask for, and names the files it wrote.
func (s *session) finish(o *outputs, stdout io.Writer, title, detail string,
	c chartSpec) error {
	s.prog.finish()
	fmt.Fprintf(stdout, "zcbench %s: %s\n", title, detail)
	printMachine(stdout)
	fmt.Fprintln(stdout)
	printFigures(stdout, s.series, o.runs)
	rep := s.report(o.label)
	if err := rep.Validate(); err != nil {
		return fmt.Errorf("internal error: the report does not validate: %w", err)
	}
	if o.json != "" {
		if err := rep.Write(o.json); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s\n", o.json)
	}
	if o.plot != "" {
		c.title, c.detail = "zcbench "+title, detail
		if o.label != "" {
			c.title += " (" + o.label + ")"
		}
		if err := writeChart(o.plot, s, c); err != nil {
			return fmt.Errorf("-plot %s: %w", o.plot, err)
		}
		fmt.Fprintf(stdout, "chart: %s\n", o.plot)
	}
	return nil
}

// printMachine describes the machine in one line.
func printMachine(w io.Writer) {
	fmt.Fprintf(w, "machine: %s/%s, %s, %d CPUs, GOMAXPROCS %d, %s\n", runtime.GOOS,
		runtime.GOARCH, report.CPUModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0),
		runtime.Version())
}

// tableNotes explain the table of figures.
const tableNotes = `ratio: the median over the runs of the figure divided by
the baseline measured beside it in the same run (msgs/s, MB/s: higher is better;
ns, %core: lower is better). allocs/op: zcomm's heap allocations per message at
the margin, those of a run of 2n messages less those of a run of n, over n;
-json stores it rounded to a whole number, which compare compares exactly.
`

// printFigures prints a table of figures: each one's median and its
// baseline's, the median of their ratios run by run, and the allocations.
func printFigures(w io.Writer, sers []*series, runs int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "figure\tmedian\tbaseline\tbaseline median\tratio\tallocs/op\t\n")
	for _, s := range sers {
		v := median(s.Values)
		value := formatValue(v, s.Unit)
		if s.note != nil {
			value += " (" + s.note(v) + ")"
		}
		allocs := "-"
		if s.allocs != nil {
			allocs = fmt.Sprintf("%.2f", *s.allocs)
		}
		base := formatValue(median(s.BaselineValues), s.Unit)
		if s.noBaseline {
			base = "1"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name, value, s.Baseline, base,
			formatRatio(median(s.Ratios())), allocs)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nmedians of %d run(s). %s", runs, tableNotes)
}

// formatValue writes v in its unit for people.
func formatValue(v float64, unit string) string {
	switch unit {
	case "ns":
		return formatNs(v)
	case "msgs/s":
		return si(v) + " msgs/s"
	case "%core":
		return fmt.Sprintf("%.3g%% of a core", v)
	}
	if v >= 1e4 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}

// formatNs writes a time in nanoseconds with three significant digits.
func formatNs(v float64) string {
	for _, u := range []struct {
		ns   float64
		unit string
	}{{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}} {
		if v >= u.ns {
			return fmt.Sprintf("%.3g%s", v/u.ns, u.unit)
		}
	}
	return fmt.Sprintf("%.3gns", v)
}

// formatRatio writes a ratio with three significant digits, and no
// exponent.
func formatRatio(r float64) string {
	if r >= 1000 {
		return fmt.Sprintf("%.0fx", r)
	}
	return fmt.Sprintf("%.3gx", r)
}

// si writes v with three significant digits and an SI prefix.
func si(v float64) string {
	for _, p := range []struct {
		mult   float64
		prefix string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= p.mult {
			return fmt.Sprintf("%.3g%s", v/p.mult, p.prefix)
		}
	}
	return fmt.Sprintf("%.3g", v)
}

// ---- alltoall --------------------------------------------------------------

func runAllToAll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o outputs
	fs := newFlagSet("alltoall", "[-workers W] [-sizes LIST] [-publish MODE] [-runs N] "+
		"[-dur D] [-json FILE] [-plot FILE]",
		"Measures the all-to-all throughput of zcomm among W workers (message i of worker w\n"+
			"goes to worker i%W) for each payload size, beside Go channels carrying one pooled\n"+
			"message per send (chan-per-msg).", stderr)
	workers := fs.Int("workers", 2, "number of workers")
	sizesFlag := fs.String("sizes", "8,64,1024,65536", "comma-separated payload sizes in bytes "+
		"(a K or KiB suffix multiplies by 1024)")
	publish := fs.String("publish", "both", "zcomm publishing: both, batched or eager")
	dur := fs.Duration("dur", 200*time.Millisecond, "length of each measurement")
	o.register(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sizes, err := parseSizes(*sizesFlag)
	if err != nil {
		return err
	}
	modes, err := parsePublish(*publish)
	if err != nil {
		return err
	}
	if err := checkWorkers(*workers); err != nil {
		return err
	}
	if err := checkDur(*dur); err != nil {
		return err
	}
	if err := o.check(stderr); err != nil {
		return err
	}

	s := start(ctx, o.runs, len(sizes)*allToAllSteps(len(modes), o.runs), stderr)
	defer s.prog.finish()
	s.bySize = true
	for _, size := range sizes {
		if err := s.allToAll(*workers, size, modes, *dur); err != nil {
			return err
		}
	}
	var names []string
	for _, size := range sizes {
		names = append(names, sizeName(size))
	}
	return s.finish(&o, stdout, "alltoall", fmt.Sprintf("%d workers, sizes %s, publish %s, "+
		"%d run(s) of about %v each", *workers, strings.Join(names, " "), *publish, o.runs,
		*dur), chartSpec{throughput: true, latency: false})
}

// checkWorkers refuses a worker count that cannot run.
func checkWorkers(w int) error {
	if w < 1 || w > maxWorkers {
		return fmt.Errorf("-workers %d: want 1 to %d", w, maxWorkers)
	}
	return nil
}

// maxWorkers bounds -workers and -max: each worker has a ring and a buffer
// per peer, so the memory grows with its square.
const maxWorkers = 256

// checkDur refuses a measurement length that is not positive.
func checkDur(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("-dur %v: want a positive duration", d)
	}
	return nil
}

// ---- pingpong --------------------------------------------------------------

// pingPongQuantiles are the percentiles pingpong reports.
var pingPongQuantiles = []float64{50, 90, 99, 99.9}

func runPingPong(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o outputs
	fs := newFlagSet("pingpong", "[-runs N] [-count K] [-json FILE] [-plot FILE]",
		"Measures the round trip of one 64-byte message between two zcomm workers that poll\n"+
			"(busy) or park between polls (park), as percentiles of an HDR histogram, beside two\n"+
			"goroutines spinning on atomic words.", stderr)
	count := fs.Int("count", 20000, "round trips per run")
	o.register(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkCount(*count); err != nil {
		return err
	}
	if err := o.check(stderr); err != nil {
		return err
	}

	s := start(ctx, o.runs, 2*pingPongSteps(o.runs), stderr)
	defer s.prog.finish()
	for _, park := range []bool{false, true} {
		if err := s.pingPong(park, *count, pingPongQuantiles); err != nil {
			return err
		}
	}
	return s.finish(&o, stdout, "pingpong", fmt.Sprintf("64-byte round trips, %d per run, "+
		"%d run(s), %s", *count, o.runs, pinning()), chartSpec{latency: true})
}

// pinning says whether the ping-pong workers run pinned, for a report's
// description.
func pinning() string {
	if scenario.CanPin() {
		return "busy-polling ping-pong threads pinned to two CPUs"
	}
	return "ping-pong threads not pinned (needs Linux, two CPUs and GOMAXPROCS >= 2)"
}

// checkCount refuses a round-trip count that cannot run.
func checkCount(k int) error {
	if k < 1 {
		return fmt.Errorf("-count %d: want at least 1", k)
	}
	return nil
}

// ---- sweep -----------------------------------------------------------------

// sweepSize is the payload size of the sweep.
const sweepSize = 64

// sweepWorkers returns 1, 2, 4, ... up to max, and max itself.
func sweepWorkers(max int) []int {
	var ws []int
	for w := 1; w < max; w *= 2 {
		ws = append(ws, w)
	}
	return append(ws, max)
}

func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o outputs
	fs := newFlagSet("sweep", "[-max W] [-runs N] [-dur D] [-json FILE] [-plot FILE]",
		"Measures the all-to-all throughput of zcomm, 64-byte messages, batched, for\n"+
			"W = 1, 2, 4, ... workers up to -max, beside chan-per-msg at each W.", stderr)
	maxW := fs.Int("max", 2*runtime.NumCPU(), "largest worker count")
	dur := fs.Duration("dur", 200*time.Millisecond, "length of each measurement")
	o.register(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *maxW < 1 || *maxW > maxWorkers {
		return fmt.Errorf("-max %d: want 1 to %d", *maxW, maxWorkers)
	}
	if err := checkDur(*dur); err != nil {
		return err
	}
	if err := o.check(stderr); err != nil {
		return err
	}

	ws := sweepWorkers(*maxW)
	s := start(ctx, o.runs, len(ws)*allToAllSteps(1, o.runs), stderr)
	defer s.prog.finish()
	for _, w := range ws {
		if err := s.allToAll(w, sweepSize, []process.Publish{process.Batched}, *dur); err != nil {
			return err
		}
	}
	return s.finish(&o, stdout, "sweep", fmt.Sprintf("%s batched all-to-all, workers %s, "+
		"%d run(s) of about %v each", sizeName(sweepSize), strings.Trim(fmt.Sprint(ws), "[]"),
		o.runs, *dur), chartSpec{throughput: true})
}

// ---- suite -----------------------------------------------------------------

// suiteQuantiles are the percentiles the suite reports.
var suiteQuantiles = []float64{50, 99}

func runSuite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o outputs
	fs := newFlagSet("suite", "[-runs N] [-dur D] [-count K] [-json FILE] [-plot FILE] "+
		"[-label S]",
		"Runs the regression gate's quick set: all-to-all among 2 workers at 64 B, batched\n"+
			"and eager, beside chan-per-msg; 1 KiB batched bandwidth beside memmove; ping-pong\n"+
			"p50 and p99, busy and parked, beside the atomic ping-pong.", stderr)
	dur := fs.Duration("dur", 250*time.Millisecond, "length of each throughput measurement")
	count := fs.Int("count", 20000, "round trips per ping-pong run")
	o.register(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkDur(*dur); err != nil {
		return err
	}
	if err := checkCount(*count); err != nil {
		return err
	}
	if err := o.check(stderr); err != nil {
		return err
	}

	const workers = 2
	steps := allToAllSteps(2, o.runs) + bandwidthSteps(o.runs) + 2*pingPongSteps(o.runs)
	s := start(ctx, o.runs, steps, stderr)
	defer s.prog.finish()
	err := s.allToAll(workers, 64, []process.Publish{process.Batched, process.Eager}, *dur)
	if err != nil {
		return err
	}
	if err := s.bandwidth(workers, 1<<10, *dur); err != nil {
		return err
	}
	for _, park := range []bool{false, true} {
		if err := s.pingPong(park, *count, suiteQuantiles); err != nil {
			return err
		}
	}
	return s.finish(&o, stdout, "suite", fmt.Sprintf("%d run(s); throughput runs of about %v, "+
		"%d round trips per ping-pong run, %s", o.runs, *dur, *count, pinning()),
		chartSpec{ratios: true, latency: true})
}

// ---- idle ------------------------------------------------------------------

func runIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o outputs
	fs := newFlagSet("idle", "[-workers W] [-for D] [-runs N] [-json FILE] [-label S]",
		"Parks W zcomm workers (process.Run, AwaitEvents with no timeout, nothing sent) and\n"+
			"measures the CPU the whole process uses meanwhile, as a percentage of one core.\n"+
			"The figure has no baseline: its baseline values are 1, so its ratio is its value.",
		stderr)
	workers := fs.Int("workers", 8, "number of parked workers")
	window := fs.Duration("for", 10*time.Second, "how long the workers stay parked, "+
		"split evenly among the runs")
	o.register(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkWorkers(*workers); err != nil {
		return err
	}
	if *window <= 0 || *window/time.Duration(max(o.runs, 1)) <= 0 {
		return fmt.Errorf("-for %v: want a positive duration, at least 1ns per run", *window)
	}
	if err := o.check(stderr); err != nil {
		return err
	}
	if _, err := scenario.CPUTime(); errors.Is(err, scenario.ErrNoCPUTime) {
		return fmt.Errorf("idle is unsupported here: %w", err)
	}

	s := start(ctx, o.runs, o.runs, stderr)
	defer s.prog.finish()
	ser := s.newSeries(fmt.Sprintf("idle/%dw/cpu", *workers), "%core", report.Lower,
		"none (1: the ratio is the value)")
	ser.noBaseline = true
	s.prog.phase(fmt.Sprintf("%d workers parked, %d window(s) of %v", *workers, o.runs,
		*window/time.Duration(o.runs)))
	res, err := scenario.MeasureIdle(ctx, scenario.Idle{Workers: *workers,
		Window: *window / time.Duration(o.runs), Windows: o.runs,
		AfterWindow: func(int) { s.prog.step() }})
	if err != nil {
		return err
	}
	var pcts []string
	for _, w := range res.Windows {
		ser.add(w.Percent(), 1)
		pcts = append(pcts, fmt.Sprintf("%.3g%%", w.Percent()))
	}
	ser.note = func(float64) string {
		return fmt.Sprintf("windows %s; %d wake-up(s)", strings.Join(pcts, " "), res.Wakeups)
	}
	return s.finish(&o, stdout, "idle", fmt.Sprintf("%d parked workers, %v in %d window(s)",
		*workers, *window, o.runs), chartSpec{})
}
