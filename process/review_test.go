package process_test

// Adversarial review tests. Each TestReview* that fails demonstrates a
// problem described in its comment; those that pass pin a tricky property
// that held up.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/buzzer"
	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

// TestReviewBackpressureParkNeverWakes: a sender that meets ErrBackpressure
// and then parks in AwaitEvents(-1) (the package's worker loop: receive,
// release, await) is never woken when its receiver releases the budget:
// AwaitEvents wakes only on ring pushes, closes and poison. The receiver has
// released everything and parks too, and the group hangs. (A backlog is
// polled every backlogPoll; backpressure is not.)
func TestReviewBackpressureParkNeverWakes(t *testing.T) {
	watchdog(t)
	const total = 200
	payload := make([]byte, 256)
	var refusals int
	err := process.Run(context.Background(), 2, func(a *process.Allocator) error {
		ch, err := process.Allocate(a, 1, process.Bytes{})
		if err != nil {
			return err
		}
		if a.Index() == 0 {
			for sent := 0; sent < total; {
				err := ch.Push(1, payload)
				if err == nil {
					sent++
					continue
				}
				if !errors.Is(err, process.ErrBackpressure) {
					return err
				}
				refusals++
				if err := a.Receive(); err != nil {
					return err
				}
				a.DrainEvents(nil)
				if err := a.AwaitEvents(-1); err != nil {
					return err
				}
			}
			return nil
		}
		for got := 0; got < total; {
			k, err := takeAll(a, ch.Puller)
			if err != nil {
				return err
			}
			if got += k; got < total {
				if err := a.AwaitEvents(-1); err != nil {
					return err
				}
			}
		}
		return nil
	}, process.WithBudget(4096))
	if err != nil {
		t.Errorf("200 small messages under a 4 KiB budget: Run = %v after %d refusals",
			err, refusals)
	}
}

// TestReviewDocLoop runs the worker loop the package documentation shows,
// under Run, with a budget small enough that pushes meet backpressure: every
// worker delivers everything to its peer and the loop ends once all have
// closed.
func TestReviewDocLoop(t *testing.T) {
	watchdog(t)
	const n = 2000
	payload := make([]byte, 256)
	var mu sync.Mutex
	got := map[int]int{}
	err := process.Run(context.Background(), 2, func(a *process.Allocator) error {
		ch, err := process.Allocate(a, 1, process.Bytes{})
		if err != nil {
			return err
		}
		received := 0
		receive := func() error {
			k, err := takeAll(a, ch.Puller)
			received += k
			return err
		}
		for sent := 0; sent < n; {
			err := ch.Push(1-a.Index(), payload)
			switch {
			case err == nil:
				sent++
			case errors.Is(err, process.ErrBackpressure):
				if err := receive(); err != nil {
					return err
				}
				if err := a.AwaitEvents(time.Millisecond); err != nil {
					return err
				}
				continue
			default:
				return err
			}
			if err := a.Release(); err != nil {
				return err
			}
			if err := receive(); err != nil {
				return err
			}
		}
		if err := closeAndDrain(a, receive); err != nil {
			return err
		}
		mu.Lock()
		got[a.Index()] = received
		mu.Unlock()
		return nil
	}, process.WithBudget(4<<10), process.WithPublish(process.Batched))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != n || got[1] != n {
		t.Fatalf("received %v, want %d each", got, n)
	}
}

// failCodec is a Uint64 codec whose Decode fails with an error of its own,
// as a user's codec (JSON, protobuf, ...) would.
type failCodec struct{ process.Uint64 }

var errMine = errors.New("my codec failed")

func (failCodec) Decode([]byte) (uint64, error) { return 0, errMine }

