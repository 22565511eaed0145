package scenario

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/cpu"

	"github.com/zcomm-go/zcomm/benchmarks/original"
	"github.com/zcomm-go/zcomm/process"
)

// PingSize is the payload of a ping-pong message.
const PingSize = 64

// parkTimeout bounds one park in a ping-pong wait. A lost wake-up would
// show as a round trip of this length, far above any real one.
const parkTimeout = 100 * time.Millisecond

// PingPong configures one ping-pong run between workers 0 and 1.
type PingPong struct {
	// RoundTrips is the number of round trips, at least 1.
	RoundTrips int
	// Latency, if not nil, receives the time of every round trip in
	// nanoseconds, as worker 0 measures it from before its send to after
	// its receive. See NewLatencyHistogram.
	Latency *hdrhistogram.Histogram
	// Check makes both workers record each message they receive, for
	// VerifyPingPong.
	Check bool
	// Ready, if not nil, is called once setup is done, just before the
	// workers start.
	Ready func()
	// Pin binds each worker's thread to a CPU of its own, as a latency-bound
	// deployment would, so that neither migrates nor shares its core with
	// the other. It takes effect where CanPin says so.
	Pin bool
}

// pin pins worker me's thread if c.Pin is set.
func (c *PingPong) pin(me int) error {
	if c.Pin {
		return pinThread(me)
	}
	return nil
}

// PingPongFunc runs one ping-pong over some transport.
type PingPongFunc func(c PingPong) (Result, error)

// PingPongPeer is a named ping-pong transport.
type PingPongPeer struct {
	// Name names the transport in reports, e.g. "zcomm-batched".
	Name string
	// Run runs one ping-pong over it.
	Run PingPongFunc
	// Spins is set for a transport whose waiters never park. Benchmarks pin
	// only these (PingPong.Pin): a goroutine locked to its thread parks by
	// handing the thread off, which costs tens of microseconds a round trip
	// in Go and would measure the runtime, not the transport.
	Spins bool
}

// PingPongPeers lists every ping-pong transport, in the order reports show
// them.
var PingPongPeers = []PingPongPeer{
	{"zcomm-busy", ZcommPingPong(false), true},
	{"zcomm-park", ZcommPingPong(true), false},
	{"original", OriginalPingPong, false},
	{"chan", ChanPingPong, false},
	{"atomic", AtomicPingPong, true},
}

// NewLatencyHistogram returns a histogram of nanoseconds from 1 ns to 10 s
// at three significant digits, fit for PingPong.Latency.
func NewLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(10*time.Second), 3)
}

// pingPongStart checks c and returns the tallies and the result of its run,
// before its elapsed time is filled in.
func pingPongStart(c *PingPong, payload int) ([]Tally, Result, error) {
	if c.RoundTrips < 1 {
		return nil, Result{}, fmt.Errorf("scenario: %d round trips: want at least 1",
			c.RoundTrips)
	}
	ts := newTallies(2, c.RoundTrips, c.Check)
	return ts, Result{Messages: 2 * c.RoundTrips, Bytes: int64(2*c.RoundTrips) * int64(payload),
		Tallies: ts}, nil
}

// volley plays worker me's part of n round trips: worker 0 sends round trip
// r and awaits the reply, worker 1 awaits it and replies. Worker 0 records
// each round trip's time in h, if h is not nil.
func volley(me, n int, h *hdrhistogram.Histogram, send, await func(r int) error) error {
	for r := 0; r < n; r++ {
		if me == 1 {
			if err := await(r); err != nil {
				return err
			}
			if err := send(r); err != nil {
				return err
			}
			continue
		}
		var t0 time.Time
		if h != nil {
			t0 = time.Now()
		}
		if err := send(r); err != nil {
			return err
		}
		if err := await(r); err != nil {
			return err
		}
		if h != nil {
			// Clamp, so that an outlier (a descheduled thread) is counted
			// at the top of the range rather than lost.
			ns := time.Since(t0).Nanoseconds()
			_ = h.RecordValue(min(max(ns, 1), h.HighestTrackableValue()))
		}
	}
	return nil
}

