package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zcomm-go/zcomm/benchmarks/report"
	"github.com/zcomm-go/zcomm/benchmarks/scenario"
)

// runScenario runs zcbench with args, writing -json and -plot files into a
// temporary directory when json and plot are set, and returns its output
// and the report it wrote.
func runScenario(t *testing.T, args []string, json, plot bool) (string, *report.Report) {
	t.Helper()
	dir := t.TempDir()
	jsonPath, pngPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.png")
	if json {
		args = append(args, "-json", jsonPath, "-label", "test")
	}
	if plot {
		args = append(args, "-plot", pngPath)
	}
	var out, errs bytes.Buffer
	if err := run(context.Background(), args, &out, &errs); err != nil {
		t.Fatalf("zcbench %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(),
			errs.String())
	}
	if !strings.Contains(errs.String(), "zcbench: run 1/") &&
		!strings.Contains(errs.String(), "workers parked") {
		t.Errorf("no progress on stderr:\n%s", errs.String())
	}
	var r *report.Report
	if json {
		var err error
		if r, err = report.Read(jsonPath); err != nil {
			t.Fatalf("the report does not read back: %v", err)
		}
		if r.Label != "test" {
			t.Errorf("report label %q, want test", r.Label)
		}
		var cmp bytes.Buffer
		if err := run(context.Background(), []string{"compare", jsonPath, jsonPath}, &cmp,
			&cmp); err != nil {
			t.Errorf("the report compared with itself failed: %v\n%s", err, cmp.String())
		}
	}
	if plot {
		b, err := os.ReadFile(pngPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("-plot wrote %d bytes that are not a PNG image", len(b))
		}
	}
	return out.String(), r
}

// figureNames returns the names of r's figures.
func figureNames(r *report.Report) []string {
	var names []string
	for _, f := range r.Figures {
		names = append(names, f.Name)
	}
	return names
}

// checkFigures checks that r holds exactly the figures named want, each
// with runs values, and that the all-to-all figures carry allocations.
func checkFigures(t *testing.T, r *report.Report, runs int, want ...string) {
	t.Helper()
	if got := figureNames(r); !slices.Equal(got, want) {
		t.Fatalf("figures %q, want %q", got, want)
	}
	for _, f := range r.Figures {
		if len(f.Values) != runs {
			t.Errorf("%s: %d values, want %d", f.Name, len(f.Values), runs)
		}
		zcommExchange := strings.HasPrefix(f.Name, "alltoall/") ||
			strings.HasPrefix(f.Name, "bandwidth/")
		if zcommExchange != (f.AllocsPerOp != nil) {
			t.Errorf("%s: allocs per op %v", f.Name, f.AllocsPerOp)
		}
		for i, v := range f.Values {
			if !(v > 0) || !(f.BaselineValues[i] > 0) {
				t.Errorf("%s run %d: value %g, baseline %g; want both positive", f.Name, i,
					v, f.BaselineValues[i])
			}
		}
	}
}

func TestAllToAllCommand(t *testing.T) {
	out, r := runScenario(t, []string{"alltoall", "-workers", "3", "-sizes", "8,1KiB",
		"-runs", "2", "-dur", "2ms"}, true, true)
	checkFigures(t, r, 2, "alltoall/3w/8B/batched", "alltoall/3w/8B/eager",
		"alltoall/3w/1KiB/batched", "alltoall/3w/1KiB/eager")
	for _, want := range []string{"zcbench alltoall: 3 workers", "chan-per-msg", "msgs/s",
		"MB/s", "allocs/op", "report: ", "chart: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	_, r = runScenario(t, []string{"alltoall", "-sizes", "64", "-publish", "eager",
		"-runs", "1", "-dur", "1ms"}, true, false)
	checkFigures(t, r, 1, "alltoall/2w/64B/eager")
}

func TestPingPongCommand(t *testing.T) {
	out, r := runScenario(t, []string{"pingpong", "-runs", "2", "-count", "50"}, true, true)
	checkFigures(t, r, 2, "pingpong/busy/p50", "pingpong/busy/p90", "pingpong/busy/p99",
		"pingpong/busy/p99.9", "pingpong/park/p50", "pingpong/park/p90", "pingpong/park/p99",
		"pingpong/park/p99.9")
	if !strings.Contains(out, "atomic ping-pong p99.9") {
		t.Errorf("output lacks the baseline:\n%s", out)
	}
}

