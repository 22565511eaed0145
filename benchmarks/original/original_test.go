package original_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/benchmarks/original"
	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/slab"
)

// modes lists both publishing modes, for tests that run in each.
var modes = []original.Publish{original.Eager, original.Batched}

// newGroup returns the allocators of a group of peers workers, shut down
// when the test ends.
func newGroup(t *testing.T, peers int, opts ...original.Option) []*original.Allocator {
	t.Helper()
	as, err := original.NewGroup(peers, opts...)
	if err != nil {
		t.Fatalf("NewGroup(%d): %v", peers, err)
	}
	for i, a := range as {
		if a.Index() != i || a.Peers() != peers {
			t.Fatalf("worker %d: Index %d, Peers %d", i, a.Index(), a.Peers())
		}
	}
	t.Cleanup(func() {
		for _, a := range as {
			a.Shutdown()
		}
	})
	return as
}

// allocate allocates channel id on a, failing the test on error.
func allocate(t *testing.T, a *original.Allocator, id uint64) *original.Channel {
	t.Helper()
	c, err := original.Allocate(a, id)
	if err != nil {
		t.Fatalf("worker %d: Allocate(%d): %v", a.Index(), id, err)
	}
	return c
}

// pullAll pulls every waiting message of c, copying each payload and
// releasing the message.
func pullAll(t *testing.T, c *original.Channel) (hdrs []header.Header, payloads [][]byte) {
	t.Helper()
	for {
		m, ok := c.Puller.Pull()
		if !ok {
			return hdrs, payloads
		}
		hdrs = append(hdrs, m.Header)
		payloads = append(payloads, append([]byte(nil), m.Payload()...))
		if err := m.Release(); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
}

// payloadFor is message i from sender to target: 16 bytes naming the three,
// then i%5 bytes of filler, so that lengths vary and zero-length tails occur.
func payloadFor(sender, target, i int) []byte {
	p := make([]byte, 16+i%5)
	binary.BigEndian.PutUint32(p[0:], uint32(sender))
	binary.BigEndian.PutUint32(p[4:], uint32(target))
	binary.BigEndian.PutUint64(p[8:], uint64(i))
	for k := 16; k < len(p); k++ {
		p[k] = byte(i + k)
	}
	return p
}

// TestRoundTrip runs three workers on goroutines of their own, each pushing
// to every worker (itself included) with small slabs, and checks that every
// message arrives once, intact, in its sender's order, with consecutive
// sequence numbers, in both modes.
func TestRoundTrip(t *testing.T) {
	const peers = 3
	msgs := 3000
	if testing.Short() {
		msgs = 500
	}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			as := newGroup(t, peers, original.WithPublish(mode),
				original.WithSlab(slab.Config{BufferSize: 1024, Refill: slab.Heap{}}))
			errs := make([]error, peers)
			var wg sync.WaitGroup
			for _, a := range as {
				wg.Go(func() { errs[a.Index()] = roundTripWorker(a, msgs) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
				}
			}
		})
	}
}

// roundTripWorker is one worker of TestRoundTrip.
func roundTripWorker(a *original.Allocator, msgs int) error {
	c, err := original.Allocate(a, 7)
	if err != nil {
		return err
	}
	next := make([]int, a.Peers()) // next message index expected from each sender
	check := func() error {
		if err := a.Receive(); err != nil {
			return err
		}
		for {
			m, ok := c.Puller.Pull()
			if !ok {
				break
			}
			h, p := m.Header, m.Payload()
			s := int(h.Source)
			want := payloadFor(s, a.Index(), next[s])
			if h.Channel != 7 || h.TargetLower != uint64(a.Index()) ||
				h.TargetUpper != uint64(a.Index())+1 || h.Seqno != uint64(next[s]) ||
				string(p) != string(want) {
				return fmt.Errorf("from %d: got %v %x, want seqno %d payload %x",
					s, h, p, next[s], want)
			}
			next[s]++
			if err := m.Release(); err != nil {
				return err
			}
		}
		a.DrainEvents(nil)
		return nil
	}
	for i := 0; i < msgs; i++ {
		for t := 0; t < a.Peers(); t++ {
			if err := c.Push(t, payloadFor(a.Index(), t, i)); err != nil {
				return err
			}
		}
		if i%17 == 16 {
			if err := a.Release(); err != nil {
				return err
			}
			if err := check(); err != nil {
				return err
			}
		}
	}
	if err := a.Close(); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for !a.Finished() {
		if err := check(); err != nil {
			return err
		}
		if err := a.AwaitEvents(10 * time.Millisecond); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not finished; received %v of %d each", next, msgs)
		}
	}
	for s, n := range next {
		if n != msgs {
			return fmt.Errorf("received %d messages from worker %d, want %d", n, s, msgs)
		}
	}
	return nil
}

