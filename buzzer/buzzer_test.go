package buzzer_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/buzzer"
)

// watchdogTimeout bounds every concurrent test. A lost wake-up shows up as a
// hang, and a hung test can only be ended from outside it.
const watchdogTimeout = 30 * time.Second

// watchdog ends the test binary, printing every goroutine's stack, if the
// test has not finished within watchdogTimeout.
func watchdog(t *testing.T) {
	t.Helper()
	name := t.Name()
	timer := time.AfterFunc(watchdogTimeout, func() {
		buf := make([]byte, 16<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s: no progress in %v; goroutines:\n%s\n",
			name, watchdogTimeout, buf)
		panic(name + ": watchdog expired")
	})
	t.Cleanup(func() { timer.Stop() })
}

// modes returns the parking paths this system has: Goroutine everywhere, and
// Futex on Linux (elsewhere New turns it into Goroutine).
func modes() []buzzer.Mode {
	if runtime.GOOS == "linux" {
		return []buzzer.Mode{buzzer.Goroutine, buzzer.Futex}
	}
	return []buzzer.Mode{buzzer.Goroutine}
}

// procCounts returns the GOMAXPROCS values the stress tests run at: 1, where
// no sleeper may spin and a parked thread holds the only P, and every core.
func procCounts() []int {
	if n := runtime.NumCPU(); n > 1 {
		return []int{1, n}
	}
	return []int{1}
}

// setProcs sets GOMAXPROCS to n for the rest of the test. Buzzers read it in
// New, so call it first.
func setProcs(t *testing.T, n int) {
	old := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// rounds scales a stress test's iteration count: a tenth under -short, and a
// quarter of that under the race detector.
func rounds(full int) int {
	if testing.Short() {
		full /= 10
	}
	if raceEnabled {
		full /= 4
	}
	return full
}

// busyWait spins for d without yielding, so that the goroutine stays on its
// thread the way a worker doing real work does.
func busyWait(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []buzzer.Mode{buzzer.Auto, buzzer.Goroutine, buzzer.Futex} {
		got, err := buzzer.ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	for _, s := range []string{"", "Futex", "thread", "goroutine "} {
		if m, err := buzzer.ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q) = %v, nil; want an error", s, m)
		}
	}
	if s := buzzer.Mode(7).String(); s != "Mode(7)" {
		t.Errorf("Mode(7).String() = %q", s)
	}
}

func TestNewMode(t *testing.T) {
	if m := buzzer.New(buzzer.Config{}).Mode(); m != buzzer.Goroutine {
		t.Errorf("Auto resolves to %v, want goroutine", m)
	}
	want := buzzer.Goroutine
	if runtime.GOOS == "linux" {
		want = buzzer.Futex
	}
	if m := buzzer.New(buzzer.Config{Mode: buzzer.Futex}).Mode(); m != want {
		t.Errorf("Futex resolves to %v, want %v", m, want)
	}
}

func TestSpins(t *testing.T) {
	setProcs(t, 1)
	for _, m := range modes() {
		if s := buzzer.New(buzzer.Config{Mode: m, Spin: 500}).Spins(); s != 0 {
			t.Errorf("%v at GOMAXPROCS=1: Spins() = %d, want 0", m, s)
		}
	}

	runtime.GOMAXPROCS(2)
	for _, tc := range []struct {
		c    buzzer.Config
		want int
	}{
		{buzzer.Config{}, buzzer.DefaultSpin},
		{buzzer.Config{Spin: 10}, 10},
		{buzzer.Config{Spin: -1}, 0},
		{buzzer.Config{Sleepers: 2}, buzzer.DefaultSpin},
		{buzzer.Config{Sleepers: 3}, 0},
	} {
		if s := buzzer.New(tc.c).Spins(); s != tc.want {
			t.Errorf("GOMAXPROCS=2, %+v: Spins() = %d, want %d", tc.c, s, tc.want)
		}
	}
}

// TestWakeIdle checks that a wake costs no signal unless the sleeper announced
// sleep.
func TestWakeIdle(t *testing.T) {
	for _, m := range modes() {
		b := buzzer.New(buzzer.Config{Mode: m})
		for range 3 {
			if b.Wake() {
				t.Errorf("%v: Wake on an idle buzzer claimed a wake-up", m)
			}
		}
		if s := b.Stats(); s != (buzzer.Stats{}) {
			t.Errorf("%v: stats after idle wakes = %+v, want zero", m, s)
		}
	}
}

