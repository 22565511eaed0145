//go:build linux

package micro

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zcomm-go/zcomm/buzzer"
)

// settle is how long the waker lets a sleeper that has committed to parking
// reach the kernel (futex) or the scheduler (goroutine) before waking it, so
// that every wake finds it really asleep.
const settle = 50 * time.Microsecond

// errOneP means the waker and the sleeper cannot each have a P: the waker
// spins while it waits, which would starve the sleeper.
var errOneP = errors.New("micro: wake latency needs GOMAXPROCS >= 2")

// sleeper is one way to park a goroutine until another wakes it.
type sleeper interface {
	// sleepUntil parks until gen reaches want. Sleeper only.
	sleepUntil(gen *atomic.Uint64, want uint64)
	// parks returns how many times the sleeper has committed to parking.
	parks() uint64
	// wake wakes the sleeper, after the waker has published gen.
	wake()
}

// buzzerSleeper parks on a zcomm buzzer with the protocol of its package
// documentation: Prepare, look again, Sleep.
type buzzerSleeper struct{ bz *buzzer.Buzzer }

func (s buzzerSleeper) sleepUntil(gen *atomic.Uint64, want uint64) {
	for gen.Load() < want {
		s.bz.Prepare()
		if gen.Load() >= want {
			s.bz.Cancel()
			return
		}
		s.bz.Sleep(-1)
	}
}

func (s buzzerSleeper) parks() uint64 { return s.bz.Stats().Sleeps }

func (s buzzerSleeper) wake() { s.bz.Wake() }

// futexSleeper is the raw floor: a word that the sleeper sets to one and
// waits on, and that the waker clears and always signals with FUTEX_WAKE.
type futexSleeper struct {
	// word is 1 while the sleeper may be parked. The sleeper stores 1; the
	// waker stores 0 after publishing gen, then wakes the word.
	word atomic.Uint32
	_    [cacheLine]byte
	// n counts the sleeper's commitments to park; only it writes.
	n atomic.Uint64
}

func (s *futexSleeper) sleepUntil(gen *atomic.Uint64, want uint64) {
	for gen.Load() < want {
		// The store of 1 comes before the load of gen, and the waker's store
		// of gen before its store of 0: either this load sees gen, or the
		// wait finds 0 or is woken.
		s.word.Store(1)
		if gen.Load() >= want {
			return
		}
		s.n.Add(1)
		for s.word.Load() == 1 {
			futexWait(&s.word, 1)
		}
	}
}

func (s *futexSleeper) parks() uint64 { return s.n.Load() }

func (s *futexSleeper) wake() {
	s.word.Store(0)
	futexWake(&s.word)
}

// wakeKinds are the sleepers compared. The buzzers never spin (Spin: -1), so
// each wake finds the sleeper parked and pays for a signal.
var wakeKinds = []struct {
	name string
	new  func() sleeper
}{
	{"futex", func() sleeper {
		return buzzerSleeper{buzzer.New(buzzer.Config{Mode: buzzer.Futex, Spin: -1})}
	}},
	{"goroutine", func() sleeper {
		return buzzerSleeper{buzzer.New(buzzer.Config{Mode: buzzer.Goroutine, Spin: -1})}
	}},
	{"raw-futex", func() sleeper { return new(futexSleeper) }},
}

// runWake wakes s n times from the calling goroutine and records in h the
// time from just before each wake to the sleeper running again. After each
// wake the waker waits for the sleeper to answer: spinning on its own P (a
// producer that keeps working), or with yield set, yielding its P (a producer
// that soon blocks, which lets the runtime run a woken goroutine at once).
// start runs once the sleeper goroutine exists, before the first round.
func runWake(s sleeper, n int, yield bool, h *hdrhistogram.Histogram, start func()) {
	var (
		base   = time.Now()
		gen    atomic.Uint64
		ack    atomic.Uint64
		wokeAt atomic.Int64 // written by the sleeper before it stores ack
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := uint64(1); i <= uint64(n); i++ {
			s.sleepUntil(&gen, i)
			wokeAt.Store(int64(time.Since(base)))
			ack.Store(i)
		}
	}()

	start()
	for i := uint64(1); i <= uint64(n); i++ {
		for s.parks() < i {
			runtime.Gosched()
		}
		for t := time.Now(); time.Since(t) < settle; {
		}
		gen.Store(i)
		t0 := int64(time.Since(base))
		s.wake()
		for ack.Load() < i {
			if yield {
				runtime.Gosched()
			}
		}
		recordNs(h, wokeAt.Load()-t0)
	}
	<-done
}

// wakers are the two ways runWake's waker waits after a wake.
var wakers = []struct {
	name  string
	yield bool
}{{"waker-spins", false}, {"waker-yields", true}}

// BenchmarkWake measures how long a parked sleeper takes to run after a wake.
// An op is one wake, and ns/op includes the settle time before it; read
// p50-ns and p99-ns.
func BenchmarkWake(b *testing.B) {
	for _, w := range wakers {
		b.Run(w.name, func(b *testing.B) {
			for _, k := range wakeKinds {
				b.Run(k.name, func(b *testing.B) {
					if runtime.GOMAXPROCS(0) < 2 {
						b.Skip(errOneP)
					}
					h := newHist()
					s := k.new()
					b.ReportAllocs()
					runWake(s, b.N, w.yield, h, b.ResetTimer)
					b.StopTimer()
					reportLatency(b, h)
				})
			}
		})
	}
}

// TestWake wakes each kind of sleeper a few times and checks that every wake
// was counted and that the sleeper really parked before each.
func TestWake(t *testing.T) {
	const n = 20
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip(errOneP)
	}
	for _, k := range wakeKinds {
		t.Run(k.name, func(t *testing.T) {
			h := newHist()
			s := k.new()
			runWake(s, n, false, h, func() {})
			if got := h.TotalCount(); got != n {
				t.Fatalf("%d samples, want %d", got, n)
			}
			if got := s.parks(); got != n {
				t.Fatalf("sleeper parked %d times, want %d", got, n)
			}
			// A buzzer pays for a signal only when its sleeper is parked.
			if bs, ok := s.(buzzerSleeper); ok {
				if got := bs.bz.Stats().Signals; got != n {
					t.Fatalf("%d wakes signalled, want %d", got, n)
				}
			}
		})
	}
}