// TestReviewDecodeErrorNotWrapped: Puller.Pull's documentation says a payload
// the codec cannot decode is reported "as an error wrapping ErrDecode"; that
// holds only for the built-in codecs, which wrap ErrDecode themselves. A
// user's codec error comes back unwrapped (and without the "process:"
// prefix of every other error).
func TestReviewDecodeErrorNotWrapped(t *testing.T) {
	as := newGroup(t, 2)
	chs := allocate[uint64](t, as, 1, failCodec{})
	if err := chs[0].Push(1, 42); err != nil {
		t.Fatal(err)
	}
	if err := as[1].Receive(); err != nil {
		t.Fatal(err)
	}
	_, ok, err := chs[1].Puller.Pull()
	if ok || err == nil {
		t.Fatalf("Pull = %v, %v; want a decode error", ok, err)
	}
	if !errors.Is(err, process.ErrDecode) {
		t.Errorf("Pull error %q does not wrap process.ErrDecode, as Pull's doc promises", err)
	}
}

// TestReviewBatchedBudgetOvershoot: WithBudget bounds "the bytes a sender has
// written to one receiver that the receiver has not yet released". In
// batched mode the budget counts only extracted bytes, so everything written
// into the current buffer is accepted until the buffer fills (1 MiB by
// default), whatever the budget: a 1 KiB budget lets 56 KB through here.
func TestReviewBatchedBudgetOvershoot(t *testing.T) {
	const budget = 1024
	as := newGroup(t, 2, process.WithPublish(process.Batched), process.WithBudget(budget))
	chs := allocate(t, as, 1, process.Uint64{})
	accepted := 0
	for i := 0; i < 1000; i++ {
		if err := chs[0].Push(1, uint64(i)); err != nil {
			break
		}
		accepted++
	}
	if err := as[0].Release(); err != nil {
		t.Fatal(err)
	}
	inFlight := as[0].Stats().Peers[1].InFlight
	if inFlight > budget+64 {
		t.Errorf("batched, budget %d: %d pushes accepted, %d bytes unreleased at the "+
			"receiver (budget overshot %.0fx)", budget, accepted, inFlight,
			float64(inFlight)/budget)
	}
}

// sizeOnly claims a size without holding the bytes; reserve refuses it before
// Encode runs.
type sizeOnly struct{ process.Uint64 }

func (sizeOnly) Size(uint64) int { return 129 << 20 }

// TestReviewMaxPayloadOverflow: NewBuilders raises the slab's maximum
// reservation to maxPayload+48, an int addition that overflows for
// WithMaxPayload(math.MaxInt), the natural spelling of "no limit". The
// reservation then stays at 128 MiB and a 129 MiB push fails with a wrapped
// slab.ErrTooLarge instead of succeeding (or failing with process.ErrTooLarge).
func TestReviewMaxPayloadOverflow(t *testing.T) {
	_, err := process.NewBuilders(1, process.WithMaxPayload(math.MaxInt))
	if err == nil || !strings.Contains(err.Error(), "max payload") {
		t.Fatalf("WithMaxPayload(MaxInt): %v, want an error naming the option", err)
	}
	as := newGroup(t, 1, process.WithMaxPayload(process.MaxPayloadLimit))
	chs := allocate[uint64](t, as, 1, sizeOnly{})
	if err := chs[0].Push(0, 1); err != nil {
		t.Fatalf("a payload under MaxPayloadLimit: %v", err)
	}
}

// negativeSize is a broken codec that claims a negative size.
type negativeSize struct{ process.Uint64 }

func (negativeSize) Size(uint64) int { return -9 }