// checkPing reports an error unless p is message r of worker from.
func checkPing(p []byte, from, r int) error {
	if got := binary.LittleEndian.Uint64(p); got != tag(from, r) {
		return fmt.Errorf("round trip %d: got tag %#x, want message %d of worker %d",
			r, got, r, from)
	}
	return nil
}

// ZcommPingPong returns the ping-pong over zcomm in eager mode. A waiting
// worker receives in a loop, paced as a spinner; with park set, it parks in
// AwaitEvents each time it finds nothing.
func ZcommPingPong(park bool) PingPongFunc {
	return func(c PingPong) (Result, error) {
		ts, res, err := pingPongStart(&c, PingSize)
		if err != nil {
			return res, err
		}
		g, err := newZcommGroup(2, []process.Option{process.WithPublish(process.Eager)})
		if err != nil {
			return res, err
		}
		defer g.shutdown()
		sw := start(c.Ready, false)
		err = g.run(func(a *process.Allocator, abort *atomic.Bool) error {
			me := a.Index()
			if err := c.pin(me); err != nil {
				return err
			}
			ch, err := process.Allocate(a, 1, process.Bytes{})
			if err != nil {
				return err
			}
			var evs []uint64
			spin := newSpinner()
			var m process.Message[[]byte]
			// await takes the next message, checks it is round trip r's
			// from the peer, records and releases it.
			await := func(r int) error {
				for sp := spin; ; {
					if err := a.Receive(); err != nil {
						return err
					}
					ok, err := ch.Puller.PullInto(&m)
					if err != nil {
						return err
					}
					if ok {
						ts[me].add(m.Value)
						err := checkPing(m.Value, 1-me, r)
						if rerr := m.Release(); err == nil {
							err = rerr
						}
						return err
					}
					evs = a.DrainEvents(evs[:0])
					if park {
						if abort.Load() {
							return errAborted
						}
						if err := a.AwaitEvents(parkTimeout); err != nil {
							return err
						}
					} else if err := sp.failed(abort); err != nil {
						return err
					}
				}
			}
			payload := make([]byte, PingSize)
			send := func(r int) error {
				putTag(payload, me, r)
				return ch.Push(1-me, payload)
			}
			if err := volley(me, c.RoundTrips, c.Latency, send, await); err != nil {
				return err
			}
			return a.Close(context.Background())
		})
		sw.stop(&res)
		return res, err
	}
}

// OriginalPingPong is the ping-pong over the original design in eager mode,
// parking in AwaitEvents between polls as timely's workers do.
func OriginalPingPong(c PingPong) (Result, error) {
	ts, res, err := pingPongStart(&c, PingSize)
	if err != nil {
		return res, err
	}
	allocs, err := original.NewGroup(2, original.WithPublish(original.Eager))
	if err != nil {
		return res, err
	}
	defer func() {
		for _, a := range allocs {
			a.Shutdown()
		}
	}()
	sw := start(c.Ready, false)
	err = runWorkers(2, func(me int, abort *atomic.Bool) error {
		if err := c.pin(me); err != nil {
			return err
		}
		a := allocs[me]
		ch, err := original.Allocate(a, 1)
		if err != nil {
			return err
		}
		var evs []uint64
		await := func(r int) error {
			for {
				if err := a.Receive(); err != nil {
					return err
				}
				if m, ok := ch.Puller.Pull(); ok {
					ts[me].add(m.Payload())
					err := checkPing(m.Payload(), 1-me, r)
					if rerr := m.Release(); err == nil {
						err = rerr
					}
					return err
				}
				evs = a.DrainEvents(evs[:0])
				if abort.Load() {
					return errAborted
				}
				if err := a.AwaitEvents(parkTimeout); err != nil {
					return err
				}
			}
		}
		payload := make([]byte, PingSize)
		send := func(r int) error {
			putTag(payload, me, r)
			return ch.Push(1-me, payload)
		}
		if err := volley(me, c.RoundTrips, c.Latency, send, await); err != nil {
			return err
		}
		return a.Close()
	}, nil)
	sw.stop(&res)
	return res, err
}