// TestBatchedVisibility checks when a push becomes visible: at once in
// eager mode; at Release, or when the buffer fills, in batched mode.
func TestBatchedVisibility(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			as := newGroup(t, 2, original.WithPublish(mode),
				original.WithSlab(slab.Config{BufferSize: 256, Refill: slab.Heap{}}))
			c0, c1 := allocate(t, as[0], 1), allocate(t, as[1], 1)
			if err := c1.Push(0, []byte("one")); err != nil {
				t.Fatal(err)
			}
			if err := as[0].Receive(); err != nil {
				t.Fatal(err)
			}
			_, got := pullAll(t, c0)
			want := 1
			if mode == original.Batched {
				want = 0
			}
			if len(got) != want {
				t.Fatalf("before Release: %d messages visible, want %d", len(got), want)
			}
			if err := as[1].Release(); err != nil {
				t.Fatal(err)
			}
			if err := as[0].Receive(); err != nil {
				t.Fatal(err)
			}
			if _, more := pullAll(t, c0); len(got)+len(more) != 1 {
				t.Fatalf("after Release: %d messages in all, want 1", len(got)+len(more))
			}

			// Five frames of 48+32 bytes overflow a 256-byte buffer whose
			// first 51 bytes hold the message above: the first two are
			// published when the third needs room.
			for i := 0; i < 5; i++ {
				if err := c1.Push(0, make([]byte, 32)); err != nil {
					t.Fatal(err)
				}
			}
			if err := as[0].Receive(); err != nil {
				t.Fatal(err)
			}
			_, got = pullAll(t, c0)
			want = 5
			if mode == original.Batched {
				want = 2
			}
			if len(got) != want {
				t.Errorf("5 pushes into 256-byte buffers: %d visible, want %d", len(got), want)
			}
		})
	}
}