// TestNegativeCodecSize: a codec that reports a negative size makes Push and
// Broadcast fail with an error naming it, not panic writing a header into
// too little room, and leaves the channel working for a sound codec. No
// buffer exists yet here, so the refusal comes from reserveSlow;
// TestReserveRefusalsWithRoom covers the push whose buffer has room.
func TestNegativeCodecSize(t *testing.T) {
	as := newGroup(t, 1)
	bad := allocate[uint64](t, as, 1, negativeSize{})
	for name, push := range map[string]func() error{
		"Push":      func() error { return bad[0].Push(0, 1) },
		"Broadcast": func() error { return bad[0].Broadcast(1) },
	} {
		if err := push(); err == nil || !strings.Contains(err.Error(), "negative payload size") {
			t.Errorf("%s with a codec of size -9: %v, want an error naming the size", name, err)
		}
	}
	good := allocate[uint64](t, as, 2, process.Uint64{})
	if err := good[0].Push(0, 7); err != nil {
		t.Fatalf("a push after the refusals: %v", err)
	}
	if err := as[0].Receive(); err != nil {
		t.Fatal(err)
	}
	m, ok, err := good[0].Puller.Pull()
	if err != nil || !ok || m.Value != 7 {
		t.Fatalf("Pull after the refusals = %v, %v, %v; want 7", m.Value, ok, err)
	}
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestReviewInvalidBuzzerMode: WithBuzzer accepts any buzzer.Config, and
// buzzer.New accepts an unknown Mode: the buzzer then has neither a futex nor
// a channel, and the first timed AwaitEvents panics with a nil dereference
// (an untimed one would block forever on a nil channel).
func TestReviewInvalidBuzzerMode(t *testing.T) {
	bs, err := process.NewBuilders(1, process.WithBuzzer(buzzer.Config{Mode: 3}))
	if err != nil {
		return // refused at configuration time: fine
	}
	a, err := bs[0].Build()
	if err != nil {
		return
	}
	defer a.Shutdown()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("WithBuzzer(Mode 3) accepted; AwaitEvents(1ms) panicked: %v", v)
		}
	}()
	_ = a.AwaitEvents(time.Millisecond)
}

// TestReviewOrderTinyRing (held up): three workers in Run send all-to-all
// through two-slot rings under a small budget, mixing unicast pushes and
// broadcasts, in both publish modes and both parking paths, retrying on
// backpressure; every receiver sees each sender's unicast sequence and
// broadcast sequence complete and in order, and the group finishes.
func TestReviewOrderTinyRing(t *testing.T) {
	watchdog(t)
	const peers = 3
	n := scale(500, 100)
	for _, c := range []struct {
		mode process.Publish
		park buzzer.Mode
	}{{process.Eager, buzzer.Goroutine}, {process.Batched, buzzer.Goroutine},
		{process.Eager, buzzer.Futex}, {process.Batched, buzzer.Futex}} {
		mode := c.mode
		t.Run(mode.String()+"/"+c.park.String(), func(t *testing.T) {
			var mu sync.Mutex
			var fails []string
			fail := func(format string, args ...any) {
				mu.Lock()
				fails = append(fails, fmt.Sprintf(format, args...))
				mu.Unlock()
			}
			err := process.Run(context.Background(), peers, func(a *process.Allocator) error {
				ch, err := process.Allocate(a, 1, process.Bytes{})
				if err != nil {
					return err
				}
				me := a.Index()
				// next[s][0] is the next unicast seq expected from s, [1] the
				// next broadcast seq.
				var next [peers][2]uint64
				buf := make([]byte, 17)
				pull := func() error {
					if err := a.Receive(); err != nil {
						return err
					}
					for {
						m, ok, err := ch.Puller.Pull()
						if err != nil {
							return err
						}
						if !ok {
							break
						}
						s, kind := int(m.Value[0]), int(m.Value[1])
						seq := binary.BigEndian.Uint64(m.Value[2:10])
						if seq != next[s][kind] {
							fail("worker %d: from %d kind %d got seq %d, want %d",
								me, s, kind, seq, next[s][kind])
						}
						next[s][kind] = seq + 1
						_ = m.Release()
					}
					a.DrainEvents(nil)
					return nil
				}
				var useq, bseq uint64
				for i := 0; i < n; i++ {
					for {
						var err error
						buf[0] = byte(me)
						if i%7 == 3 {
							buf[1] = 1
							binary.BigEndian.PutUint64(buf[2:], bseq)
							if err = ch.Broadcast(buf); err == nil {
								bseq++
							}
						} else {
							buf[1] = 0
							binary.BigEndian.PutUint64(buf[2:], useq)
							// Unicast seqs count per target: send the
							// same seq to every peer, in turn.
							for t := 0; t < peers; t++ {
								for {
									if err = ch.Push(t, buf); err == nil {
										break
									}
									if !errors.Is(err, process.ErrBackpressure) {
										return err
									}
									if err := pull(); err != nil {
										return err
									}
									_ = a.Release()
									runtime.Gosched() // let the target run
								}
							}
							useq++
						}
						if err == nil {
							break
						}
						if !errors.Is(err, process.ErrBackpressure) {
							return err
						}
						if err := pull(); err != nil {
							return err
						}
						_ = a.Release()
						runtime.Gosched() // let the targets run
					}
					if i%16 == 0 {
						if err := a.Release(); err != nil {
							return err
						}
						if err := pull(); err != nil {
							return err
						}
					}
				}
				if err := a.Close(context.Background()); err != nil {
					return err
				}
				for !a.Finished() {
					if err := pull(); err != nil {
						return err
					}
					if err := a.AwaitEvents(10 * time.Millisecond); err != nil {
						return err
					}
				}
				for s := range next {
					if next[s][0] != useq || next[s][1] != bseq {
						// Every worker sends the same counts.
						fail("worker %d: from %d got %d unicast, %d broadcast; want %d, %d",
							me, s, next[s][0], next[s][1], useq, bseq)
					}
				}
				return nil
			}, process.WithRingSize(2), process.WithPublish(mode), process.WithBudget(2048),
				process.WithSlab(slab.Config{BufferSize: 1024}),
				process.WithBuzzer(buzzer.Config{Mode: c.park}))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			for _, f := range fails {
				t.Error(f)
			}
		})
	}
}