// ChanPingPong is the ping-pong over Go channels: each message is a pooled
// copy of the payload, sent on the peer's channel of capacity one.
func ChanPingPong(c PingPong) (Result, error) {
	ts, res, err := pingPongStart(&c, PingSize)
	if err != nil {
		return res, err
	}
	pool := newBufPool(PingSize)
	in := []chan *[]byte{make(chan *[]byte, 1), make(chan *[]byte, 1)}
	sw := start(c.Ready, false)
	err = runWorkers(2, func(me int, _ *atomic.Bool) error {
		if err := c.pin(me); err != nil {
			return err
		}
		await := func(r int) error {
			bp := <-in[me]
			ts[me].add(*bp)
			err := checkPing(*bp, 1-me, r)
			pool.Put(bp)
			return err
		}
		payload := make([]byte, PingSize)
		send := func(r int) error {
			putTag(payload, me, r)
			bp := pool.Get().(*[]byte)
			copy(*bp, payload)
			in[1-me] <- bp
			return nil
		}
		return volley(me, c.RoundTrips, c.Latency, send, await)
	}, nil)
	sw.stop(&res)
	return res, err
}

// atomicPair is the shared state of the atomic ping-pong: one word per
// direction, each on a cache line of its own so that the two directions do
// not share a line.
type atomicPair struct {
	_     cpu.CacheLinePad
	words [2]struct {
		// v is written by the worker that sends in this direction (a store
		// of the round trip's number plus one) and read by the other; the
		// store hands the round trip over.
		v atomic.Uint64
		_ cpu.CacheLinePad
	}
}

// Pacing of a busy wait: a waiter looks at the abort flag (and, with
// GOMAXPROCS 1, yields) every spinCheck failed polls, and naps every
// spinNap failed polls.
const (
	spinCheck = 1 << 10
	spinNap   = 1 << 16
)

// spinner paces a busy wait. Two spinning goroutines each need a processor
// of their own, and the scheduler may leave them sharing one: a goroutine
// that yields, or is preempted, goes to the global run queue without
// waking an idle processor, and the pair then takes turns at the
// scheduler's pace (microseconds when yielding, 10 ms when preempted) while
// the other processor sleeps. So a spinner does not yield, unless GOMAXPROCS
// is 1 and its peer could not run otherwise, and after spinNap failed polls
// (far longer than any round trip that was not interrupted) it naps for a
// microsecond: its wake-up comes through the run queue, which wakes an idle
// processor to take it.
type spinner struct {
	polls int
	yield bool
}

// newSpinner returns a spinner for a wait that starts now; a copy of it
// serves as well, and spares each wait the runtime lock that GOMAXPROCS
// takes.
func newSpinner() spinner { return spinner{yield: runtime.GOMAXPROCS(0) < 2} }

// failed paces the wait after a failed poll; it returns errAborted once
// abort is set.
func (s *spinner) failed(abort *atomic.Bool) error {
	s.polls++
	if s.polls%spinCheck != 0 {
		return nil
	}
	if abort.Load() {
		return errAborted
	}
	if s.polls%spinNap == 0 {
		time.Sleep(time.Microsecond)
	} else if s.yield {
		runtime.Gosched()
	}
	return nil
}

// AtomicPingPong is the ping-pong reduced to the hardware: two goroutines
// spinning on atomic words, no payload and no memory to manage. It is the
// floor every transport's round trip stands on, and zcbench's latency
// baseline. A waiter spins as zcomm's busy ping-pong does (see spinner).
func AtomicPingPong(c PingPong) (Result, error) {
	ts, res, err := pingPongStart(&c, 0)
	if err != nil {
		return res, err
	}
	var p atomicPair
	sw := start(c.Ready, false)
	err = runWorkers(2, func(me int, abort *atomic.Bool) error {
		if err := c.pin(me); err != nil {
			return err
		}
		out, in := &p.words[me].v, &p.words[1-me].v
		send := func(r int) error {
			out.Store(uint64(r) + 1)
			return nil
		}
		spin := newSpinner()
		await := func(r int) error {
			for sp := spin; in.Load() != uint64(r)+1; {
				if err := sp.failed(abort); err != nil {
					return err
				}
			}
			ts[me].addTag(tag(1-me, r))
			return nil
		}
		return volley(me, c.RoundTrips, c.Latency, send, await)
	}, nil)
	sw.stop(&res)
	return res, err
}
