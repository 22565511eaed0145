package buzzer

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/zcomm-go/zcomm/internal/unsafeutil"
)

// Values of the state word. The futex path waits on the word while it holds
// asleep, so asleep must be the value the sleeper stores before it parks.
const (
	idle uint32 = iota
	spinning
	asleep
	woken
)

// Mode selects how a Buzzer parks its sleeper once spinning ends.
type Mode uint8

const (
	// Auto chooses Goroutine, from measurements on a 2-core machine. A round
	// trip in which each side wakes the other and then parks, the pattern of
	// request and reply, took about 0.3 µs on the goroutine path and 9.5 µs
	// on the futex path, because the runtime runs the woken goroutine on the
	// waker's own processor when the waker parks, while a futex wake-up needs
	// the kernel to schedule a sleeping thread. When the waker keeps running
	// instead, the futex path wakes its sleeper sooner (median 4 to 7 µs,
	// against 10 µs and more), which suits workers that each own a core and
	// are locked to their thread: choose Futex for those. The goroutine path
	// also never holds a processor while asleep, which matters when workers
	// outnumber GOMAXPROCS. This package's BenchmarkPingPong measures the
	// round trip, and BenchmarkWake in benchmarks/micro the wake latency.
	Auto Mode = iota
	// Goroutine parks the goroutine on a channel. Available everywhere; best
	// when workers outnumber GOMAXPROCS.
	Goroutine
	// Futex parks the OS thread in a futex wait on the state word. Linux
	// only; elsewhere it behaves as Goroutine. Best for workers that own a
	// core and are locked to their thread.
	Futex
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Auto:
		return "auto"
	case Goroutine:
		return "goroutine"
	case Futex:
		return "futex"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode returns the Mode named s ("auto", "goroutine" or "futex").
func ParseMode(s string) (Mode, error) {
	for _, m := range []Mode{Auto, Goroutine, Futex} {
		if m.String() == s {
			return m, nil
		}
	}
	return Auto, fmt.Errorf("buzzer: unknown mode %q: want auto, goroutine or futex", s)
}

// DefaultSpin is the number of state-word polls Sleep makes before parking,
// when the sleeper has a core to itself: a few microseconds.
const DefaultSpin = 2000

// Config configures a Buzzer. The zero value is a valid configuration.
type Config struct {
	// Mode selects the parking path. The zero value is Auto.
	Mode Mode
	// Spin is the number of polls before parking; 0 means DefaultSpin, a
	// negative value means never spin.
	Spin int
	// Sleepers is the number of goroutines that may be parked at once on
	// buzzers of this kind (the worker count). Spinning happens only while
	// Sleepers <= GOMAXPROCS and GOMAXPROCS > 1. 0 means 1.
	Sleepers int
}

// Stats counts a Buzzer's activity. Each field is read atomically.
type Stats struct {
	// Sleeps counts calls to Sleep that did not return at once.
	Sleeps uint64
	// Wakeups counts sleeps that ended because of a Wake.
	Wakeups uint64
	// Timeouts counts sleeps that ended on their timeout.
	Timeouts uint64
	// Signals counts wakes that needed a signal (a futex wake or a channel
	// send) because the sleeper was parked.
	Signals uint64
}

// Buzzer parks one sleeper and lets any goroutine wake it. The zero value is
// not usable; call New.
type Buzzer struct {
	// state is the word described in the package documentation. The sleeper
	// stores idle and spinning and swaps in asleep; wakers swap in woken. The
	// futex path sleeps on it. It has a line to itself because wakers on
	// other cores load it after every publication.
	state atomic.Uint32
	_     [unsafeutil.CacheLineSize - 4]byte

	// Written only by the sleeper, except signals, which wakers add to.
	sleeps, wakeups, timeouts, signals atomic.Uint64

	// Read-only after New.
	mode  Mode
	spins int

	// ch carries one token from a waker that swapped out asleep to a
	// goroutine-parked sleeper. Its capacity of one means a waker never
	// blocks; a token left over from a sleep that timed out makes the next
	// sleep recheck the state word, which is harmless.
	ch chan struct{}
	// timer is the sleeper's reusable timeout timer (goroutine path).
	timer *time.Timer
}

// New returns a Buzzer configured by c. It panics if c.Mode is not one of
// the modes defined here, which is a programming error.
func New(c Config) *Buzzer {
	if c.Mode > Futex {
		panic(fmt.Sprintf("buzzer: unknown mode %v", c.Mode))
	}
	b := &Buzzer{mode: c.Mode, spins: c.Spin}
	if b.mode == Auto || (b.mode == Futex && !futexSupported) {
		b.mode = Goroutine
	}
	if b.spins == 0 {
		b.spins = DefaultSpin
	}
	sleepers := max(c.Sleepers, 1)
	if procs := runtime.GOMAXPROCS(0); procs < 2 || sleepers > procs || b.spins < 0 {
		b.spins = 0
	}
	if b.mode == Goroutine {
		b.ch = make(chan struct{}, 1)
		b.timer = time.NewTimer(time.Hour)
		b.timer.Stop()
	}
	return b
}

// Mode returns the parking path in use.
func (b *Buzzer) Mode() Mode { return b.mode }

// Spins returns the number of polls Sleep makes before parking (0 when the
// sleeper does not have a core to itself).
func (b *Buzzer) Spins() int { return b.spins }

// Prepare announces that the sleeper is about to sleep. The sleeper must then
// check its condition once more and call either Cancel or Sleep. Sleeper only.
func (b *Buzzer) Prepare() {
	// A sequentially consistent store: the check that follows cannot be
	// ordered before it, which is what makes the protocol lose no wake-up.
	b.state.Store(spinning)
}

// Cancel withdraws an announcement made by Prepare. Sleeper only.
func (b *Buzzer) Cancel() { b.state.Store(idle) }

// Wake wakes the sleeper if it announced sleep, and reports whether this call
// claimed the wake-up. Call it after publishing the work the sleeper should
// see. It costs one atomic load when the sleeper is running.
func (b *Buzzer) Wake() bool {
	// The common case, inlined into every publication: the sleeper is
	// running, or already woken.
	if s := b.state.Load(); s == idle || s == woken {
		return false
	}
	return b.wake()
}

// wake is Wake once the sleeper has announced sleep: it claims the wake-up
// and signals a sleeper that may be past its last check.
func (b *Buzzer) wake() bool {
	switch b.state.Swap(woken) {
	case spinning:
		return true // it will see woken without a signal
	case idle, woken:
		// The sleeper cancelled or returned between our load and swap, or
		// another waker came first. Leaving woken behind is harmless: the
		// sleeper's next Prepare overwrites it.
		return false
	}
	b.signals.Add(1)
	if b.mode == Futex {
		futexWake(&b.state)
	} else {
		select {
		case b.ch <- struct{}{}:
		default:
		}
	}
	return true
}

// Sleep parks the sleeper until Wake is called or timeout passes, and reports
// whether it was woken. A negative timeout means no timeout. It must follow
// Prepare. A timed-out sleep never returns before its timeout. Sleep may
// return true spuriously; callers recheck their condition. Sleeper only.
func (b *Buzzer) Sleep(timeout time.Duration) bool {
	defer b.state.Store(idle)
	for i := 0; i < b.spins; i++ {
		if b.state.Load() == woken {
			return true
		}
		if i&63 == 63 {
			runtime.Gosched()
		}
	}
	if timeout == 0 {
		if b.state.Load() == woken {
			return true
		}
		return false
	}
	if !b.state.CompareAndSwap(spinning, asleep) {
		return true // a waker swapped in woken
	}
	b.sleeps.Add(1)
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		var left time.Duration = -1
		if timeout > 0 {
			if left = time.Until(deadline); left <= 0 {
				if b.state.CompareAndSwap(asleep, idle) {
					b.timeouts.Add(1)
					return false
				}
				// A waker claimed us just now; count it as a wake-up.
				b.wakeups.Add(1)
				return true
			}
		}
		if b.mode == Futex {
			futexWait(&b.state, asleep, left)
		} else {
			b.park(left)
		}
		if b.state.Load() == woken {
			b.wakeups.Add(1)
			return true
		}
		// Spurious: a stale token, a signal, or the timer. Loop to recheck
		// the deadline.
	}
}

// park waits on the channel for at most left (forever if negative).
func (b *Buzzer) park(left time.Duration) {
	if left < 0 {
		<-b.ch
		return
	}
	b.timer.Reset(left)
	select {
	case <-b.ch:
		b.timer.Stop()
	case <-b.timer.C:
	}
}

// Stats returns a snapshot of b's counters.
func (b *Buzzer) Stats() Stats {
	return Stats{
		Sleeps:   b.sleeps.Load(),
		Wakeups:  b.wakeups.Load(),
		Timeouts: b.timeouts.Load(),
		Signals:  b.signals.Load(),
	}
}
