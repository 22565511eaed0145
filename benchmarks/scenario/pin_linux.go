//go:build linux

package scenario

import (
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// cpuPair returns the first two CPUs the process may run on, and false if it
// may run on fewer than two or GOMAXPROCS is below 2, when two busy-polling
// workers cannot each own a core.
var cpuPair = sync.OnceValues(func() ([2]int, bool) {
	var pair [2]int
	var set unix.CPUSet
	if runtime.GOMAXPROCS(0) < 2 || unix.SchedGetaffinity(0, &set) != nil {
		return pair, false
	}
	n := 0
	for cpu := 0; cpu < 1<<16 && n < 2; cpu++ { // IsSet is false past the set's end
		if set.IsSet(cpu) {
			pair[n] = cpu
			n++
		}
	}
	return pair, n == 2
})

// CanPin reports whether PingPong.Pin takes effect here.
func CanPin() bool {
	_, ok := cpuPair()
	return ok
}

// pinThread locks the calling goroutine to its OS thread and binds the
// thread to the CPU of worker w (0 or 1), if CanPin. The goroutine must not
// unlock: the runtime ends the thread with the goroutine, so the affinity
// never reaches another goroutine.
func pinThread(w int) error {
	pair, ok := cpuPair()
	if !ok {
		return nil
	}
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(pair[w])
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("scenario: pin worker %d to CPU %d: %w", w, pair[w], err)
	}
	return nil
}
