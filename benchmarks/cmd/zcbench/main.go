// Command zcbench runs zcomm's main job and its scenarios, and reports how
// fast they went.
//
// With no subcommand it counts the words of every Go file in Go's own source
// tree, $(go env GOROOT)/src: one worker per GOMAXPROCS reads its share of
// the files and sends each word, in batches, to the worker that owns it (the
// xxhash of the word modulo the workers), through zcomm. The merged counts
// must equal a count made on one goroutine; zcbench exits non-zero if they do
// not. The same pipeline then runs over Go channels, with the same tokenizer
// and batch size, and zcbench prints zcomm's speed as a ratio to it. Runs of
// the two pipelines alternate, and the medians are compared, so that a
// machine's drift affects both alike.
//
// The other subcommands measure zcomm alone (the bodies are in package
// scenario, which the e2e benchmarks run too):
//
//   - alltoall: W workers each send messages to every worker, itself
//     included, in batched and eager publishing, for several payload sizes.
//   - pingpong: the round trip of one 64-byte message between two workers
//     that poll (busy) or park between polls, as p50, p90, p99 and p99.9 of
//     an HDR histogram.
//   - idle: the CPU the process uses while W workers are parked.
//   - sweep: all-to-all throughput of 64-byte messages, batched, for W = 1,
//     2, 4, ... workers.
//   - suite: a quick set for the regression gate: all-to-all among two
//     workers (64 B batched and eager, 1 KiB batched as bandwidth) and the
//     ping-pong p50 and p99, busy and parked.
//   - compare: the regression gate; it judges two -json reports.
//
// Every figure is measured beside a baseline in the same process, run by
// run, and is judged by its ratio to it, so that a busier or slower machine
// as a whole does not read as a change: throughput beside Go channels
// carrying one pooled message per send (chan-per-msg), latency beside two
// goroutines spinning on atomic words (the hardware floor), bandwidth beside
// memmove over a 1 MiB buffer on one goroutine. Idle CPU has no baseline:
// its baseline values are 1, so its ratio is the value itself. The
// all-to-all figures of zcomm also carry their heap allocations per message,
// which the gate compares exactly.
//
// Each scenario prints a table; -json FILE also writes the figures as a
// report (see package report) for zcbench compare, and -plot FILE draws them
// as a PNG chart. -runs sets how many times each figure and its baseline are
// measured; it defaults to 5, the fewest with which compare's Mann-Whitney
// test can ever call a change significant.
//
// Usage:
//
//	zcbench [wordcount] [-dir DIR] [-workers N] [-batch WORDS] [-runs N] [-publish MODE] [-quick]
//	zcbench alltoall [-workers W] [-sizes 8,64,1024,65536] [-publish both|eager|batched]
//	                 [-runs N] [-dur D] [-json FILE] [-plot FILE] [-label S]
//	zcbench pingpong [-runs N] [-count K] [-json FILE] [-plot FILE] [-label S]
//	zcbench idle [-workers W] [-for D] [-runs N] [-json FILE] [-label S]
//	zcbench sweep [-max W] [-runs N] [-dur D] [-json FILE] [-plot FILE] [-label S]
//	zcbench suite [-runs N] [-dur D] [-count K] [-json FILE] [-plot FILE] [-label S]
//	zcbench compare [-threshold F] [-alpha F] OLD.json NEW.json
//
// zcbench SUBCOMMAND -h lists a subcommand's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zcomm-go/zcomm/benchmarks/wordcount"
	"github.com/zcomm-go/zcomm/process"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // asked for help, and got it
		}
		fmt.Fprintln(os.Stderr, "zcbench:", err)
		os.Exit(1)
	}
}

