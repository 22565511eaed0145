package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/zcomm-go/zcomm/benchmarks/report"
)

// runCompare is the regression gate: it judges every figure of NEW against
// OLD by its ratio to the baseline measured in the same run, prints the
// verdicts, and fails if any figure regressed.
func runCompare(args []string, stdout, stderr io.Writer) error {
	g := report.DefaultGate
	fs := flag.NewFlagSet("zcbench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Float64Var(&g.Threshold, "threshold", g.Threshold,
		"relative change of a baseline ratio, in the worse direction, that fails the gate")
	fs.Float64Var(&g.Alpha, "alpha", g.Alpha,
		"significance level of the Mann-Whitney U test that separates change from noise")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: zcbench compare [-threshold F] [-alpha F] OLD.json NEW.json")
		fmt.Fprintln(stderr, "OLD and NEW may each be a comma-separated list of reports of one "+
			"build,\nfor example rounds interleaved with the other build's; their values are pooled.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return fmt.Errorf("compare needs two reports, got %d arguments", fs.NArg())
	}
	if g.Threshold < 0 || g.Alpha <= 0 || g.Alpha >= 1 {
		return fmt.Errorf("-threshold must be at least 0 and -alpha in (0, 1)")
	}
	old, err := readReports(fs.Arg(0))
	if err != nil {
		return err
	}
	cur, err := readReports(fs.Arg(1))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "old: %s (%s)\nnew: %s (%s)\n\n", fs.Arg(0), describe(old),
		fs.Arg(1), describe(cur))
	vs := g.Compare(old, cur)
	report.Print(stdout, vs, g)
	if n := report.Regressions(vs); n > 0 {
		return fmt.Errorf("%d figure(s) regressed", n)
	}
	return nil
}

// readReports reads a comma-separated list of reports and merges them.
func readReports(list string) (*report.Report, error) {
	var rs []*report.Report
	for _, path := range strings.Split(list, ",") {
		r, err := report.Read(path)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return report.Merge(rs...)
}

// describe names a report for compare's heading: its label, when it has one,
// and the machine's processor.
func describe(r *report.Report) string {
	if r.Label == "" {
		return r.Machine.CPU
	}
	return r.Label + ", " + r.Machine.CPU
}
