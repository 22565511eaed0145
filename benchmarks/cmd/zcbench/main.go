// Command zcbench runs zcomm's main job and reports how fast it went.
//
// With no arguments it counts the words of every Go file in Go's own source
// tree, $(go env GOROOT)/src: one worker per GOMAXPROCS reads its share of
// the files and sends each word, in batches, to the worker that owns it (the
// xxhash of the word modulo the workers), through zcomm. The merged counts
// must equal a count made on one goroutine; zcbench exits non-zero if they do
// not. The same pipeline then runs over Go channels, with the same tokenizer
// and batch size, and zcbench prints zcomm's speed as a ratio to it. Runs of
// the two pipelines alternate, and the medians are compared, so that a
// machine's drift affects both alike.
//
// Usage:
//
//	zcbench [-dir DIR] [-workers N] [-batch WORDS] [-runs N] [-publish MODE] [-quick]
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
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/zcomm-go/zcomm/benchmarks/report"
	"github.com/zcomm-go/zcomm/benchmarks/wordcount"
	"github.com/zcomm-go/zcomm/process"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "zcbench:", err)
		}
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
		fmt.Fprintln(stderr, "usage: zcbench [wordcount] [flags]")
		fmt.Fprintln(stderr, "       zcbench compare [-threshold F] [-alpha F] OLD.json NEW.json")
		fmt.Fprintln(stderr, "Counts the words of Go's source tree through zcomm and through Go channels.")
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return runCompare(args[1:], stdout, stderr)
		case "wordcount":
			args = args[1:]
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

	progress := newProgress(stderr, int64(len(files))*int64(1+2*o.runs))
	defer progress.finish()

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

func median(rs []wordcount.Result) wordcount.Result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b wordcount.Result) int { return int(a.Elapsed - b.Elapsed) })
	return s[len(s)/2]
}

func printReport(w io.Writer, o options, files []string, size int64, want wordcount.Counts,
	zc, chs []wordcount.Result, mismatches []string) {
	fmt.Fprintf(w, "zcbench word count: %s\n", o.dir)
	fmt.Fprintf(w, "machine: %s/%s, %s, %d CPUs, GOMAXPROCS %d, %s\n", runtime.GOOS,
		runtime.GOARCH, report.CPUModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
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

	zm, cm := median(zc), median(chs)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "pipeline\tmedian elapsed\twords/s\tmessages/s\tMiB/s\t\n")
	for _, row := range []struct {
		name string
		r    wordcount.Result
	}{{"zcomm", zm}, {"channels", cm}} {
		sec := row.r.Elapsed.Seconds()
		fmt.Fprintf(tw, "%s\t%v\t%.3g\t%.3g\t%.1f\t\n", row.name,
			row.r.Elapsed.Round(time.Millisecond), float64(row.r.Words)/sec,
			float64(row.r.Messages)/sec, float64(row.r.Bytes)/(1<<20)/sec)
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
	}
}

// progress reports on stderr: a bar on a terminal, a line per phase
// elsewhere (a CI log).
type progress struct {
	done  atomic.Int64
	bar   *progressbar.ProgressBar
	w     io.Writer
	stop  chan struct{}
	ended chan struct{}
}

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w}
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return p
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("files"),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	p.stop, p.ended = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.ended)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				_ = p.bar.Set64(p.done.Load())
			}
		}
	}()
	return p
}

func (p *progress) phase(name string) {
	if p.bar != nil {
		p.bar.Describe(name)
		return
	}
	fmt.Fprintf(p.w, "zcbench: %s\n", name)
}

func (p *progress) finish() {
	if p.bar == nil || p.stop == nil {
		return
	}
	close(p.stop)
	<-p.ended
	_ = p.bar.Finish()
	p.stop = nil
}