type options struct {
	dir     string
	workers int
	batch   int
	runs    int
	publish string
	quick   bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("zcbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dir, "dir", "", "directory to count (default $(go env GOROOT)/src)")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "number of workers")
	fs.IntVar(&o.batch, "batch", 512, "words per message")
	fs.IntVar(&o.runs, "runs", 3, "runs of each pipeline, alternating; medians are compared")
	fs.StringVar(&o.publish, "publish", "batched", "zcomm publishing: batched or eager")
	fs.BoolVar(&o.quick, "quick", false, "read a small, evenly spread subset of the files, once")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fmt.Fprintln(stderr, "\nFlags of the word count:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.workers < 1 || o.batch < 1 || o.runs < 1 {
		return o, fmt.Errorf("-workers, -batch and -runs must be at least 1")
	}
	if o.quick {
		o.runs = 1
	}
	return o, nil
}

// goroot asks the go command for GOROOT, as a user's shell would, and falls
// back to the root this binary was built with.
func goroot() string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if s := strings.TrimSpace(string(out)); err == nil && s != "" {
		return s
	}
	return runtime.GOROOT()
}

// usage is the overview that zcbench -h prints.
const usage = `usage: zcbench [wordcount] [flags]   word count of Go's source, zcomm vs channels
       zcbench alltoall [flags]     all-to-all throughput by payload size
       zcbench pingpong [flags]     round-trip latency percentiles, busy and parked
       zcbench idle [flags]         CPU used by parked workers
       zcbench sweep [flags]        all-to-all throughput by worker count
       zcbench suite [flags]        the regression gate's quick set
       zcbench compare OLD.json NEW.json
Every scenario runs each figure beside a baseline, alternating, and judges the
ratio: -json FILE writes a report for compare, -plot FILE a PNG chart.
zcbench SUBCOMMAND -h lists a subcommand's flags.
`

// subcommands maps each subcommand but the word count to its runner.
var subcommands = map[string]func(ctx context.Context, args []string,
	stdout, stderr io.Writer) error{
	"alltoall": runAllToAll,
	"pingpong": runPingPong,
	"idle":     runIdle,
	"sweep":    runSweep,
	"suite":    runSuite,
	"compare": func(_ context.Context, args []string, stdout, stderr io.Writer) error {
		return runCompare(args, stdout, stderr)
	},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			return sub(ctx, args[1:], stdout, stderr)
		}
		switch {
		case args[0] == "wordcount":
			args = args[1:]
		case args[0] == "help":
			fmt.Fprint(stdout, usage)
			return nil
		case !strings.HasPrefix(args[0], "-"):
			return fmt.Errorf("unknown subcommand %q; zcbench -h lists them", args[0])
		}
	}
	return runWordcount(ctx, args, stdout, stderr)
}

func runWordcount(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	var publish process.Publish
	switch o.publish {
	case "batched":
		publish = process.Batched
	case "eager":
		publish = process.Eager
	default:
		return fmt.Errorf("-publish %q: want batched or eager", o.publish)
	}
	if o.dir == "" {
		o.dir = filepath.Join(goroot(), "src")
	}

	files, err := wordcount.ListGoFiles(o.dir)
	if err != nil {
		return fmt.Errorf("listing %s: %w", o.dir, err)
	}
	if o.quick {
		files = wordcount.Subset(files, 300)
	}
	if len(files) == 0 {
		return fmt.Errorf("no .go files under %s", o.dir)
	}

	progress := newProgress(stderr, int64(len(files))*int64(1+2*o.runs), "files")
	defer progress.finish()
	progress.watch()

	progress.phase("single-goroutine reference count")
	want, size, err := wordcount.Reference(files)
	progress.done.Add(int64(len(files)))
	if err != nil {
		return err
	}

	cfg := wordcount.Config{
		Files:     files,
		Workers:   o.workers,
		BatchSize: o.batch,
		Options:   []process.Option{process.WithPublish(publish)},
		Progress:  &progress.done,
	}
	var zc, chs []wordcount.Result
	var mismatches []string
	for r := 0; r < o.runs; r++ {
		progress.phase(fmt.Sprintf("run %d/%d: zcomm", r+1, o.runs))
		runtime.GC() // start each run with no garbage left by the one before
		res, err := wordcount.RunZcomm(ctx, cfg)
		if err != nil {
			return fmt.Errorf("zcomm pipeline: %w", err)
		}
		zc = append(zc, res)
		mismatches = append(mismatches, check("zcomm", r, want, res)...)

		progress.phase(fmt.Sprintf("run %d/%d: channels", r+1, o.runs))
		runtime.GC()
		res, err = wordcount.RunChannels(ctx, cfg)
		if err != nil {
			return fmt.Errorf("channel pipeline: %w", err)
		}
		chs = append(chs, res)
		mismatches = append(mismatches, check("channels", r, want, res)...)
	}
	progress.finish()

	printReport(stdout, o, files, size, want, zc, chs, mismatches)
	if len(mismatches) > 0 {
		return fmt.Errorf("word counts do not match the reference count")
	}
	return nil
}

