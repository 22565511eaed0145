package scenario

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/zcomm-go/zcomm/process"
)

// ErrNoCPUTime means this system does not tell the process's CPU time, so
// the idle scenario cannot run.
var ErrNoCPUTime = errors.New("scenario: process CPU time is not measured")

// idleSettle is how long MeasureIdle waits, once every worker has reached
// its park, before its first window, so that a worker's spin before sleeping
// (a few microseconds) is over.
const idleSettle = 20 * time.Millisecond

// errIdleDone is the cause with which MeasureIdle stops its workers.
var errIdleDone = errors.New("scenario: idle measurement done")

// Idle configures one idle measurement.
type Idle struct {
	// Workers is the number of parked workers, at least 1.
	Workers int
	// Window is the length of one measurement window.
	Window time.Duration
	// Windows is the number of windows, measured one after another while
	// the workers stay parked, at least 1.
	Windows int
	// AfterWindow, if not nil, is called after window i is measured.
	AfterWindow func(i int)
}

// IdleWindow is one window of an idle measurement.
type IdleWindow struct {
	// CPU is the user plus system CPU time the whole process used.
	CPU time.Duration
	// Wall is the window's wall time.
	Wall time.Duration
}

// Percent returns the window's CPU use as a percentage of one core.
func (w IdleWindow) Percent() float64 { return 100 * w.CPU.Seconds() / w.Wall.Seconds() }

// IdleResult is what an idle measurement found.
type IdleResult struct {
	// Windows holds one entry per window.
	Windows []IdleWindow
	// Wakeups counts the times a parked worker's AwaitEvents returned
	// during the windows. Nothing is sent, so every one is spurious.
	Wakeups uint64
}

// MeasureIdle starts c.Workers zcomm workers with process.Run, each parked
// in AwaitEvents with no timeout and nothing sent to it, and measures the
// CPU time the process uses in each of c.Windows windows. It then stops the
// workers by ending the group's context, which poisons the group (the only
// way to wake a worker parked without a timeout from outside it). It
// returns ErrNoCPUTime where the system does not tell CPU time, and stops
// early with ctx's error when ctx ends.
func MeasureIdle(ctx context.Context, c Idle) (IdleResult, error) {
	if c.Workers < 1 || c.Windows < 1 || c.Window <= 0 {
		return IdleResult{}, fmt.Errorf("scenario: idle with %d workers, %d windows of %v: "+
			"want at least one of each, of positive length", c.Workers, c.Windows, c.Window)
	}
	if _, err := CPUTime(); err != nil {
		return IdleResult{}, err
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(errIdleDone)
	var parked atomic.Int64
	var wakeups atomic.Uint64
	done := make(chan error, 1)
	go func() {
		done <- process.Run(ctx, c.Workers, func(a *process.Allocator) error {
			parked.Add(1)
			for {
				if err := a.AwaitEvents(-1); err != nil {
					return err
				}
				wakeups.Add(1)
			}
		})
	}()
	early := func(err error) error {
		return fmt.Errorf("scenario: idle workers stopped early: %w", err)
	}

	for parked.Load() < int64(c.Workers) {
		select {
		case err := <-done:
			return IdleResult{}, early(err)
		case <-time.After(time.Millisecond):
		}
	}
	time.Sleep(idleSettle)

	var res IdleResult
	w0 := wakeups.Load()
	for i := range c.Windows {
		cpu0, err := CPUTime()
		if err != nil {
			return res, err
		}
		t0 := time.Now()
		select {
		case err := <-done:
			return res, early(err)
		case <-time.After(c.Window):
		}
		cpu1, err := CPUTime()
		if err != nil {
			return res, err
		}
		res.Windows = append(res.Windows, IdleWindow{CPU: cpu1 - cpu0, Wall: time.Since(t0)})
		if c.AfterWindow != nil {
			c.AfterWindow(i)
		}
	}
	res.Wakeups = wakeups.Load() - w0

	stop(errIdleDone)
	if err := <-done; !errors.Is(err, errIdleDone) {
		return res, err
	}
	return res, nil
}