func TestSweepCommand(t *testing.T) {
	_, r := runScenario(t, []string{"sweep", "-max", "3", "-runs", "1", "-dur", "1ms"}, true,
		true)
	checkFigures(t, r, 1, "alltoall/1w/64B/batched", "alltoall/2w/64B/batched",
		"alltoall/3w/64B/batched")
	out, _ := runScenario(t, []string{"sweep", "-max", "1", "-runs", "1", "-dur", "1ms"},
		false, true)
	if !strings.Contains(out, "alltoall/1w/64B/batched") {
		t.Errorf("sweep -max 1 did not measure one worker:\n%s", out)
	}
}

func TestSuiteCommand(t *testing.T) {
	out, r := runScenario(t, []string{"suite", "-runs", "2", "-dur", "2ms", "-count", "50"},
		true, true)
	checkFigures(t, r, 2, "alltoall/2w/64B/batched", "alltoall/2w/64B/eager",
		"bandwidth/2w/1KiB/batched", "pingpong/busy/p50", "pingpong/busy/p99",
		"pingpong/park/p50", "pingpong/park/p99")
	for _, f := range r.Figures {
		want := map[string]string{"alltoall": "chan-per-msg", "bandwidth": "memmove",
			"pingpong": "atomic ping-pong"}[strings.Split(f.Name, "/")[0]]
		if !strings.HasPrefix(f.Baseline, want) {
			t.Errorf("%s: baseline %q, want %q", f.Name, f.Baseline, want)
		}
	}
	if !strings.Contains(out, "MB/s/worker") {
		t.Errorf("output lacks the bandwidth:\n%s", out)
	}
}

func TestIdleCommand(t *testing.T) {
	args := []string{"idle", "-workers", "2", "-for", "40ms", "-runs", "2"}
	if _, err := scenario.CPUTime(); errors.Is(err, scenario.ErrNoCPUTime) {
		var out, errs bytes.Buffer
		err := run(context.Background(), args, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), "unsupported") {
			t.Fatalf("idle where CPU time is not measured = %v, want unsupported", err)
		}
		return
	}
	out, r := runScenario(t, args, true, false)
	checkFiguresIdle(t, r)
	for _, want := range []string{"2 parked workers", "% of a core", "wake-up"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// checkFiguresIdle checks the idle report: one figure whose baseline
// values are all 1, so that its ratios are its values.
func checkFiguresIdle(t *testing.T, r *report.Report) {
	t.Helper()
	if got := figureNames(r); !slices.Equal(got, []string{"idle/2w/cpu"}) {
		t.Fatalf("figures %q", got)
	}
	f := r.Figures[0]
	if f.Better != report.Lower || len(f.Values) != 2 || f.AllocsPerOp != nil {
		t.Errorf("idle figure %+v", f)
	}
	if !slices.Equal(f.Ratios(), f.Values) {
		t.Errorf("ratios %v differ from values %v", f.Ratios(), f.Values)
	}
}

func TestScenarioFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"alltoall", "-workers", "0"}, "-workers 0"},
		{[]string{"alltoall", "-sizes", "4"}, "-sizes: 4"},
		{[]string{"alltoall", "-sizes", "64,big"}, `"big" is not a size`},
		{[]string{"alltoall", "-sizes", ""}, "is not a size"},
		{[]string{"alltoall", "-publish", "sometimes"}, "want both, batched or eager"},
		{[]string{"alltoall", "-dur", "0s"}, "-dur 0s"},
		{[]string{"alltoall", "-runs", "0"}, "-runs 0"},
		{[]string{"alltoall", "-json", "/nonexistent/zcbench/r.json"}, "no directory"},
		{[]string{"alltoall", "-plot", "/nonexistent/zcbench/r.png"}, "no directory"},
		{[]string{"alltoall", "extra"}, "unexpected argument"},
		{[]string{"alltoall", "-count", "5"}, "not defined"},
		{[]string{"pingpong", "-count", "0"}, "-count 0"},
		{[]string{"pingpong", "-dur", "1s"}, "not defined"},
		{[]string{"sweep", "-max", "0"}, "-max 0"},
		{[]string{"suite", "-count", "-1"}, "-count -1"},
		{[]string{"suite", "-dur", "-1s"}, "-dur -1s"},
		{[]string{"idle", "-for", "0s"}, "-for 0s"},
		{[]string{"idle", "-workers", "-2"}, "-workers -2"},
		{[]string{"idle", "-plot", "x.png"}, "not defined"},
		{[]string{"bogus"}, `unknown subcommand "bogus"`},
	}
	for _, c := range cases {
		var out, errs bytes.Buffer
		err := run(context.Background(), c.args, &out, &errs)
		if err == nil {
			t.Errorf("zcbench %q succeeded", c.args)
			continue
		}
		if !strings.Contains(err.Error()+errs.String(), c.want) {
			t.Errorf("zcbench %q = %v (stderr %q), want mention of %q", c.args, err,
				errs.String(), c.want)
		}
		if out.Len() > 0 {
			t.Errorf("zcbench %q printed a result: %s", c.args, out.String())
		}
	}
}