// TestWakeBeforeSleep checks that a wake between Prepare and Sleep is kept:
// Sleep returns true at once (a lost wake would hang until the watchdog).
func TestWakeBeforeSleep(t *testing.T) {
	watchdog(t)
	for _, m := range modes() {
		for _, spin := range []int{-1, 0} {
			b := buzzer.New(buzzer.Config{Mode: m, Spin: spin})
			b.Prepare()
			if !b.Wake() {
				t.Errorf("%v: Wake after Prepare did not claim the wake-up", m)
			}
			if b.Wake() {
				t.Errorf("%v: a second Wake claimed the same wake-up", m)
			}
			if !b.Sleep(-1) {
				t.Errorf("%v: Sleep after a kept wake returned false", m)
			}
			if s := b.Stats(); s.Signals != 0 || s.Sleeps != 0 {
				t.Errorf("%v: stats = %+v, want no signal and no sleep", m, s)
			}
			if b.Wake() {
				t.Errorf("%v: Wake after Sleep returned claimed a wake-up", m)
			}
		}
	}
}

// TestPrepareCancel checks that a cancelled announcement leaves nothing
// behind: later wakes are free and a later sleep times out.
func TestPrepareCancel(t *testing.T) {
	watchdog(t)
	for _, m := range modes() {
		b := buzzer.New(buzzer.Config{Mode: m})
		b.Prepare()
		b.Cancel()
		if b.Wake() {
			t.Errorf("%v: Wake after Cancel claimed a wake-up", m)
		}
		b.Prepare()
		if b.Sleep(5 * time.Millisecond) {
			t.Errorf("%v: Sleep after Prepare, Cancel and an idle Wake returned true", m)
		}
		if s := b.Stats(); s.Signals != 0 || s.Wakeups != 0 || s.Timeouts != 1 {
			t.Errorf("%v: stats = %+v, want one timeout and nothing else", m, s)
		}
	}
}

// TestSleepTimeout checks that a timed sleep with no wake returns false, and
// never before its timeout.
func TestSleepTimeout(t *testing.T) {
	watchdog(t)
	for _, m := range modes() {
		for _, spin := range []int{-1, 0} {
			b := buzzer.New(buzzer.Config{Mode: m, Spin: spin})
			b.Prepare()
			if b.Sleep(0) {
				t.Errorf("%v: Sleep(0) with no wake returned true", m)
			}
			for i, d := range []time.Duration{time.Microsecond, time.Millisecond,
				20 * time.Millisecond} {
				b.Prepare()
				start := time.Now()
				woken := b.Sleep(d)
				if took := time.Since(start); took < d {
					t.Errorf("%v: Sleep(%v) returned after %v", m, d, took)
				}
				if woken {
					t.Errorf("%v: Sleep(%v) with no wake returned true", m, d)
				}
				if s := b.Stats(); s.Timeouts != uint64(i+1) || s.Wakeups != 0 {
					t.Errorf("%v: after Sleep(%v): stats = %+v", m, d, s)
				}
			}
		}
	}
}

// TestSpuriousWakeups checks that a parked sleeper disturbed by stray tokens
// or futex wakes goes back to sleep: it neither returns early from a timed
// sleep nor reports a wake-up, and a real wake still reaches it afterwards.
func TestSpuriousWakeups(t *testing.T) {
	watchdog(t)
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			b := buzzer.New(buzzer.Config{Mode: m, Spin: -1})

			// A stray token left before the sleep started.
			b.Nudge()
			b.Prepare()
			const d = 20 * time.Millisecond
			start := time.Now()
			if b.Sleep(d) {
				t.Errorf("Sleep(%v) after a stray token returned true", d)
			}
			if took := time.Since(start); took < d {
				t.Errorf("Sleep(%v) after a stray token returned after %v", d, took)
			}

			// Nudges throughout a sleep.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					b.Nudge()
					busyWait(50 * time.Microsecond)
					runtime.Gosched()
				}
			})
			b.Prepare()
			start = time.Now()
			if b.Sleep(d) {
				t.Errorf("Sleep(%v) under nudges returned true", d)
			}
			if took := time.Since(start); took < d {
				t.Errorf("Sleep(%v) under nudges returned after %v", d, took)
			}

			// A real wake among the nudges.
			b.Prepare()
			go func() {
				for b.Stats().Sleeps < 3 {
					runtime.Gosched()
				}
				b.Wake()
			}()
			if !b.Sleep(-1) {
				t.Errorf("Sleep(-1) woken among nudges returned false")
			}
			close(stop)
			wg.Wait()
			if s := b.Stats(); s.Sleeps != 3 || s.Timeouts != 2 || s.Wakeups != 1 {
				t.Errorf("stats = %+v, want 3 sleeps, 2 timeouts, 1 wake-up", s)
			}
		})
	}
}