func check(name string, run int, want wordcount.Counts, r wordcount.Result) []string {
	var out []string
	for _, d := range wordcount.Diff(want, r.Counts, 5) {
		out = append(out, fmt.Sprintf("%s run %d: %s", name, run+1, d))
	}
	return out
}

// medianResult returns the run of median elapsed time.
func medianResult(rs []wordcount.Result) wordcount.Result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b wordcount.Result) int { return int(a.Elapsed - b.Elapsed) })
	return s[len(s)/2]
}

func printReport(w io.Writer, o options, files []string, size int64, want wordcount.Counts,
	zc, chs []wordcount.Result, mismatches []string) {
	fmt.Fprintf(w, "zcbench word count: %s\n", o.dir)
	printMachine(w)
	fmt.Fprintf(w, "workers %d, batch %d words, zcomm publishing %s, %d run(s) of each pipeline\n\n",
		o.workers, o.batch, o.publish, o.runs)

	if len(mismatches) == 0 {
		fmt.Fprintf(w, "verdict: OK, every run's counts equal the single-goroutine count\n")
	} else {
		fmt.Fprintf(w, "verdict: MISMATCH\n")
		for _, m := range mismatches {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
	fmt.Fprintf(w, "files %d, bytes %d (%.1f MiB), words %d, distinct words %d\n\n",
		len(files), size, float64(size)/(1<<20), want.Total(), len(want))

	fmt.Fprintf(w, "ten most frequent words:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for i, wc := range want.Top(10) {
		fmt.Fprintf(tw, "%d.\t%s\t%d\t\n", i+1, wc.Word, wc.Count)
	}
	tw.Flush()
	fmt.Fprintln(w)

	zm, cm := medianResult(zc), medianResult(chs)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "pipeline\tmedian elapsed\twords/s\tmessages/s\tMiB/s\t\n")
	for _, row := range []struct {
		name string
		r    wordcount.Result
	}{{"zcomm", zm}, {"channels", cm}} {
		sec := row.r.Elapsed.Seconds()
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%.1f\t\n", row.name,
			row.r.Elapsed.Round(time.Millisecond), si(float64(row.r.Words)/sec),
			si(float64(row.r.Messages)/sec), float64(row.r.Bytes)/(1<<20)/sec)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nzcomm speed / channel speed: %.2fx (ratio of the medians)\n",
		cm.Elapsed.Seconds()/zm.Elapsed.Seconds())
	if len(zc) > 1 {
		fmt.Fprintf(w, "runs (zcomm / channels):")
		for i := range zc {
			fmt.Fprintf(w, "  %v / %v", zc[i].Elapsed.Round(time.Millisecond),
				chs[i].Elapsed.Round(time.Millisecond))
		}
		fmt.Fprintln(w)
		if lo, hi := spread(zc); hi > 1.25*lo {
			fmt.Fprintf(w, "note: zcomm's runs differ by %.0f%%, so the machine is noisy; "+
				"rerun with more -runs before reading the ratio closely\n", 100*(hi/lo-1))
		} else if lo, hi := spread(chs); hi > 1.25*lo {
			fmt.Fprintf(w, "note: the channel runs differ by %.0f%%, so the machine is noisy; "+
				"rerun with more -runs before reading the ratio closely\n", 100*(hi/lo-1))
		}
	}
}

// spread returns the shortest and longest elapsed time of rs, in seconds.
func spread(rs []wordcount.Result) (lo, hi float64) {
	for i, r := range rs {
		s := r.Elapsed.Seconds()
		if i == 0 || s < lo {
			lo = s
		}
		if s > hi {
			hi = s
		}
	}
	return lo, hi
}