func TestHelp(t *testing.T) {
	for _, sub := range []string{"alltoall", "pingpong", "idle", "sweep", "suite"} {
		var out, errs bytes.Buffer
		err := run(context.Background(), []string{sub, "-h"}, &out, &errs)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("zcbench %s -h = %v, want flag.ErrHelp", sub, err)
		}
		if !strings.Contains(errs.String(), "usage: zcbench "+sub) ||
			!strings.Contains(errs.String(), "-json") {
			t.Errorf("zcbench %s -h printed:\n%s", sub, errs.String())
		}
	}
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, &errs); !errors.Is(err,
		flag.ErrHelp) {
		t.Errorf("zcbench -h = %v, want flag.ErrHelp", err)
	}
	if err := run(context.Background(), []string{"help"}, &out, &errs); err != nil {
		t.Errorf("zcbench help = %v", err)
	}
	for _, want := range []string{"alltoall", "pingpong", "idle", "sweep", "suite", "compare",
		"wordcount"} {
		if !strings.Contains(errs.String(), want) || !strings.Contains(out.String(), want) {
			t.Errorf("the usage does not list %s:\n%s\n%s", want, errs.String(), out.String())
		}
	}
	errs.Reset()
	if err := run(context.Background(), []string{"suite", "-h"}, &out, &errs); err == nil ||
		!strings.Contains(errs.String(), "at least 5 runs") {
		t.Errorf("zcbench suite -h does not explain the number of runs:\n%s", errs.String())
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("8, 64,1KiB,2K,1MiB,100B")
	if want := []int{8, 64, 1 << 10, 2 << 10, 1 << 20, 100}; err != nil ||
		!slices.Equal(got, want) {
		t.Errorf("parseSizes = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"7", "1GiB", "-8", "0x40", "64,,8"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) succeeded", bad)
		}
	}
}

func TestNames(t *testing.T) {
	for n, want := range map[int]string{8: "8B", 1000: "1000B", 1024: "1KiB", 1536: "1536B",
		64 << 10: "64KiB", 1 << 20: "1MiB", 3 << 20: "3MiB"} {
		if got := sizeName(n); got != want {
			t.Errorf("sizeName(%d) = %q, want %q", n, got, want)
		}
	}
	for q, want := range map[float64]string{50: "p50", 99.9: "p99.9", 99.99: "p99.99"} {
		if got := quantileName(q); got != want {
			t.Errorf("quantileName(%g) = %q, want %q", q, got, want)
		}
	}
	for v, want := range map[float64]string{412: "412ns", 1234: "1.23µs", 2.5e6: "2.5ms",
		3e9: "3s"} {
		if got := formatNs(v); got != want {
			t.Errorf("formatNs(%g) = %q, want %q", v, got, want)
		}
	}
	if got := formatRatio(3741.2); got != "3741x" {
		t.Errorf("formatRatio(3741.2) = %q", got)
	}
	if got := si(15.2e6); got != "15.2M" {
		t.Errorf("si(15.2e6) = %q", got)
	}
}

func TestSweepWorkers(t *testing.T) {
	for max, want := range map[int][]int{1: {1}, 2: {1, 2}, 4: {1, 2, 4}, 6: {1, 2, 4, 6},
		8: {1, 2, 4, 8}} {
		if got := sweepWorkers(max); !slices.Equal(got, want) {
			t.Errorf("sweepWorkers(%d) = %v, want %v", max, got, want)
		}
	}
}

func TestMedianAndAllocs(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median of 3 = %g", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of 4 = %g", m)
	}
	a := 0.03
	s := &series{allocs: &a}
	if f := s.figure(); f.AllocsPerOp == nil || *f.AllocsPerOp != 0 {
		t.Errorf("0.03 allocations per message stored as %v, want 0", f.AllocsPerOp)
	}
	a = 1.02
	if f := s.figure(); *f.AllocsPerOp != 1 {
		t.Errorf("1.02 allocations per message stored as %v, want 1", *f.AllocsPerOp)
	}
}
