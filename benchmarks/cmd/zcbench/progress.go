package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports a long run's progress on stderr: a bar on a terminal, a
// line per phase elsewhere (a CI log).
type progress struct {
	// done counts the units of work done; any goroutine may add to it.
	done  atomic.Int64
	bar   *progressbar.ProgressBar
	w     io.Writer
	stop  chan struct{}
	ended chan struct{}
}

// newProgress returns a progress report of total units of work, named unit
// on the bar (say "files"), or with no rate shown if unit is empty.
func newProgress(w io.Writer, total int64, unit string) *progress {
	p := &progress{w: w}
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return p
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
	}
	if unit != "" {
		opts = append(opts, progressbar.OptionSetItsString(unit), progressbar.OptionShowIts())
	}
	p.bar = progressbar.NewOptions64(total, opts...)
	return p
}

// watch copies done to the bar ten times a second, for work that other
// goroutines count, until finish.
func (p *progress) watch() {
	if p.bar == nil || p.stop != nil {
		return
	}
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
}

// step counts one unit of work done and shows it at once.
func (p *progress) step() {
	n := p.done.Add(1)
	if p.bar != nil {
		_ = p.bar.Set64(n)
	}
}

// phase names the work under way.
func (p *progress) phase(name string) {
	if p.bar != nil {
		p.bar.Describe(name)
		return
	}
	fmt.Fprintf(p.w, "zcbench: %s\n", name)
}

// finish ends the report; calling it again does nothing.
func (p *progress) finish() {
	if p.bar == nil {
		return
	}
	if p.stop != nil {
		close(p.stop)
		<-p.ended
	}
	_ = p.bar.Finish()
	p.bar = nil
}