// TestReviewStatsAfterShutdownRace (fails under -race): Message.Release may
// run on any goroutine, and Stats on the worker's. After Shutdown the
// sender's buffers that receivers still hold are orphans; the release of the
// last view frees one (writing its data field) while Stats reads the same
// field. See slab's TestReviewStatsOrphanRace.
func TestReviewStatsAfterShutdownRace(t *testing.T) {
	watchdog(t)
	as := newGroup(t, 2, process.WithSlab(slab.Config{BufferSize: 64, Refill: slab.Heap{}}))
	chs := allocate(t, as, 1, process.Bytes{})
	payload := make([]byte, 16) // one 64-byte frame per buffer
	for i := 0; i < 64; i++ {
		if err := chs[0].Push(1, payload); err != nil {
			t.Fatal(err)
		}
	}
	ms := receiveAll(t, as[1], chs[1].Puller)
	if len(ms) != 64 {
		t.Fatalf("received %d messages, want 64", len(ms))
	}
	as[0].Shutdown()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range ms {
			_ = ms[i].Release()
		}
	})
	for i := 0; i < 200; i++ {
		_ = as[0].Stats()
	}
	wg.Wait()
}

// TestReviewDecodeErrorNamesHeaderSource: DESIGN.md says the ring entry's
// producer, "not the header's source field, names the peer in errors". A
// decode error names the header's source: here a frame pushed by worker 0
// that claims source 1 is reported as "from worker 1".
func TestReviewDecodeErrorNamesHeaderSource(t *testing.T) {
	as := newGroup(t, 2)
	chs := allocate(t, as, 1, process.Uint64{})
	in := newInjector(t)
	h := header.Header{Channel: 1, Source: 1, TargetLower: 0, TargetUpper: 1}
	in.push(as[0], 0, frame(h, []byte{1, 2, 3})) // 3 bytes: not a uint64
	if err := as[0].Receive(); err != nil {
		t.Fatal(err)
	}
	_, _, err := chs[0].Puller.Pull()
	if err == nil {
		t.Fatal("Pull of a 3-byte uint64: no error")
	}
	if !strings.Contains(err.Error(), "worker 0") {
		t.Errorf("decode error %q does not name producer 0, which pushed the frame", err)
	}
}