// TestEarlyMessages checks that messages for a channel not yet allocated are
// kept for its puller, in order, and that those for lower ids are dropped
// once a higher id is allocated, as are later ones for those ids.
func TestEarlyMessages(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			as := newGroup(t, 2, original.WithPublish(mode))
			c3, c5 := allocate(t, as[1], 3), allocate(t, as[1], 5)
			for i := 0; i < 4; i++ {
				if err := c5.Push(0, []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
				if err := c3.Push(0, []byte{byte(10 + i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := as[1].Release(); err != nil {
				t.Fatal(err)
			}
			if err := as[0].Receive(); err != nil {
				t.Fatal(err)
			}
			if ev := as[0].DrainEvents(nil); len(ev) != 8 {
				t.Errorf("events %v, want 8 entries", ev)
			}

			r5 := allocate(t, as[0], 5)
			hdrs, got := pullAll(t, r5)
			if len(got) != 4 {
				t.Fatalf("channel 5 after allocation: %d messages, want 4", len(got))
			}
			for i, p := range got {
				if len(p) != 1 || p[0] != byte(i) || hdrs[i].Seqno != uint64(i) {
					t.Errorf("message %d: %x seqno %d", i, p, hdrs[i].Seqno)
				}
			}
			if s := as[0].Stats(); s.ClosedChannel != 4 {
				t.Errorf("dropped %d messages of channel 3, want 4", s.ClosedChannel)
			}

			// Channel 3 can never be allocated now; later messages drop.
			if err := c3.Push(0, []byte{99}); err != nil {
				t.Fatal(err)
			}
			if err := as[1].Release(); err != nil {
				t.Fatal(err)
			}
			if err := as[0].Receive(); err != nil {
				t.Fatal(err)
			}
			if s := as[0].Stats(); s.ClosedChannel != 5 {
				t.Errorf("dropped %d messages, want 5", s.ClosedChannel)
			}
			if _, err := original.Allocate(as[0], 3); !errors.Is(err, original.ErrChannelOrder) {
				t.Errorf("Allocate(3) after 5: %v, want ErrChannelOrder", err)
			}
			if _, err := original.Allocate(as[0], 5); !errors.Is(err, original.ErrChannelOrder) {
				t.Errorf("Allocate(5) twice: %v, want ErrChannelOrder", err)
			}
		})
	}
}

// TestMergeAndWake checks that contiguous pushes merge into one queue entry,
// that every empty -> non-empty transition sends a wake-up (busy receiver or
// not), and that a wake-up left over makes AwaitEvents return at once.
func TestMergeAndWake(t *testing.T) {
	as := newGroup(t, 2, original.WithPublish(original.Eager))
	allocate(t, as[0], 1)
	c1 := allocate(t, as[1], 1)
	for i := 0; i < 3; i++ {
		if err := c1.Push(0, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if s := as[1].Stats(); s.Published != 3 || s.Wakes != 1 {
		t.Errorf("3 pushes into an empty queue: published %d, wakes %d; want 3, 1",
			s.Published, s.Wakes)
	}
	if err := as[0].Receive(); err != nil {
		t.Fatal(err)
	}
	if err := c1.Push(0, []byte{3}); err != nil {
		t.Fatal(err)
	}
	if s := as[1].Stats(); s.Wakes != 2 {
		t.Errorf("a push after a drain: wakes %d, want 2", s.Wakes)
	}

	// The pending token ends the wait at once; the next wait times out.
	as[0].DrainEvents(nil)
	start := time.Now()
	if err := as[0].AwaitEvents(time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("AwaitEvents with a token pending took %v", d)
	}
	start = time.Now()
	if err := as[0].AwaitEvents(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("AwaitEvents with no token returned after %v, before its timeout", d)
	}
	if err := as[0].Receive(); err != nil {
		t.Fatal(err)
	}
	if s := as[0].Stats(); s.Received != 4 {
		t.Errorf("received %d messages, want 4", s.Received)
	}
}

// TestAwaitWakes checks that a worker parked without a timeout is woken by a
// push from another goroutine, and by a peer's Close.
func TestAwaitWakes(t *testing.T) {
	as := newGroup(t, 2, original.WithPublish(original.Batched))
	c0 := allocate(t, as[0], 1)
	c1 := allocate(t, as[1], 1)
	done := make(chan error, 1)
	go func() {
		a := as[0]
		for {
			if err := a.AwaitEvents(-1); err != nil {
				done <- err
				return
			}
			if err := a.Receive(); err != nil {
				done <- err
				return
			}
			if _, ok := c0.Puller.Pull(); ok {
				break
			}
		}
		_ = a.AwaitEvents(-1) // the peer's Close wakes this one
		done <- nil
	}()
	time.Sleep(5 * time.Millisecond) // let the receiver park first, most likely
	if err := c1.Push(0, []byte("wake")); err != nil {
		t.Fatal(err)
	}
	if err := as[1].Release(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if err := as[1].Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the parked worker was not woken")
	}
}

// TestBadFrame checks that a buffer holding a frame that does not parse is
// reported with the sender named, the frames before it are delivered and the
// rest is dropped and counted.
func TestBadFrame(t *testing.T) {
	as := newGroup(t, 2)
	c0 := allocate(t, as[0], 1)

	w, err := slab.NewWriter(slab.Config{Refill: slab.Heap{}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	good := header.Header{Channel: 1, Source: 1, TargetLower: 0, TargetUpper: 1, Length: 3}
	bad := good
	bad.TargetLower, bad.TargetUpper = 1, 2 // not addressed to worker 0
	var raw []byte
	raw = append(good.Append(raw), "abc"...)
	raw = append(bad.Append(raw), "xyz"...)
	buf, err := w.Reserve(len(raw))
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, raw)
	w.Commit(len(raw))
	v, _ := w.Extract()
	if err := as[0].Inject(1, v); err != nil {
		t.Fatal(err)
	}

	err = as[0].Receive()
	if !errors.Is(err, original.ErrBadFrame) || !errors.Is(err, header.ErrTarget) ||
		!strings.Contains(err.Error(), "worker 1") {
		t.Errorf("Receive: %v, want ErrBadFrame and ErrTarget naming worker 1", err)
	}
	if _, got := pullAll(t, c0); len(got) != 1 || string(got[0]) != "abc" {
		t.Errorf("pulled %q, want the one good frame", got)
	}
	if s := as[0].Stats(); s.BadFrames != 1 || s.BadFrameBytes != header.Size+3 {
		t.Errorf("stats %+v, want 1 bad frame of %d bytes", s, header.Size+3)
	}
	if ws := w.Stats(); ws.OutstandingViews != 0 {
		t.Errorf("%d views of the bad buffer outstanding, want 0", ws.OutstandingViews)
	}
}

// TestClosedPuller checks that a closed puller's messages, and later ones,
// are dropped and released.
func TestClosedPuller(t *testing.T) {
	as := newGroup(t, 2)
	c0, c1 := allocate(t, as[0], 1), allocate(t, as[1], 1)
	if err := c1.Push(0, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := as[0].Receive(); err != nil {
		t.Fatal(err)
	}
	c0.Close()
	if _, ok := c0.Puller.Pull(); ok {
		t.Error("a closed puller yielded a message")
	}
	if err := c1.Push(0, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := as[0].Receive(); err != nil {
		t.Fatal(err)
	}
	if s := as[0].Stats(); s.ClosedChannel != 2 {
		t.Errorf("dropped %d, want 2", s.ClosedChannel)
	}
}

// TestCloseAndShutdown checks Finished, pushes after Close, and pushes to a
// worker that shut down.
func TestCloseAndShutdown(t *testing.T) {
	as := newGroup(t, 2, original.WithPublish(original.Batched))
	c0, c1 := allocate(t, as[0], 1), allocate(t, as[1], 1)
	if err := c1.Push(0, nil); err != nil {
		t.Fatal(err)
	}
	if err := as[1].Close(); err != nil { // publishes the zero-length message
		t.Fatal(err)
	}
	if err := c1.Push(0, nil); !errors.Is(err, original.ErrClosed) {
		t.Errorf("Push after Close: %v, want ErrClosed", err)
	}
	if err := as[0].Close(); err != nil {
		t.Fatal(err)
	}
	if as[0].Finished() {
		t.Error("Finished with a message in the queue")
	}
	if err := as[0].Receive(); err != nil {
		t.Fatal(err)
	}
	if as[0].Finished() {
		t.Error("Finished with a message in the channel")
	}
	if _, got := pullAll(t, c0); len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("pulled %q, want one empty message", got)
	}
	if !as[0].Finished() {
		t.Error("not Finished after everything was pulled")
	}

	bs := newGroup(t, 2)
	d1 := allocate(t, bs[1], 1)
	bs[0].Shutdown()
	if err := d1.Push(0, []byte("x")); !errors.Is(err, original.ErrPeerGone) {
		t.Errorf("Push to a shut-down worker: %v, want ErrPeerGone", err)
	}
	if err := d1.Push(1, make([]byte, original.DefaultMaxPayload+1)); !errors.Is(
		err, original.ErrTooLarge) {
		t.Errorf("Push of an oversized payload: %v, want ErrTooLarge", err)
	}
}

// TestZeroAllocs checks that a steady cycle of push, release, receive, pull
// and message release allocates nothing, in both modes.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			as := newGroup(t, 2, original.WithPublish(mode))
			c0, c1 := allocate(t, as[0], 1), allocate(t, as[1], 1)
			payload := make([]byte, 64)
			var evs []uint64
			cycle := func() {
				for i := 0; i < 8; i++ {
					if err := c1.Push(0, payload); err != nil {
						panic(err)
					}
				}
				if err := as[1].Release(); err != nil {
					panic(err)
				}
				if err := as[0].Receive(); err != nil {
					panic(err)
				}
				for {
					m, ok := c0.Puller.Pull()
					if !ok {
						break
					}
					if err := m.Release(); err != nil {
						panic(err)
					}
				}
				evs = as[0].DrainEvents(evs[:0])
			}
			for i := 0; i < 100; i++ {
				cycle() // grow every slice and queue first
			}
			if n := testing.AllocsPerRun(1000, cycle); n != 0 {
				t.Errorf("a cycle allocates %v times, want 0", n)
			}
		})
	}
}
