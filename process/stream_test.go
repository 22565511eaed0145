package process_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

// The tests in this file are about eager streams: a sender's frames to a
// peer travel through its current buffer and a cursor, and only a stream's
// start and end through the peer's ring (see the allocator's stream).

// orderedWorker sends the values 0..n-1 to every worker, itself included,
// each as one push per target or, every bcastEvery'th, as one broadcast, and
// checks that it receives 0..n-1 from every worker, in order, exactly once.
// It retries pushes refused for backpressure after receiving, and closes and
// receives until Finished.
func orderedWorker(a *process.Allocator, n, bcastEvery int) error {
	ch, err := process.Allocate(a, 1, process.Uint64{})
	if err != nil {
		return err
	}
	next := make([]uint64, a.Peers())
	drain := func() error {
		if err := a.Receive(); err != nil {
			return err
		}
		err := eachPulled(ch.Puller, func(m process.Message[uint64]) error {
			src := m.Header().Source
			if m.Value != next[src] {
				return fmt.Errorf("worker %d: got %d from worker %d, want %d", a.Index(), m.Value,
					src, next[src])
			}
			next[src]++
			return m.Release()
		})
		a.DrainEvents(nil)
		return err
	}
	send := func(f func() error) error {
		for {
			err := f()
			if !errors.Is(err, process.ErrBackpressure) {
				return err
			}
			if err := drain(); err != nil {
				return err
			}
			if err := a.AwaitEvents(time.Millisecond); err != nil {
				return err
			}
		}
	}
	for i := range n {
		v := uint64(i)
		if bcastEvery > 0 && i%bcastEvery == 0 {
			if err := send(func() error { return ch.Broadcast(v) }); err != nil {
				return fmt.Errorf("worker %d: broadcast %d: %w", a.Index(), v, err)
			}
		} else {
			for t := range a.Peers() {
				if err := send(func() error { return ch.Push(t, v) }); err != nil {
					return fmt.Errorf("worker %d: push %d to %d: %w", a.Index(), v, t, err)
				}
			}
		}
		if i%8 == 0 {
			if err := drain(); err != nil {
				return err
			}
		}
	}
	if err := closeAndDrain(a, drain); err != nil {
		return err
	}
	for src, got := range next {
		if got != uint64(n) {
			return fmt.Errorf("worker %d received %d values from worker %d, want %d",
				a.Index(), got, src, n)
		}
	}
	return nil
}