// TestReviewGoexitWorkerHangsRun: a worker whose fn ends by runtime.Goexit
// (t.FailNow or t.Fatal called inside it, or any library that calls Goexit)
// neither returns nor panics, so runWorker neither closes it nor poisons the
// group: its recover sees nil. The other workers then wait in
// drainUntilAllClosed for a close that never comes, and Run never returns
// (the watchdog reports it). The worker must poison the group instead.
func TestReviewGoexitWorkerHangsRun(t *testing.T) {
	watchdog(t)
	err := process.Run(context.Background(), 2, func(a *process.Allocator) error {
		if a.Index() == 0 {
			runtime.Goexit()
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "Goexit") {
		t.Errorf("worker 0 called runtime.Goexit: Run = %v, want an error naming it", err)
	}
}

// countingRefill is a heap refill that counts buffers handed out and back.
type countingRefill struct {
	mu           sync.Mutex
	allocs, free int
	bytes        int
}

func (c *countingRefill) Alloc(n int) ([]byte, error) {
	c.mu.Lock()
	c.allocs++
	c.bytes += n
	c.mu.Unlock()
	return make([]byte, n), nil
}

func (c *countingRefill) Free(b []byte) error {
	c.mu.Lock()
	c.free++
	c.bytes -= len(b)
	c.mu.Unlock()
	return nil
}

// TestReviewNoLeakAfterRun (held up): workers that push to every peer
// through two-slot rings on several channels (one never allocated by the
// receivers, one whose puller is closed, one pulled), broadcast, and return
// without pulling everything: Run finishes (closing workers receive while
// they wait; returned ones drain), and once it has returned every buffer
// taken from the refill has been given back.
func TestReviewNoLeakAfterRun(t *testing.T) {
	watchdog(t)
	n := scale(600, 100)
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			refill := &countingRefill{}
			err := process.Run(context.Background(), 4, func(a *process.Allocator) error {
				c1, err := process.Allocate(a, 1, process.Uint64{})
				if err != nil {
					return err
				}
				c2, err := process.Allocate(a, 2, process.Uint64{})
				if err != nil {
					return err
				}
				c2.Close()
				for i := 0; i < n; i++ {
					for tgt := 0; tgt < a.Peers(); tgt++ {
						for _, ch := range []*process.Channel[uint64]{c1, c2} {
							for {
								err := ch.Push(tgt, uint64(i))
								if err == nil {
									break
								}
								if !errors.Is(err, process.ErrBackpressure) {
									return err
								}
								if _, err := takeAll(a, c1.Puller); err != nil {
									return err
								}
								_ = a.Release()
							}
						}
					}
					if i%50 == 0 {
						for {
							err := c1.Broadcast(uint64(i))
							if err == nil {
								break
							}
							if !errors.Is(err, process.ErrBackpressure) {
								return err
							}
							if _, err := takeAll(a, c1.Puller); err != nil {
								return err
							}
						}
					}
				}
				if a.Index() == 0 {
					// Channel 7 exists only here: its messages stay staged
					// at every peer until they are dropped.
					c7, err := process.Allocate(a, 7, process.Uint64{})
					if err != nil {
						return err
					}
					for tgt := 1; tgt < a.Peers(); tgt++ {
						if err := c7.Push(tgt, 7); err != nil {
							return err
						}
					}
				}
				return nil // leave the rest in the pullers, unread
			}, process.WithRingSize(2), process.WithPublish(mode), process.WithBudget(8<<10),
				process.WithSlab(slab.Config{BufferSize: 2048, Refill: refill}))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			refill.mu.Lock()
			defer refill.mu.Unlock()
			if refill.allocs != refill.free || refill.bytes != 0 {
				t.Errorf("after Run: %d buffers allocated, %d freed, %d bytes still out",
					refill.allocs, refill.free, refill.bytes)
			}
		})
	}
}
