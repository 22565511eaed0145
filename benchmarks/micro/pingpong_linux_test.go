//go:build linux

package micro

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zcomm-go/zcomm/ring"
)

// sampleEvery is how often the initiator times a round trip: one in
// sampleEvery. Reading the clock costs about as much as a round trip on some
// machines, so timing each one would slow ns/op down by that much.
const sampleEvery = 16

// stopwatch times every sampleEvery-th round trip into a histogram. Each
// timed round trip includes about one clock read; clockOverhead measures it.
type stopwatch struct {
	h    *hdrhistogram.Histogram
	base time.Time
	t0   time.Duration
}

func newStopwatch(h *hdrhistogram.Histogram) *stopwatch {
	return &stopwatch{h: h, base: time.Now()}
}

// start begins round trip i.
func (s *stopwatch) start(i int) {
	if i%sampleEvery == 0 {
		s.t0 = time.Since(s.base)
	}
}

// stop ends round trip i.
func (s *stopwatch) stop(i int) {
	if i%sampleEvery == 0 {
		recordNs(s.h, int64(time.Since(s.base)-s.t0))
	}
}

// clockOverhead returns the median that a stopwatch records for an empty
// round trip: what one timed sample costs beyond the round trip itself.
func clockOverhead() int64 {
	h := newHist()
	s := newStopwatch(h)
	for i := range 20_000 * sampleEvery {
		if i%sampleEvery == 0 {
			s.start(i)
			s.stop(i)
		}
	}
	return h.ValueAtQuantile(50)
}

// pingPong is one way to bounce a record between two goroutines.
type pingPong struct {
	name string
	// pin binds each side to its own CPU with its thread locked.
	pin bool
	// sides returns the two halves of n round trips. The first starts each
	// round trip and times one in sampleEvery into h.
	sides func(n int, h *hdrhistogram.Histogram) [2]func()
}

var pingPongs = []pingPong{
	{"ring", true, ringPingPong},
	{"atomic", true, atomicPingPong},
	{"chan-spin", true, chanSpinPingPong},
	{"chan", true, chanPingPong},
	{"chan-unpinned", false, chanPingPong},
}

// ringPingPong pushes the record into one zcomm ring and busy-polls Ready on
// the other until it comes back; the far side polls, drains and pushes it
// back. A push cannot fail (one record in flight), so failure panics.
func ringPingPong(n int, h *hdrhistogram.Histogram) [2]func() {
	there, err := ring.New[*record](slots)
	if err != nil {
		panic(err)
	}
	back, err := ring.New[*record](slots)
	if err != nil {
		panic(err)
	}
	rec := new(record)
	return [2]func(){
		func() {
			sw := newStopwatch(h)
			dst := make([]ring.Entry[*record], 0, back.Cap())
			for i := range n {
				sw.start(i)
				if err := there.Push(0, rec); err != nil {
					panic(err)
				}
				for !back.Ready() {
				}
				dst = back.Drain(dst[:0])
				rec = dst[0].Value
				sw.stop(i)
			}
		},
		func() {
			dst := make([]ring.Entry[*record], 0, there.Cap())
			for range n {
				for !there.Ready() {
				}
				dst = there.Drain(dst[:0])
				if err := back.Push(1, dst[0].Value); err != nil {
					panic(err)
				}
			}
		},
	}
}

// atomicPingPong is the hardware floor: each side stores the round number in
// its own cache line and spins until the other side's line shows it.
func atomicPingPong(n int, h *hdrhistogram.Histogram) [2]func() {
	var c struct {
		ping atomic.Uint64
		_    [cacheLine]byte
		pong atomic.Uint64
	}
	return [2]func(){
		func() {
			sw := newStopwatch(h)
			for i := range n {
				sw.start(i)
				v := uint64(i) + 1
				c.ping.Store(v)
				for c.pong.Load() != v {
				}
				sw.stop(i)
			}
		},
		func() {
			for i := range n {
				v := uint64(i) + 1
				for c.ping.Load() != v {
				}
				c.pong.Store(v)
			}
		},
	}
}

// spinRecv busy-polls ch with non-blocking receives.
func spinRecv(ch chan *record) *record {
	for {
		select {
		case r := <-ch:
			return r
		default:
		}
	}
}

// chanSpinPingPong sends the record on one channel of capacity one and
// busy-polls the other with non-blocking receives, so neither side parks.
func chanSpinPingPong(n int, h *hdrhistogram.Histogram) [2]func() {
	there, back := make(chan *record, 1), make(chan *record, 1)
	rec := new(record)
	return [2]func(){
		func() {
			sw := newStopwatch(h)
			for i := range n {
				sw.start(i)
				there <- rec
				rec = spinRecv(back)
				sw.stop(i)
			}
		},
		func() {
			for range n {
				back <- spinRecv(there)
			}
		},
	}
}

// chanPingPong sends the record on one channel of capacity one and blocks in
// a receive on the other: the runtime parks and readies the goroutines.
func chanPingPong(n int, h *hdrhistogram.Histogram) [2]func() {
	there, back := make(chan *record, 1), make(chan *record, 1)
	rec := new(record)
	return [2]func(){
		func() {
			sw := newStopwatch(h)
			for i := range n {
				sw.start(i)
				there <- rec
				rec = <-back
				sw.stop(i)
			}
		},
		func() {
			for range n {
				back <- <-there
			}
		},
	}
}

// BenchmarkPingPong bounces one record between two goroutines, each pinned to
// its own CPU; an op is one round trip. p50-ns and p99-ns come from one round
// trip in sampleEvery; clock-ns is what timing adds to each of those samples.
func BenchmarkPingPong(b *testing.B) {
	cpus, pairErr := cpuPair()
	clock := clockOverhead()
	for _, pp := range pingPongs {
		b.Run(pp.name, func(b *testing.B) {
			if pp.pin && pairErr != nil {
				b.Skip(pairErr)
			}
			h := newHist()
			sides := pp.sides(b.N, h)
			b.ReportAllocs()
			if err := runPair(pp.pin, cpus, b.ResetTimer, sides); err != nil {
				b.Skip(err)
			}
			b.StopTimer()
			reportLatency(b, h)
			b.ReportMetric(float64(clock), "clock-ns")
		})
	}
}

// TestPingPong runs a few round trips of each kind and checks that they
// complete and are sampled.
func TestPingPong(t *testing.T) {
	const n = 20 * sampleEvery
	cpus, pairErr := cpuPair()
	for _, pp := range pingPongs {
		t.Run(pp.name, func(t *testing.T) {
			if pp.pin && pairErr != nil {
				t.Skip(pairErr)
			}
			h := newHist()
			if err := runPair(pp.pin, cpus, func() {}, pp.sides(n, h)); err != nil {
				t.Skip(err)
			}
			if got, want := h.TotalCount(), int64(n/sampleEvery); got != want {
				t.Fatalf("%d samples, want %d", got, want)
			}
		})
	}
}