// TestStreamOrder runs concurrent eager workers whose streams end and start
// again all the time: on broadcasts mixed into the pushes, on buffer changes
// (4 KiB buffers), on refusals (budgets of a few frames), with stream starts
// and ends backed up behind two-slot rings. Every value arrives once and in
// order from every sender, and every buffer is released at the end.
func TestStreamOrder(t *testing.T) {
	watchdog(t)
	n := scale(20000, 2000)
	for _, c := range []struct {
		name              string
		peers, bcast      int
		ring, buf, budget int
	}{
		{"pushes", 3, 0, 1024, 0, 0},
		{"broadcasts", 3, 5, 1024, 0, 0},
		{"every-other-broadcast", 2, 2, 2, 0, 0},
		{"small-buffers", 3, 7, 2, 4096, 0},
		{"small-budget", 3, 11, 2, 4096, 1024},
		{"budget-below-a-buffer", 2, 0, 4, 1 << 16, 512},
	} {
		t.Run(c.name, func(t *testing.T) {
			refill := &countingRefill{}
			opts := []process.Option{process.WithPublish(process.Eager),
				process.WithRingSize(c.ring),
				process.WithSlab(slab.Config{BufferSize: c.buf, Refill: refill})}
			if c.budget > 0 {
				opts = append(opts, process.WithBudget(c.budget))
			}
			err := process.Run(context.Background(), c.peers, func(a *process.Allocator) error {
				if err := orderedWorker(a, n, c.bcast); err != nil {
					return err
				}
				for p, s := range a.Stats().Peers {
					if s.Streaming {
						return fmt.Errorf("worker %d: stream to %d open after Close", a.Index(), p)
					}
				}
				return nil
			}, opts...)
			if refill.allocs != refill.free {
				t.Errorf("%d buffers allocated, %d freed", refill.allocs, refill.free)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStreamParkedWakes plays ping-pong between two eager workers that park
// without a timeout between messages. After the first message each way,
// every message travels by cursor alone, with nothing in the ring: the
// sender's wake-up after the cursor store must reach a receiver that is
// parking.
func TestStreamParkedWakes(t *testing.T) {
	watchdog(t)
	n := scale(20000, 2000)
	err := process.Run(context.Background(), 2, func(a *process.Allocator) error {
		ch, err := process.Allocate(a, 1, process.Uint64{})
		if err != nil {
			return err
		}
		peer := 1 - a.Index()
		if a.Index() == 0 {
			if err := ch.Push(peer, 0); err != nil {
				return err
			}
		}
		for want := uint64(1 - a.Index()); want < uint64(n); want += 2 {
			for {
				if err := a.Receive(); err != nil {
					return err
				}
				m, ok, err := ch.Puller.Pull()
				if err != nil {
					return err
				}
				if ok {
					if m.Value != want {
						return fmt.Errorf("worker %d got %d, want %d", a.Index(), m.Value, want)
					}
					if err := m.Release(); err != nil {
						return err
					}
					break
				}
				a.DrainEvents(nil)
				if err := a.AwaitEvents(-1); err != nil {
					return err
				}
			}
			a.DrainEvents(nil)
			if want+1 < uint64(n) {
				if err := ch.Push(peer, want+1); err != nil {
					return err
				}
			}
		}
		if !a.Stats().Peers[peer].Streaming {
			return fmt.Errorf("worker %d: no stream open to its peer", a.Index())
		}
		return nil
	}, process.WithPublish(process.Eager))
	if err != nil {
		t.Fatal(err)
	}
}

// TestStreamRefusalEndsStream checks that a sender refused for backpressure
// ends its stream, and that once the receiver has released everything and
// taken the stream's end, nothing counts in flight any more and pushes go
// through again, in order.
func TestStreamRefusalEndsStream(t *testing.T) {
	const frame = 8 + 48
	as := newGroup(t, 2, process.WithPublish(process.Eager), process.WithBudget(4*frame))
	chs := allocate(t, as, 1, process.Uint64{})
	pushValues(t, chs[0], 1, 0, 4)
	if !as[0].Stats().Peers[1].Streaming {
		t.Fatal("no stream open after four eager pushes")
	}
	held := receiveAll(t, as[1], chs[1].Puller)
	var refused *process.BackpressureError
	if err := chs[0].Push(1, 4); !errors.As(err, &refused) || refused.InFlight != 4*frame {
		t.Fatalf("push beyond the budget with four messages held: %v, "+
			"want a BackpressureError counting %d bytes", err, 4*frame)
	}
	if as[0].Stats().Peers[1].Streaming {
		t.Error("the stream is still open after the refusal")
	}
	releaseAll(t, held)
	if got := receiveAll(t, as[1], chs[1].Puller); len(got) != 0 {
		t.Fatalf("received %d messages after the refusal, want none", len(got))
	}
	if s := as[0].Stats(); s.Peers[1].InFlight != 0 || s.Slab.OutstandingViews != 0 {
		t.Errorf("after the receiver took the stream's end: InFlight %d, "+
			"OutstandingViews %d; want 0, 0", s.Peers[1].InFlight, s.Slab.OutstandingViews)
	}
	for i := uint64(4); i < 8; i++ {
		if err := chs[0].Push(1, i); err != nil {
			t.Fatalf("push %d after the receiver released everything: %v", i, err)
		}
	}
	if got := values(receiveAll(t, as[1], chs[1].Puller)); !slices.Equal(got, []uint64{4, 5, 6, 7}) {
		t.Errorf("received %v, want [4 5 6 7]", got)
	}
}

// TestStreamBudgetCountsReleases checks that an open stream's own view does
// not keep released bytes counted against the budget: with a budget far
// below a buffer, a sender whose receiver takes and releases every message
// before the next push is never refused, and counts nothing in flight.
func TestStreamBudgetCountsReleases(t *testing.T) {
	as := newGroup(t, 2, process.WithPublish(process.Eager), process.WithBudget(1024))
	chs := allocate(t, as, 1, process.Uint64{})
	for i := range uint64(2000) { // 112 KiB through one 1 MiB buffer
		if err := chs[0].Push(1, i); err != nil {
			t.Fatalf("push %d with everything before it released: %v", i, err)
		}
		ms := receiveAll(t, as[1], chs[1].Puller)
		if len(ms) != 1 || ms[0].Value != i {
			t.Fatalf("message %d: received %v", i, values(ms))
		}
		releaseAll(t, ms)
		if s := as[0].Stats().Peers[1]; s.InFlight != 0 || !s.Streaming {
			t.Fatalf("after message %d was released: InFlight %d, Streaming %v; want 0, true",
				i, s.InFlight, s.Streaming)
		}
	}
}

// TestStreamPeerGone checks an eager sender whose target shuts down with a
// stream open to it: the target's Shutdown gives up the stream's view, and
// the sender's next push fails with ErrPeerGone, counted, instead of writing
// on into a buffer nobody reads.
func TestStreamPeerGone(t *testing.T) {
	as := newGroup(t, 2, process.WithPublish(process.Eager))
	chs := allocate(t, as, 1, process.Uint64{})
	pushValues(t, chs[0], 1, 0, 3)
	if err := as[1].Receive(); err != nil {
		t.Fatal(err)
	}
	if err := chs[0].Push(1, 3); err != nil { // announced by cursor, never received
		t.Fatal(err)
	}
	as[1].Shutdown()
	if v := slabStats(as[0]).OutstandingViews; v != 0 {
		t.Errorf("%d outstanding views after the receiver's Shutdown, want 0", v)
	}
	for i := range 2 {
		if err := chs[0].Push(1, 4); !errors.Is(err, process.ErrPeerGone) || !mentions(err, 1) {
			t.Errorf("push %d to a shut-down peer: %v, want ErrPeerGone naming worker 1", i, err)
		}
	}
	if s := as[0].Stats(); s.Drops.PeerGone != 2 || s.Peers[1].Streaming {
		t.Errorf("Drops.PeerGone %d, Streaming %v; want 2, false", s.Drops.PeerGone,
			s.Peers[1].Streaming)
	}
}

// TestStreamFinished checks that Finished waits for the frames of a closed
// sender's stream: its Close ends the stream, and until the receiver has
// taken and pulled them all it is not finished.
func TestStreamFinished(t *testing.T) {
	as := newGroup(t, 2, process.WithPublish(process.Eager))
	chs := allocate(t, as, 1, process.Uint64{})
	for i := range uint64(3) {
		if err := chs[0].Push(1, i); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := as[1].Receive(); err != nil { // takes the stream's start
				t.Fatal(err)
			}
		}
	}
	for _, a := range as {
		if err := a.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	got := values(pullAll(t, chs[1].Puller))
	if as[1].Finished() {
		t.Fatal("Finished with two messages announced only by the stream's cursor")
	}
	got = append(got, values(receiveAll(t, as[1], chs[1].Puller))...)
	if !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Errorf("received %v, want [0 1 2]", got)
	}
	if !as[1].Finished() {
		t.Error("not Finished after receiving everything")
	}
}

// TestBufferSizeLimit checks that WithSlab refuses buffers larger than a
// stream's cursor can address, naming the size, and accepts the largest.
func TestBufferSizeLimit(t *testing.T) {
	limit := int64(process.MaxBufferSize)
	if limit >= math.MaxInt {
		t.Skip("an int cannot exceed the limit here")
	}
	_, err := process.NewBuilders(2, process.WithSlab(slab.Config{BufferSize: int(limit + 1)}))
	if err == nil || !mentions(err, uint64(limit+1)) {
		t.Errorf("buffer size above the limit: %v, want an error naming the size", err)
	}
	at := slab.Config{BufferSize: int(limit)}
	if _, err := process.NewBuilders(2, process.WithSlab(at)); err != nil {
		t.Errorf("buffer size at the limit: %v", err)
	}
}

// TestStreamBufferStartsOver plays ping-pong of 1 KiB messages through
// 64 KiB buffers with no idle buffers kept: when a buffer fills and the
// receiver has taken and released all of it, the writer starts it over in
// place although the stream's start and end views are still alive, rather
// than freeing it and taking a fresh one from the refill each time.
func TestStreamBufferStartsOver(t *testing.T) {
	n := scale(5000, 500) // 5 MiB each way: 78 buffer fills
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			var allocs [2]int64
			err := process.Run(context.Background(), 2, func(a *process.Allocator) error {
				ch, err := process.Allocate(a, 1, process.Bytes{})
				if err != nil {
					return err
				}
				payload := make([]byte, 1024)
				peer := 1 - a.Index()
				push := func() error {
					if err := ch.Push(peer, payload); err != nil {
						return err
					}
					return a.Release()
				}
				if a.Index() == 0 {
					if err := push(); err != nil {
						return err
					}
				}
				for got := 0; got < n; {
					if err := a.Receive(); err != nil {
						return err
					}
					m, ok, err := ch.Puller.Pull()
					if err != nil {
						return err
					}
					if !ok {
						a.DrainEvents(nil)
						if err := a.AwaitEvents(-1); err != nil {
							return err
						}
						continue
					}
					if err := m.Release(); err != nil {
						return err
					}
					if got++; a.Index() == 1 || got < n {
						if err := push(); err != nil {
							return err
						}
					}
				}
				allocs[a.Index()] = a.Stats().Slab.BuffersAllocated
				return nil
			}, process.WithPublish(mode),
				process.WithSlab(slab.Config{BufferSize: 64 << 10, Idle: -1}))
			if err != nil {
				t.Fatal(err)
			}
			if allocs[0] > 2 || allocs[1] > 2 {
				t.Errorf("%d round trips of 1 KiB took %v buffers of 64 KiB from the refill "+
					"(per worker), want at most 2", n, allocs)
			}
		})
	}
}

// TestStreamCloseAfterPeerShutdown checks that a sender whose receiver took
// and released everything and then shut down closes cleanly: the end of its
// stream cannot be delivered, but it carries no message, so nothing is
// reported or counted as lost.
func TestStreamCloseAfterPeerShutdown(t *testing.T) {
	as := newGroup(t, 2, process.WithPublish(process.Eager))
	chs := allocate(t, as, 1, process.Uint64{})
	pushValues(t, chs[0], 1, 0, 3)
	releaseAll(t, receiveAll(t, as[1], chs[1].Puller))
	as[1].Shutdown()
	if err := as[0].Close(context.Background()); err != nil {
		t.Errorf("Close after everything was delivered: %v", err)
	}
	if d := as[0].Stats().Drops.PeerGone; d != 0 {
		t.Errorf("Drops.PeerGone %d after nothing was lost, want 0", d)
	}
}

// TestStreamQuietPromiseEnds checks that the writer's leave to start a full
// buffer over in place, given when the receiver was done with the buffer,
// does not outlive the reservation it was given for. Here that reservation
// fails (a frame larger than a buffer, and the refill refuses), later
// frames open a new stream in the same buffer, and the receiver has not
// taken them when the buffer fills: the writer must move to another buffer,
// and the receiver must then find every frame as it was written.
func TestStreamQuietPromiseEnds(t *testing.T) {
	refill := &flakyRefill{} // k = 1 refuses every buffer, k = 0 none
	as := newGroup(t, 2, process.WithPublish(process.Eager),
		process.WithSlab(slab.Config{BufferSize: 4096, Refill: refill}))
	chs := allocate(t, as, 1, process.Bytes{})
	msg := func(i int) []byte { return slices.Repeat([]byte{byte(i)}, 64) }
	i := 0
	for ; i < 30; i++ { // 3,360 of 4,096 bytes
		if err := chs[0].Push(1, msg(i)); err != nil {
			t.Fatal(err)
		}
	}
	releaseAll(t, receiveAll(t, as[1], chs[1].Puller)) // taken and released: done with it
	refill.k = 1
	if err := chs[0].Push(1, make([]byte, 5000)); err == nil {
		t.Fatal("a frame larger than a buffer went through with the refill refusing")
	}
	refill.k = 0
	if got := receiveAll(t, as[1], chs[1].Puller); len(got) != 0 { // takes the stream's end
		t.Fatalf("received %d messages from a failed push", len(got))
	}
	// A new stream fills the buffer, and a buffer's worth follows, nothing
	// of it taken: a buffer started over would be written over the frames
	// not yet taken.
	for ; i < 72; i++ {
		if err := chs[0].Push(1, msg(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := receiveAll(t, as[1], chs[1].Puller)
	if len(got) != 42 {
		t.Fatalf("received %d messages, want 42", len(got))
	}
	for k, m := range got {
		if !slices.Equal(m.Value, msg(30+k)) {
			t.Errorf("message %d reads %v..., want %d throughout", 30+k, m.Value[:4], 30+k)
		}
	}
	releaseAll(t, got)
}

// TestStreamHeldMessageAfterTargetShutdown checks that a buffer is not
// started over under a message its target still holds after it shut down.
// The target's Shutdown gives up the stream's view; the one view of the
// buffer left is then the held message, which the sender, filling the
// buffer, must not mistake for the stream's own.
func TestStreamHeldMessageAfterTargetShutdown(t *testing.T) {
	as := newGroup(t, 2, process.WithPublish(process.Eager),
		process.WithSlab(slab.Config{BufferSize: 4096}))
	chs := allocate(t, as, 1, process.Bytes{})
	want := slices.Repeat([]byte{'A'}, 100)
	if err := chs[0].Push(1, want); err != nil {
		t.Fatal(err)
	}
	ms := receiveAll(t, as[1], chs[1].Puller)
	if len(ms) != 1 {
		t.Fatalf("received %d messages, want 1", len(ms))
	}
	if err := as[1].Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	as[1].Shutdown()
	if err := chs[0].Push(1, slices.Repeat([]byte{'B'}, 4000)); !errors.Is(err, process.ErrPeerGone) {
		t.Errorf("push filling the buffer after the target shut down: %v, want ErrPeerGone", err)
	}
	if got := ms[0].Value; !slices.Equal(got, want) {
		t.Errorf("the held message was written over: it reads %q...", got[:16])
	}
	releaseAll(t, ms)
}
