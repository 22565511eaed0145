//go:build linux

package micro

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// errNoPair means the process may not run on two CPUs at once, or has fewer
// than two Ps, so two busy-polling goroutines cannot each own a core.
var errNoPair = errors.New("micro: need two CPUs and GOMAXPROCS >= 2")

// cpuPair returns the first two CPUs in the process's affinity mask.
func cpuPair() ([2]int, error) {
	var pair [2]int
	if runtime.GOMAXPROCS(0) < 2 {
		return pair, errNoPair
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return pair, fmt.Errorf("micro: sched_getaffinity: %w", err)
	}
	n := 0
	// IsSet answers false past the end of the set.
	for cpu := 0; cpu < 1<<16 && n < 2; cpu++ {
		if set.IsSet(cpu) {
			pair[n] = cpu
			n++
		}
	}
	if n < 2 {
		return pair, errNoPair
	}
	return pair, nil
}

// runPair runs sides[0] and sides[1] on two new goroutines and returns when
// both have returned. With pin set, each goroutine first locks its OS thread
// and binds it to one CPU of cpus; it never unlocks, so the runtime ends the
// thread with the goroutine and the affinity never reaches other goroutines.
// start runs once both sides are ready (pinned), just before they begin; it
// does not run if pinning failed, and runPair then returns the error.
func runPair(pin bool, cpus [2]int, start func(), sides [2]func()) error {
	var (
		ready, done sync.WaitGroup
		errs        [2]error
		gates       = [2]chan bool{make(chan bool, 1), make(chan bool, 1)}
	)
	for k := range sides {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			if pin {
				runtime.LockOSThread()
				var set unix.CPUSet
				set.Set(cpus[k])
				if err := unix.SchedSetaffinity(0, &set); err != nil {
					errs[k] = fmt.Errorf("micro: pin to CPU %d: %w", cpus[k], err)
				}
			}
			ready.Done()
			if <-gates[k] {
				sides[k]()
			}
		}()
	}

	ready.Wait()
	err := errors.Join(errs[0], errs[1])
	if err == nil {
		start()
	}
	for _, g := range gates {
		g <- err == nil
	}
	done.Wait()
	return err
}