// pingPong sends n messages, one at a time, from a producer to a consumer
// that follows the protocol in the package documentation and sleeps with no
// timeout. The producer busy-waits a random 0–50 µs before each message, so
// that the message lands in every phase of the consumer's way to sleep, and
// waits for the consumer to take it before the next one. A lost wake-up hangs
// the pair and trips the watchdog. If noise is set, a third goroutine wakes
// the consumer at random, for no message.
func pingPong(t *testing.T, m buzzer.Mode, procs, n int, noise bool) {
	watchdog(t)
	setProcs(t, procs)
	if m == buzzer.Futex && procs == 1 {
		// A thread parked in a futex keeps the only P until the runtime's
		// monitor takes it back, so each hand-off here costs from 100 µs to
		// several milliseconds (the monitor backs off) rather than a few
		// microseconds. A fortieth of the messages (5,000 of 200,000) still
		// lands in every phase of the consumer's way to sleep thousands of
		// times, in seconds rather than minutes.
		n = max(n/40, 100)
	}
	b := buzzer.New(buzzer.Config{Mode: m})

	// The message is its sequence number; lastBit marks the final one.
	const lastBit = 1 << 63
	var sent, taken atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var seen uint64
		for {
			if v := sent.Load(); v != seen {
				if v&^lastBit != seen&^lastBit+1 {
					t.Errorf("consumer saw message %#x after %#x", v, seen)
				}
				seen = v
				taken.Store(v)
				if v&lastBit != 0 {
					return
				}
				continue
			}
			b.Prepare()
			if sent.Load() != seen {
				b.Cancel()
				continue
			}
			b.Sleep(-1)
		}
	}()

	stopNoise := make(chan struct{})
	var wg sync.WaitGroup
	if noise {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(2, uint64(procs)))
			for {
				select {
				case <-stopNoise:
					return
				default:
				}
				busyWait(time.Duration(rng.IntN(50_001)))
				b.Wake()
				runtime.Gosched()
			}
		})
	}

	rng := rand.New(rand.NewPCG(1, uint64(procs)))
	start := time.Now()
	var i uint64
	for i = 1; ; i++ {
		busyWait(time.Duration(rng.IntN(50_001)))
		v := i
		if i == uint64(n) {
			v |= lastBit
		}
		sent.Store(v)
		b.Wake()
		for taken.Load() != v {
			runtime.Gosched()
		}
		if v&lastBit != 0 {
			break
		}
	}
	<-done
	close(stopNoise)
	wg.Wait()
	s := b.Stats()
	t.Logf("%d messages in %v: %d sleeps, %d wake-ups, %d signals",
		i, time.Since(start).Round(time.Millisecond), s.Sleeps, s.Wakeups, s.Signals)
	if s.Signals > s.Sleeps {
		t.Errorf("stats = %+v: more signals than sleeps", s)
	}
}

// TestNoLostWakeup runs pingPong on every parking path at GOMAXPROCS=1 and at
// the number of cores.
func TestNoLostWakeup(t *testing.T) {
	n := rounds(200_000)
	for _, m := range modes() {
		for _, procs := range procCounts() {
			t.Run(fmt.Sprintf("%v/procs=%d", m, procs), func(t *testing.T) {
				pingPong(t, m, procs, n, false)
			})
		}
	}
}

// TestNoLostWakeupNoisy is TestNoLostWakeup with a third goroutine making
// spurious wakes: they may steal a claim from the producer, never the message.
func TestNoLostWakeupNoisy(t *testing.T) {
	n := rounds(20_000)
	for _, m := range modes() {
		for _, procs := range procCounts() {
			t.Run(fmt.Sprintf("%v/procs=%d", m, procs), func(t *testing.T) {
				pingPong(t, m, procs, n, true)
			})
		}
	}
}

// sleeper parks on b once with no timeout and closes the returned channel
// when Sleep returns.
func sleeper(b *buzzer.Buzzer) <-chan bool {
	ret := make(chan bool, 1)
	go func() {
		b.Prepare()
		ret <- b.Sleep(-1)
	}()
	return ret
}

// waitAsleep yields until b's sleeper has gone to sleep want times in all.
func waitAsleep(b *buzzer.Buzzer, want uint64) {
	for b.Stats().Sleeps < want {
		runtime.Gosched()
	}
}

// TestWakeOnlyTarget checks that a wake reaches its own buzzer's sleeper and
// no other: with two sleepers parked, waking one returns that one, while the
// other stays asleep with nothing counted until it is woken itself.
func TestWakeOnlyTarget(t *testing.T) {
	watchdog(t)
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			const rounds = 50
			x := buzzer.New(buzzer.Config{Mode: m, Sleepers: 2})
			y := buzzer.New(buzzer.Config{Mode: m, Sleepers: 2})
			yRet := sleeper(y)
			waitAsleep(y, 1)
			for i := range rounds {
				xRet := sleeper(x)
				waitAsleep(x, uint64(i+1))
				if !x.Wake() {
					t.Fatalf("round %d: Wake of a parked sleeper claimed nothing", i)
				}
				if !<-xRet {
					t.Errorf("round %d: woken sleeper returned false", i)
				}
				select {
				case <-yRet:
					t.Fatalf("round %d: the other sleeper returned too", i)
				default:
				}
				if s := y.Stats(); s != (buzzer.Stats{Sleeps: 1}) {
					t.Fatalf("round %d: the other sleeper's stats = %+v", i, s)
				}
			}
			if s := x.Stats(); s.Wakeups != rounds || s.Signals != rounds {
				t.Errorf("target stats = %+v, want %d wake-ups and signals", s, rounds)
			}
			if !y.Wake() || !<-yRet {
				t.Errorf("the other sleeper did not wake when woken itself")
			}
		})
	}
}

