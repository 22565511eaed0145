package process

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// Run starts peers workers, builds each one's allocator on the worker's own
// goroutine, runs fn on each, and waits for all of them.
//
// A worker whose fn returns nil closes its sending side (publishing what
// it pushed), then goes on taking in what peers still send it, releasing
// it unread (counted in Stats as abandoned), until every worker has
// closed, so that no peer waits on its ring.
//
// A worker whose fn returns an error, panics, or exits through
// runtime.Goexit poisons the group, so that every other worker's next call
// fails with ErrPoisoned and parked workers wake; Run then returns the error
// that poisoned the group (a *PanicError for a panic). When ctx ends, the
// group is poisoned with ctx's cause. Once every worker has returned, Run
// shuts each allocator down, releasing all of its memory.
func Run(ctx context.Context, peers int, fn func(a *Allocator) error, opts ...Option) error {
	builders, err := NewBuilders(peers, opts...)
	if err != nil {
		return err
	}
	g := builders[0].g
	stop := context.AfterFunc(ctx, func() { g.poisonWith(-1, context.Cause(ctx)) })
	defer stop()

	allocs := make([]*Allocator, peers)
	errs := make([]error, peers)
	var wg sync.WaitGroup
	for i, b := range builders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runWorker(ctx, b, fn, &allocs[i])
		}()
	}
	wg.Wait()
	for _, a := range allocs {
		if a != nil {
			a.Shutdown()
		}
	}

	if p := g.poison.Load(); p != nil {
		if p.Worker >= 0 && errs[p.Worker] != nil {
			return errs[p.Worker] // the root cause, not the echoes
		}
		return p
	}
	return errors.Join(errs...)
}

// runWorker builds one worker's allocator and runs fn on it, turning a panic
// or an error into poison.
func runWorker(ctx context.Context, b *Builder, fn func(*Allocator) error,
	slot **Allocator) (err error) {
	a, err := b.Build()
	if err != nil {
		b.g.poisonWith(b.index, err)
		return err
	}
	*slot = a
	returned := false
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Worker: b.index, Value: v, Stack: debug.Stack()}
			a.Poison(err)
		} else if !returned {
			// runtime.Goexit (t.FailNow in a test, say) unwinds without a
			// panic; the worker will neither close nor drain, so its peers
			// must not wait for it.
			err = fmt.Errorf("worker %d exited without returning (runtime.Goexit)", b.index)
			a.Poison(err)
		}
	}()
	ferr := fn(a)
	returned = true
	if err := ferr; err != nil {
		err = fmt.Errorf("worker %d: %w", b.index, err)
		a.Poison(err)
		return err
	}
	if err := a.Close(ctx); err != nil {
		err = fmt.Errorf("worker %d: close: %w", b.index, err)
		a.Poison(err)
		return err
	}
	a.drainUntilAllClosed()
	return nil
}
