package process_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/buzzer"
	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

// The tests in this file put eager streams through the edges of a worker's
// life: receivers that park, shut down or stop early, senders that shut
// down, fail or close with a backlog, and channels that are not allocated or
// are closed while a stream carries frames for them.

// TestStreamWakesParkedReceiver has one to three senders push to a receiver
// that parks without a timeout between messages, each push made only once
// the receiver has parked again, with both kinds of buzzer. Most pushes
// travel by cursor alone; every seventh round is a broadcast, which ends
// each sender's stream, so that the next push opens a new one. Every push
// must wake the receiver, whichever way it travels.
func TestStreamWakesParkedReceiver(t *testing.T) {
	watchdog(t)
	for _, mode := range []buzzer.Mode{buzzer.Goroutine, buzzer.Futex} {
		for _, senders := range []int{1, 3} {
			t.Run(fmt.Sprintf("%v/%d-senders", mode, senders), func(t *testing.T) {
				wakeParkedReceiver(t, mode, senders)
			})
		}
	}
}

// wakeParkedReceiver runs one case of TestStreamWakesParkedReceiver: worker
// 0 receives on a goroutine of its own, and the test goroutine pushes for
// workers 1 to senders, round robin.
func wakeParkedReceiver(t *testing.T, mode buzzer.Mode, senders int) {
	n := scale(300, 50)
	peers := senders + 1
	as := newGroup(t, peers, process.WithPublish(process.Eager),
		process.WithBuzzer(buzzer.Config{Mode: mode}),
		process.WithSlab(slab.Config{BufferSize: 4096}), process.WithBudget(400))
	chs := allocate(t, as, 1, process.Uint64{})
	recv := as[0]
	total := n * senders
	done := make(chan error, 1)
	var received atomic.Int64
	// armed holds, before each park, the messages received so far (high
	// half) and the receiver's count of parks (low half).
	var armed atomic.Uint64
	go func() {
		next := make([]uint64, peers)
		for int(received.Load()) < total {
			if err := recv.Receive(); err != nil {
				done <- err
				return
			}
			for {
				m, ok, err := chs[0].Puller.Pull()
				if err != nil {
					done <- err
					return
				}
				if !ok {
					break
				}
				src := m.Header().Source
				if m.Value != next[src] {
					done <- fmt.Errorf("got %d from worker %d, want %d", m.Value, src, next[src])
					return
				}
				next[src]++
				received.Add(1)
				if err := m.Release(); err != nil {
					done <- err
					return
				}
			}
			recv.DrainEvents(nil)
			if int(received.Load()) >= total {
				break
			}
			armed.Store(uint64(received.Load())<<32 | process.Sleeps(recv))
			if err := recv.AwaitEvents(-1); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range n {
		for s := 1; s <= senders; s++ {
			if before := uint64(i*senders + s - 1); before > 0 {
				// Wait until the receiver has taken every message so far
				// and parked.
				a := armed.Load()
				for ; a>>32 < before; a = armed.Load() {
					time.Sleep(10 * time.Microsecond)
				}
				waitAsleep(recv, a&(1<<32-1))
			}
			bcast := i%7 == 3
			var err error
			if bcast {
				err = chs[s].Broadcast(uint64(i))
			} else {
				err = chs[s].Push(0, uint64(i))
			}
			if err != nil {
				t.Fatalf("worker %d, message %d: %v", s, i, err)
			}
			if bcast { // the copies for the senders
				releaseAll(t, receiveAll(t, as[s], chs[s].Puller))
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestStreamTargetShutsDown has two workers stream to a third, broadcast
// and push to each other, while the third takes some of their messages,
// keeps three, and shuts down (releasing the three afterwards). Each sender
// must learn, by ErrPeerGone and without hanging, that its target is gone,
// and close and finish talking to the other; in the end every buffer must
// be back with the refill and none released twice.
func TestStreamTargetShutsDown(t *testing.T) {
	watchdog(t)
	for iter := range scale(20, 5) {
		t.Run(fmt.Sprint(iter), func(t *testing.T) {
			refill := &countingRefill{}
			as := newGroup(t, 3, process.WithPublish(process.Eager),
				process.WithRingSize(2), process.WithBudget(1000),
				process.WithSlab(slab.Config{BufferSize: 4096, Refill: refill}))
			chs := allocate(t, as, 1, process.Uint64{})
			errs := make([]error, 3)
			var closed atomic.Int64
			target := func() {
				a, ch := as[2], chs[2]
				var keep []process.Message[uint64]
				for range 50 + iter*7 {
					if err := a.Receive(); err != nil {
						errs[2] = err
						break
					}
					for {
						m, ok, err := ch.Puller.Pull()
						if err != nil {
							errs[2] = err
						}
						if !ok || err != nil {
							break
						}
						if len(keep) < 3 {
							keep = append(keep, m)
						} else if err := m.Release(); err != nil {
							errs[2] = err
						}
					}
					a.DrainEvents(nil)
					if err := a.AwaitEvents(100 * time.Microsecond); err != nil {
						errs[2] = err
						break
					}
				}
				a.Shutdown()
				for i := range keep {
					if err := keep[i].Release(); err != nil {
						errs[2] = fmt.Errorf("release after Shutdown: %w", err)
					}
				}
			}
			sender := func(i int) func() {
				return func() { errs[i] = streamToLeaving(as[i], chs[i], 1-i, &closed) }
			}
			runConcurrently(t, sender(0), sender(1), target)
			for _, a := range as {
				a.Shutdown()
			}
			for i, err := range errs {
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
				}
			}
			refill.mu.Lock()
			defer refill.mu.Unlock()
			if refill.allocs != refill.free {
				t.Errorf("%d buffers allocated, %d freed", refill.allocs, refill.free)
			}
		})
	}
}

// streamToLeaving is a sender of TestStreamTargetShutsDown: it pushes to
// worker 2 (every 97th message a broadcast) and every third message to
// worker other too, receiving after each, until a push to worker 2 fails
// with ErrPeerGone. Then it closes and receives until both senders have
// closed, for the other's Close may wait for room in this worker's ring.
func streamToLeaving(a *process.Allocator, ch *process.Channel[uint64], other int,
	closed *atomic.Int64) error {
	for k := uint64(0); ; k++ {
		var perr error // of the push to worker 2
		if k%97 == 0 {
			perr = ch.Broadcast(k)
		} else {
			perr = ch.Push(2, k)
		}
		if k%3 == 0 {
			if err := ch.Push(other, k); err != nil && !errors.Is(err, process.ErrBackpressure) {
				return fmt.Errorf("push %d to worker %d: %w", k, other, err)
			}
		}
		if errors.Is(perr, process.ErrPeerGone) {
			break
		}
		if perr != nil && !errors.Is(perr, process.ErrBackpressure) {
			return fmt.Errorf("push %d: %w", k, perr)
		}
		if _, err := takeAll(a, ch.Puller); err != nil {
			return err
		}
		if perr != nil {
			if err := a.AwaitEvents(100 * time.Microsecond); err != nil {
				return err
			}
		}
	}
	err := a.Close(context.Background())
	closed.Add(1)
	if err != nil && !errors.Is(err, process.ErrPeerGone) {
		return fmt.Errorf("Close: %w", err)
	}
	for {
		if _, err := takeAll(a, ch.Puller); err != nil {
			return err
		}
		if closed.Load() == 2 {
			break
		}
		if err := a.AwaitEvents(time.Millisecond); err != nil {
			return err
		}
	}
	if s := a.Stats().Slab; s.OverReleases != 0 || s.DoubleReleases != 0 {
		return fmt.Errorf("%d over-releases, %d double releases", s.OverReleases,
			s.DoubleReleases)
	}
	return nil
}

// TestRunWorkerFailsMidStream has one worker of three return an error
// after a while (later in each iteration) while all three stream to each
// other through two-slot rings under a small budget, each holding a few
// messages unreleased. Run must return that error, and every buffer, those
// of open streams and held messages included, must go back to the refill.
func TestRunWorkerFailsMidStream(t *testing.T) {
	watchdog(t)
	cause := errors.New("worker 0 gave up")
	for iter := range scale(20, 5) {
		refill := &countingRefill{}
		err := process.Run(context.Background(), 3, func(a *process.Allocator) error {
			ch, err := process.Allocate(a, 1, process.Uint64{})
			if err != nil {
				return err
			}
			var keep []process.Message[uint64]
			defer func() {
				for i := range keep {
					_ = keep[i].Release()
				}
			}()
			for k := uint64(0); ; k++ {
				if a.Index() == 0 && k == uint64(100+iter*37) {
					return cause
				}
				for t := range a.Peers() {
					err := ch.Push(t, k)
					if err != nil && !errors.Is(err, process.ErrBackpressure) {
						return err
					}
				}
				if err := a.Receive(); err != nil {
					return err
				}
				err := eachPulled(ch.Puller, func(m process.Message[uint64]) error {
					if len(keep) < 5 {
						keep = append(keep, m)
						return nil
					}
					return m.Release()
				})
				if err != nil {
					return err
				}
				a.DrainEvents(nil)
			}
		}, process.WithPublish(process.Eager), process.WithRingSize(2),
			process.WithBudget(2000),
			process.WithSlab(slab.Config{BufferSize: 4096, Refill: refill}))
		if !errors.Is(err, cause) {
			t.Fatalf("iteration %d: Run returned %v, want %v", iter, err, cause)
		}
		refill.mu.Lock()
		if refill.allocs != refill.free {
			t.Errorf("iteration %d: %d buffers allocated, %d freed", iter, refill.allocs,
				refill.free)
		}
		refill.mu.Unlock()
	}
}

// TestStreamCloseCanceledWithBacklog checks a Close that gives up: the
// start of worker 0's stream to worker 1 waits in the backlog behind a ring
// full of worker 2's broadcasts, and Close with an ended context fails with
// the context's error. The stream must be ended all the same, later pushes
// must go through, and worker 1 must receive all of worker 0's messages,
// once and in order, and then finish.
func TestStreamCloseCanceledWithBacklog(t *testing.T) {
	as := newGroup(t, 3, process.WithPublish(process.Eager), process.WithRingSize(2))
	chs := allocate(t, as, 1, process.Uint64{})
	for i := range uint64(2) { // fill worker 1's ring
		if err := chs[2].Broadcast(100 + i); err != nil {
			t.Fatal(err)
		}
	}
	pushValues(t, chs[0], 1, 0, 3)
	if b := as[0].Stats().Peers[1].Backlog; b == 0 {
		t.Fatal("no backlog: the stream's start should wait behind a full ring")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := as[0].Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with an ended context and a backlog: %v, want context.Canceled", err)
	}
	if as[0].Stats().Peers[1].Streaming {
		t.Error("the stream is still open after the failed Close")
	}
	for i := uint64(3); i < 6; i++ {
		if err := chs[0].Push(1, i); err != nil {
			t.Fatalf("push %d after a failed Close: %v", i, err)
		}
	}
	var got []uint64
	for range 20 {
		ms := receiveAll(t, as[1], chs[1].Puller)
		for _, m := range ms {
			if m.Header().Source == 0 {
				got = append(got, m.Value)
			}
		}
		releaseAll(t, ms)
		if err := as[0].Release(); err != nil { // moves the backlog on
			t.Fatal(err)
		}
	}
	if want := upTo(6); !slices.Equal(got, want) {
		t.Errorf("worker 1 received %v from worker 0, want %v", got, want)
	}
	for _, a := range as {
		if err := a.Close(context.Background()); err != nil {
			t.Fatalf("worker %d: Close: %v", a.Index(), err)
		}
	}
	releaseAll(t, receiveAll(t, as[1], chs[1].Puller))
	if !as[1].Finished() {
		t.Error("worker 1 is not Finished after everyone closed and it received everything")
	}
}

// TestStreamSenderShutdown has an eager sender shut down, without closing,
// while its stream to the receiver is open: three frames taken by the
// receiver, three more announced by the cursor only. The receiver must
// still read the frames it took, and whatever more it receives must follow
// them in order; once it has released them and shut down, every buffer
// must be back with the refill.
func TestStreamSenderShutdown(t *testing.T) {
	refill := &countingRefill{}
	as := newGroup(t, 2, process.WithPublish(process.Eager),
		process.WithSlab(slab.Config{BufferSize: 4096, Refill: refill}))
	chs := allocate(t, as, 1, process.Uint64{})
	pushValues(t, chs[0], 1, 0, 3)
	if err := as[1].Receive(); err != nil {
		t.Fatal(err)
	}
	pushValues(t, chs[0], 1, 3, 6)
	as[0].Shutdown()
	ms := receiveAll(t, as[1], chs[1].Puller)
	got := values(ms)
	releaseAll(t, ms)
	if len(got) < 3 || !slices.Equal(got, upTo(len(got))) {
		t.Errorf("after the sender's Shutdown the receiver read %v, want 0, 1, 2 "+
			"and, if more, the values that follow in order", got)
	}
	as[1].Shutdown()
	if refill.allocs != refill.free {
		t.Errorf("%d buffers allocated, %d freed", refill.allocs, refill.free)
	}
}

// TestFinishedWaitsForUnpulled checks that Finished stays false while any
// message is announced to the receiver but not pulled: the receiver takes
// what arrives every few pushes without pulling, across streams ended by
// buffer changes (4 KiB buffers) and broadcasts, and then, after everyone
// closed, pulls only after asking Finished. Finished must turn true only
// once it has pulled every message, and the sender must then hold no view.
func TestFinishedWaitsForUnpulled(t *testing.T) {
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			as := newGroup(t, 2, process.WithPublish(mode), process.WithRingSize(2),
				process.WithSlab(slab.Config{BufferSize: 4096}))
			chs := allocate(t, as, 1, process.Bytes{})
			const n = 300
			for i := range n {
				var err error
				if i%50 == 49 {
					err = chs[0].Broadcast(make([]byte, 30))
				} else {
					err = chs[0].Push(1, make([]byte, 30+i%100))
				}
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if i%10 == 0 {
					if err := as[1].Receive(); err != nil {
						t.Fatal(err)
					}
					if err := as[0].Release(); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Make room for everything in the rings, so that Close, on this
			// goroutine, need not wait for the receiver.
			for k := 0; as[0].Stats().Peers[1].Backlog > 0 || k < 2; k++ {
				if err := as[1].Receive(); err != nil {
					t.Fatal(err)
				}
				if err := as[0].Release(); err != nil {
					t.Fatal(err)
				}
			}
			for _, a := range as {
				if err := a.Close(context.Background()); err != nil {
					t.Fatalf("worker %d: Close: %v", a.Index(), err)
				}
			}
			got := 0
			for k := 0; k < 1000 && !as[1].Finished(); k++ {
				if err := as[1].Receive(); err != nil {
					t.Fatal(err)
				}
				if as[1].Finished() && got < n {
					t.Fatalf("Finished with %d of %d messages pulled", got, n)
				}
				ms := pullAll(t, chs[1].Puller)
				got += len(ms)
				releaseAll(t, ms)
			}
			if got != n || !as[1].Finished() {
				t.Fatalf("pulled %d of %d messages, Finished %v", got, n, as[1].Finished())
			}
			releaseAll(t, receiveAll(t, as[0], chs[0].Puller)) // its own broadcasts
			if v := slabStats(as[0]).OutstandingViews; v != 0 {
				t.Errorf("the sender has %d outstanding views after everything was released", v)
			}
		})
	}
}

// TestStreamStagedAndClosedPuller checks the frames a stream carries for a
// channel the receiver cannot deliver to. Those for a channel not yet
// allocated are staged up to the limit and the rest dropped, counted and
// released, also when they arrive by cursor alone; those for a closed
// puller are dropped, counted and released. Afterwards the only view the
// sender still has outstanding must be the stream's own.
func TestStreamStagedAndClosedPuller(t *testing.T) {
	const frameSize = 8 + 48
	as := newGroup(t, 2, process.WithPublish(process.Eager),
		process.WithStagedLimit(3*frameSize))
	a, b := as[0], as[1]
	chA := allocate(t, []*process.Allocator{a}, 5, process.Uint64{})[0]
	for i := range uint64(2) {
		if err := chA.Push(1, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Receive(); err != nil { // the stream's start and two frames, staged
		t.Fatal(err)
	}
	for i := uint64(2); i < 6; i++ { // by cursor: one more staged, three dropped
		if err := chA.Push(1, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Receive(); !errors.Is(err, process.ErrStagedLimit) {
		t.Errorf("Receive: %v, want ErrStagedLimit", err)
	}
	if s := b.Stats(); s.Drops.StagedLimit != 3 || s.Staged != 3*frameSize {
		t.Errorf("Drops.StagedLimit %d, Staged %d; want 3, %d", s.Drops.StagedLimit,
			s.Staged, 3*frameSize)
	}
	if v := slabStats(a).OutstandingViews; v != 3+1 {
		t.Errorf("the sender has %d outstanding views, want 4 (3 staged, 1 the stream's)", v)
	}
	chB, err := process.Allocate(b, 5, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	ms := pullAll(t, chB.Puller)
	if got := values(ms); !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Errorf("staged %v, want [0 1 2]", got)
	}
	releaseAll(t, ms)
	chB.Close()
	for i := uint64(6); i < 9; i++ {
		if err := chA.Push(1, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Receive(); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.Drops.ClosedChannel != 3 {
		t.Errorf("Drops.ClosedChannel %d, want 3", s.Drops.ClosedChannel)
	}
	if v, want := slabStats(a).OutstandingViews, streamViews(a); v != want || want != 1 {
		t.Errorf("the sender has %d outstanding views and %d open streams, want 1 and 1 "+
			"(the stream's view)", v, want)
	}
}

// TestStreamToReturnedWorker has one worker of four return at once under
// Run while the other three stream to it and to each other (every
// thirteenth message a broadcast) through two-slot rings under a small
// budget. Run must end, every message to the worker that returned must be
// drained on its behalf, and every buffer must go back to the refill.
func TestStreamToReturnedWorker(t *testing.T) {
	watchdog(t)
	n := scale(3000, 300)
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			refill := &countingRefill{}
			err := process.Run(context.Background(), 4, func(a *process.Allocator) error {
				ch, err := process.Allocate(a, 1, process.Uint64{})
				if err != nil || a.Index() == 0 {
					return err
				}
				for i := range n {
					for {
						var err error
						if i%13 == 0 {
							err = ch.Broadcast(uint64(i))
						} else {
							err = ch.Push(i%a.Peers(), uint64(i))
						}
						if !errors.Is(err, process.ErrBackpressure) {
							if err != nil {
								return err
							}
							break
						}
						if _, err := takeAll(a, ch.Puller); err != nil {
							return err
						}
						if err := a.Release(); err != nil {
							return err
						}
						if err := a.AwaitEvents(time.Millisecond); err != nil {
							return err
						}
					}
					if i%5 == 0 {
						if _, err := takeAll(a, ch.Puller); err != nil {
							return err
						}
					}
				}
				return nil
			}, process.WithPublish(mode), process.WithRingSize(2), process.WithBudget(700),
				process.WithSlab(slab.Config{BufferSize: 4096, Refill: refill}))
			if err != nil {
				t.Fatal(err)
			}
			refill.mu.Lock()
			defer refill.mu.Unlock()
			if refill.allocs != refill.free {
				t.Errorf("%d buffers allocated, %d freed", refill.allocs, refill.free)
			}
		})
	}
}
