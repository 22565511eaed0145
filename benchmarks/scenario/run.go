package scenario

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zcomm-go/zcomm/process"
)

// BatchLen is the number of pushes an all-to-all worker makes between two
// publications (Release) and two receives. In batched mode it is what one
// publication carries, less when a slab fills first.
const BatchLen = 64

// SlabSize is the size of the buffers zcomm writes into by default, and so
// the most bytes one batched publication holds. Memmove copies over a
// buffer of this size.
const SlabSize = 1 << 20

// chanDepth is the capacity of every Go channel in the all-to-all runs: as
// many messages (or batches) as a zcomm ring has slots.
const chanDepth = process.DefaultRingSize

// awaitTimeout bounds one park at the end of an all-to-all run, while a
// worker waits for the last messages; a wake-up normally ends it much
// sooner.
const awaitTimeout = 10 * time.Millisecond

// errAborted is what a worker returns when it stops because a peer failed.
var errAborted = errors.New("scenario: stopped because a peer failed")

// Result is what one run of a scenario measured.
type Result struct {
	// Elapsed is the wall time from the start of the workers (just after
	// the config's Ready hook) to the return of the last one.
	Elapsed time.Duration
	// Messages counts the messages received, all workers together.
	Messages int
	// Bytes counts the payload bytes of those messages.
	Bytes int64
	// Mallocs counts the heap allocations the whole process made while the
	// workers ran (runtime.MemStats.Mallocs), when the config asked for it.
	Mallocs uint64
	// Tallies holds what each worker received.
	Tallies []Tally
}

// MessagesPerSecond returns the messages received per second of Elapsed.
func (r Result) MessagesPerSecond() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

// BytesPerSecond returns the payload bytes received per second of Elapsed.
func (r Result) BytesPerSecond() float64 { return float64(r.Bytes) / r.Elapsed.Seconds() }

// stopwatch times the part of a run between its Ready hook and the return
// of its last worker, and counts the allocations made meanwhile.
type stopwatch struct {
	mallocs bool
	m0      uint64
	t0      time.Time
}

// start calls ready, if set, and starts the clock.
func start(ready func(), mallocs bool) *stopwatch {
	if ready != nil {
		ready()
	}
	s := &stopwatch{mallocs: mallocs}
	if mallocs {
		s.m0 = heapMallocs()
	}
	s.t0 = time.Now()
	return s
}

// stop fills in r's elapsed time and allocations.
func (s *stopwatch) stop(r *Result) {
	r.Elapsed = time.Since(s.t0)
	if s.mallocs {
		r.Mallocs = heapMallocs() - s.m0
	}
}

// heapMallocs returns the number of heap allocations the process has made.
func heapMallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// runWorkers runs fn for workers 0 to n-1 on goroutines of their own and
// waits for all of them. The first to fail sets abort, which the others'
// waiting loops watch, and calls onFail (if any) so that the peers' calls
// fail too.
func runWorkers(n int, fn func(w int, abort *atomic.Bool) error,
	onFail func(w int, err error)) error {
	var abort atomic.Bool
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Go(func() {
			if err := fn(w, &abort); err != nil {
				errs[w] = fmt.Errorf("worker %d: %w", w, err)
				abort.Store(true)
				if onFail != nil {
					onFail(w, err)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// zcommGroup builds the allocators of a zcomm group on their workers'
// goroutines and poisons the group when a worker fails.
type zcommGroup struct {
	bs     []*process.Builder
	allocs []*process.Allocator
}

// newZcommGroup makes the builders of a group of n workers.
func newZcommGroup(n int, opts []process.Option) (*zcommGroup, error) {
	bs, err := process.NewBuilders(n, opts...)
	if err != nil {
		return nil, err
	}
	return &zcommGroup{bs: bs, allocs: make([]*process.Allocator, n)}, nil
}

// run runs fn for every worker, on its own goroutine, with the allocator
// built there, as runWorkers does.
func (g *zcommGroup) run(fn func(a *process.Allocator, abort *atomic.Bool) error) error {
	return runWorkers(len(g.bs), func(w int, abort *atomic.Bool) error {
		a, err := g.bs[w].Build()
		if err != nil {
			return err
		}
		g.allocs[w] = a
		return fn(a, abort)
	}, func(w int, err error) {
		if a := g.allocs[w]; a != nil {
			a.Poison(err)
		}
	})
}

// shutdown releases the memory of every allocator that was built.
func (g *zcommGroup) shutdown() {
	for _, a := range g.allocs {
		if a != nil {
			a.Shutdown()
		}
	}
}

// Calibrate returns a count n for which probe(n) takes about target, within
// [lo, hi]. It probes with lo first, then with counts grown from what each
// probe measured, until a probe takes at least a quarter of target, and
// scales that probe's count to target. The probes double as a warm-up.
func Calibrate(target time.Duration, lo, hi int,
	probe func(n int) (time.Duration, error)) (int, error) {
	if lo < 1 || hi < lo || target <= 0 {
		return 0, fmt.Errorf("scenario: calibrate to %v within [%d, %d]", target, lo, hi)
	}
	n := lo
	for {
		d, err := probe(n)
		if err != nil {
			return 0, err
		}
		if d >= target/4 || n >= hi {
			return min(hi, max(lo, int(float64(n)*float64(target)/float64(max(d, 1))))), nil
		}
		// Aim at half the target, growing at least twofold and at most a
		// hundredfold, so that a probe that ran into a timer tick or a
		// descheduling does not send the next one far past the target.
		grow := float64(target) / 2 / float64(max(d, 1))
		n = min(hi, int(float64(n)*min(100, max(2, grow))))
	}
}