// TestIdleSleepersQuiet checks that sleepers nobody wakes stay asleep: eight
// workers looping on a long timed sleep return no more than a handful of
// times while left alone.
func TestIdleSleepersQuiet(t *testing.T) {
	watchdog(t)
	quiet := 2 * time.Second
	if testing.Short() {
		quiet = 200 * time.Millisecond
	}
	const workers, handful = 8, 4
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			var stop atomic.Bool
			var returns atomic.Int64
			bs := make([]*buzzer.Buzzer, workers)
			var wg sync.WaitGroup
			for i := range bs {
				b := buzzer.New(buzzer.Config{Mode: m, Sleepers: workers})
				bs[i] = b
				wg.Go(func() {
					for {
						b.Prepare()
						if stop.Load() {
							b.Cancel()
							return
						}
						b.Sleep(time.Minute)
						returns.Add(1)
					}
				})
			}
			for _, b := range bs {
				waitAsleep(b, 1)
			}
			time.Sleep(quiet)

			n := returns.Load()
			var wakeups uint64
			for _, b := range bs {
				wakeups += b.Stats().Wakeups
			}
			stop.Store(true)
			for _, b := range bs {
				b.Wake()
			}
			wg.Wait()
			if n+int64(wakeups) > handful {
				t.Errorf("%d idle sleepers returned %d times (%d wake-ups) in %v",
					workers, n, wakeups, quiet)
			}
		})
	}
}

// TestTokenRing passes a token around four workers at GOMAXPROCS=1, where a
// sleeper parked in a futex holds the only P until the runtime takes it back.
func TestTokenRing(t *testing.T) {
	passes := uint64(rounds(100_000))
	const workers = 4
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			watchdog(t)
			setProcs(t, 1)
			var turn atomic.Uint64 // the token is at worker turn%workers
			bs := make([]*buzzer.Buzzer, workers)
			for i := range bs {
				bs[i] = buzzer.New(buzzer.Config{Mode: m, Sleepers: workers})
			}
			mine := func(v uint64, i int) bool { return v >= passes || v%workers == uint64(i) }

			var wg sync.WaitGroup
			for i, b := range bs {
				wg.Go(func() {
					for {
						v := turn.Load()
						if v >= passes {
							return
						}
						if v%workers == uint64(i) {
							turn.Store(v + 1)
							if v+1 == passes {
								for _, o := range bs {
									o.Wake()
								}
							} else {
								bs[(i+1)%workers].Wake()
							}
							continue
						}
						b.Prepare()
						if mine(turn.Load(), i) {
							b.Cancel()
							continue
						}
						b.Sleep(-1)
					}
				})
			}
			wg.Wait()
			if v := turn.Load(); v != passes {
				t.Errorf("token passed %d times, want %d", v, passes)
			}
		})
	}
}

func BenchmarkWakeIdle(b *testing.B) {
	bz := buzzer.New(buzzer.Config{})
	b.ReportAllocs()
	for b.Loop() {
		bz.Wake()
	}
}

// BenchmarkPingPong measures one round trip between two goroutines that each
// sleep until the other hands them the turn.
func BenchmarkPingPong(b *testing.B) {
	for _, m := range modes() {
		b.Run(m.String(), func(b *testing.B) {
			ping := buzzer.New(buzzer.Config{Mode: m, Sleepers: 2})
			pong := buzzer.New(buzzer.Config{Mode: m, Sleepers: 2})
			var turn atomic.Uint64 // even: ping's turn; odd: pong's
			end := uint64(2 * b.N)
			wait := func(bz *buzzer.Buzzer, parity uint64) bool {
				for {
					v := turn.Load()
					if v >= end {
						return false
					}
					if v&1 == parity {
						return true
					}
					bz.Prepare()
					if v := turn.Load(); v >= end || v&1 == parity {
						bz.Cancel()
						continue
					}
					bz.Sleep(-1)
				}
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for wait(pong, 1) {
					turn.Add(1)
					ping.Wake()
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			for wait(ping, 0) {
				turn.Add(1)
				pong.Wake()
			}
			<-done
		})
	}
}
