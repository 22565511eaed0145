package ring_test

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// watchdogLimit is how long a concurrent test may run before the watchdog
// declares it stuck. It bounds hangs; it asserts nothing about speed.
const watchdogLimit = 30 * time.Second

// watchdog bounds the running time of one concurrent test.
type watchdog struct {
	t        *testing.T
	deadline time.Time
}

// startWatchdog starts the clock for t: every later run must finish within
// watchdogLimit of this call.
func startWatchdog(t *testing.T) *watchdog {
	return &watchdog{t: t, deadline: time.Now().Add(watchdogLimit)}
}

// run runs each function on its own goroutine and waits for all of them. If
// they are not all done by the watchdog's deadline it fails the test with a
// dump of every goroutine, which shows where the ring or its users are stuck.
// The functions must report failures with t.Error, never t.Fatal, which only
// the test goroutine may call.
func (w *watchdog) run(fns ...func()) {
	w.t.Helper()
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(fn)
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(time.Until(w.deadline))
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		w.t.Fatalf("not done after %v; goroutines:\n%s", watchdogLimit, allStacks())
	}
}

// allStacks returns the stacks of every goroutine.
func allStacks() []byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}
