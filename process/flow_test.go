package process_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

// TestBackpressure checks the budget: pushes past it fail at once with
// ErrBackpressure and send nothing (the receiver sees seqnos without a gap),
// and once the receiver releases what it holds, pushes succeed again.
func TestBackpressure(t *testing.T) {
	const bufSize = 64 << 10
	const budget = 4 * bufSize
	payload := bytes.Repeat([]byte{0x3c}, 1<<10)
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			as := newGroup(t, 2, process.WithPublish(mode), process.WithBudget(budget),
				process.WithSlab(slab.Config{BufferSize: bufSize}))
			chs := allocate(t, as, 1, process.Bytes{})
			sent := 0
			var err error
			for ; sent < 100*budget/len(payload); sent++ {
				if err = chs[0].Push(1, payload); err != nil {
					break
				}
			}
			if !errors.Is(err, process.ErrBackpressure) {
				t.Fatalf("after %d pushes: %v, want ErrBackpressure", sent, err)
			}
			if sent == 0 {
				t.Fatalf("the first push met backpressure")
			}
			// A failed push hands nothing over: the sender's counts, views
			// and backlog stay as they were.
			before := as[0].Stats()
			if err := chs[0].Push(1, payload); !errors.Is(err, process.ErrBackpressure) {
				t.Fatalf("push again without a release: %v, want ErrBackpressure", err)
			}
			after := as[0].Stats()
			if after.Peers[1] != before.Peers[1] ||
				after.Slab.OutstandingViews != before.Slab.OutstandingViews {
				t.Errorf("a refused push changed the sender: %+v -> %+v",
					before.Peers[1], after.Peers[1])
			}
			// Each successful push handed one reference over (eager: one view
			// per message; batched: one per published buffer).
			if before.Slab.OutstandingViews == 0 {
				t.Errorf("no view outstanding after %d successful pushes", sent)
			}
			ps := after.Peers[1]
			if ps.MessagesSent != uint64(sent) || ps.InFlight == 0 {
				t.Errorf("sender counts %d messages sent, %d bytes in flight; want %d, > 0",
					ps.MessagesSent, ps.InFlight, sent)
			}

			// Release publishes what was pushed (batched mode holds some back).
			if err := as[0].Release(); err != nil {
				t.Fatal(err)
			}
			ms := receiveAll(t, as[1], chs[1].Puller)
			if got := seqnos(ms); !slices.Equal(got, upTo(sent)) {
				t.Fatalf("received %d messages (seqnos %v...), want seqnos 0..%d",
					len(got), got[:min(len(got), 5)], sent-1)
			}
			releaseAll(t, ms)

			for i := 0; i < 10; i++ {
				if err := chs[0].Push(1, payload); err != nil {
					t.Fatalf("push %d after the receiver released: %v", i, err)
				}
			}
			if err := as[0].Release(); err != nil {
				t.Fatal(err)
			}
			ms = receiveAll(t, as[1], chs[1].Puller)
			if got := seqnos(ms); !slices.Equal(got, upTo(sent + 10)[sent:]) {
				t.Errorf("after backpressure received seqnos %v, want %d..%d",
					got, sent, sent+9)
			}
			releaseAll(t, ms)
		})
	}
}

// TestFlood has two workers flood each other with 1 KiB messages, each
// handling backpressure by receiving and releasing, and checks that they
// finish, that every message arrives in order, and that memory stays within
// the bound the budgets imply.
func TestFlood(t *testing.T) {
	const (
		peers   = 2
		bufSize = 64 << 10
		budget  = 1 << 20
		msgSize = 1 << 10
	)
	// The bound on one writer's mapped memory. A push is refused when the
	// bytes in flight (retired buffers still counted, plus the extracted part
	// of the current buffer while a view points into it) and the new frame
	// would exceed the budget, so before a push retired < budget. The push
	// may retire the current buffer: retired < budget + bufSize. Add the
	// current buffer and the idle buffers kept for reuse (slab.DefaultIdle):
	// a writer maps less than budget + (2 + DefaultIdle) * bufSize. A worker
	// has one writer per target (peers of them, itself included, though this
	// test never pushes to itself) and a broadcast writer it never uses.
	const bound = peers * (budget + (2+slab.DefaultIdle)*bufSize)

	total := 1 << 30
	switch {
	case raceEnabled && testing.Short():
		total = 8 << 20
	case raceEnabled:
		total = 32 << 20
	case testing.Short():
		total = 64 << 20
	}
	n := total / msgSize
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			watchdog(t)
			var refusals atomic.Int64
			err := process.Run(context.Background(), peers, func(a *process.Allocator) error {
				return flood(a, n, msgSize, bound, &refusals)
			}, process.WithPublish(mode), process.WithBudget(budget),
				process.WithSlab(slab.Config{BufferSize: bufSize}))
			if err != nil {
				t.Fatal(err)
			}
			// Each worker reads only when refused, so the first to fill its
			// budget is refused whatever the timing; the other may then
			// never be.
			if refusals.Load() == 0 {
				t.Fatalf("%d bytes each way and no push met the budget", n*msgSize)
			}
		})
	}
}

// flood sends n messages of size bytes to the other worker of a two-worker
// group while reading the n it sends back, and checks the memory bound.
func flood(a *process.Allocator, n, size int, bound int64, refusals *atomic.Int64) error {
	ch, err := process.Allocate(a, 1, process.Bytes{})
	if err != nil {
		return err
	}
	peer := 1 - a.Index()
	payload := make([]byte, size)
	var events []uint64
	sent, got, backpressured := 0, 0, 0

	// receive takes what arrived, checks its order and releases it.
	receive := func() (int, error) {
		if err := a.Receive(); err != nil {
			return 0, err
		}
		events = a.DrainEvents(events[:0])
		k := 0
		for {
			m, ok, err := ch.Puller.Pull()
			if err != nil {
				return k, err
			}
			if !ok {
				return k, nil
			}
			if seq := binary.LittleEndian.Uint64(m.Value); seq != uint64(got) ||
				len(m.Value) != size {
				return k, fmt.Errorf("worker %d: message %d (%d bytes), want %d",
					a.Index(), seq, len(m.Value), got)
			}
			got++
			k++
			if err := m.Release(); err != nil {
				return k, err
			}
		}
	}
	checkMemory := func() error {
		s := a.Stats().Slab
		if s.BytesMapped > bound || s.HighWaterBytes > bound {
			return fmt.Errorf("worker %d maps %d bytes (high water %d), bound %d",
				a.Index(), s.BytesMapped, s.HighWaterBytes, bound)
		}
		return nil
	}

	for sent < n {
		binary.LittleEndian.PutUint64(payload, uint64(sent))
		err := ch.Push(peer, payload)
		switch {
		case err == nil:
			sent++
			// Publish often, but read only when refused: the bytes in
			// flight then must reach the budget, whatever the timing.
			if sent%64 == 0 {
				if err := a.Release(); err != nil {
					return err
				}
			}
			if sent%4096 == 0 {
				if err := checkMemory(); err != nil {
					return err
				}
			}
		case errors.Is(err, process.ErrBackpressure):
			backpressured++
			if err := a.Release(); err != nil {
				return err
			}
			k, err := receive()
			if err != nil {
				return err
			}
			if k == 0 {
				runtime.Gosched()
			}
		default:
			return err
		}
	}
	if err := a.Close(context.Background()); err != nil {
		return err
	}
	for !a.Finished() {
		if _, err := receive(); err != nil {
			return err
		}
		if err := a.AwaitEvents(-1); err != nil {
			return err
		}
	}
	if got != n {
		return fmt.Errorf("worker %d received %d messages, want %d", a.Index(), got, n)
	}
	refusals.Add(int64(backpressured))
	return checkMemory()
}

// TestFullRing checks that a full ring never blocks a sender: the rest waits
// in the sender's backlog, and Release delivers it, in order, once the
// receiver has made room.
func TestFullRing(t *testing.T) {
	watchdog(t)
	as := newGroup(t, 2, process.WithRingSize(2), process.WithPublish(process.Batched))
	chs := allocate(t, as, 1, process.Uint64{})
	const n = 1000
	for i := uint64(0); i < n; i++ {
		pushOne(t, chs[0], as[0], 1, i)
	}
	if b := as[0].Stats().Peers[1].Backlog; b == 0 {
		t.Fatalf("no backlog after %d pushes into a ring of 2", n)
	}
	var got []uint64
	for round := 0; len(got) < n && round < n; round++ {
		ms := receiveAll(t, as[1], chs[1].Puller)
		got = append(got, values(ms)...)
		releaseAll(t, ms)
		if err := as[0].Release(); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, upTo(n)) {
		t.Fatalf("received %d values, want 0..%d in order", len(got), n-1)
	}
	if b := as[0].Stats().Peers[1].Backlog; b != 0 {
		t.Errorf("backlog of %d left", b)
	}
}

// TestShutdownReleases checks the ownership rule at shutdown: a receiver's
// Shutdown releases every view in its ring and its channels (allocated or
// not), and the sender's next publication finds the peer gone and releases
// its backlog. Only messages the receiver pulled stay outstanding, until it
// releases them.
func TestShutdownReleases(t *testing.T) {
	as := newGroup(t, 2, process.WithRingSize(2), process.WithPublish(process.Batched))
	a, b := as[0], as[1]
	chs := allocate(t, as, 1, process.Uint64{})
	early := allocate(t, []*process.Allocator{a}, 9, process.Uint64{})[0]

	for i := uint64(0); i < 3; i++ {
		pushOne(t, chs[0], a, 1, i)
	}
	if err := b.Receive(); err != nil { // two views: now in b's channel
		t.Fatal(err)
	}
	held, ok, err := chs[1].Puller.Pull()
	if !ok || err != nil {
		t.Fatalf("Pull: %v, %v", ok, err)
	}
	pushOne(t, early, a, 1, 90)         // goes into b's ring
	if err := b.Receive(); err != nil { // staged for channel 9
		t.Fatal(err)
	}
	for i := uint64(3); i < 8; i++ { // two into b's ring, the rest backlogged
		pushOne(t, chs[0], a, 1, i)
	}
	backlog := a.Stats().Peers[1].Backlog
	if backlog == 0 {
		t.Fatalf("no backlog")
	}
	// The worker that shuts down has a backlog of its own towards a.
	for i := uint64(0); i < 5; i++ {
		pushOne(t, chs[1], b, 0, 500+i)
	}
	if b.Stats().Peers[0].Backlog == 0 {
		t.Fatalf("no backlog at the worker that shuts down")
	}
	if v := slabStats(a).OutstandingViews; v < 5 {
		t.Fatalf("%d outstanding views before shutdown, want at least 5", v)
	}

	b.Shutdown()
	if v := slabStats(a).OutstandingViews; v != int64(1+backlog) {
		t.Errorf("after the receiver's Shutdown: %d outstanding views, want %d"+
			" (one pulled message, %d backlogged)", v, 1+backlog, backlog)
	}
	if err := a.Release(); !errors.Is(err, process.ErrPeerGone) {
		t.Errorf("Release towards a shut-down peer: %v, want ErrPeerGone", err)
	}
	if err := chs[0].Push(1, 100); err != nil {
		t.Errorf("Push to a shut-down peer, unpublished: %v", err)
	}
	if err := a.Release(); !errors.Is(err, process.ErrPeerGone) {
		t.Errorf("Release of a push to a shut-down peer: %v, want ErrPeerGone", err)
	}
	if d := a.Stats().Drops.PeerGone; d < 2 {
		t.Errorf("Drops.PeerGone %d, want at least 2", d)
	}
	if v := slabStats(a).OutstandingViews; v != 1 {
		t.Errorf("%d outstanding views, want 1 (the pulled message)", v)
	}
	if held.Value != 0 {
		t.Errorf("the held message reads %d, want 0", held.Value)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if v := slabStats(a).OutstandingViews; v != 0 {
		t.Errorf("%d outstanding views after every release, want 0", v)
	}
	if err := b.Receive(); !errors.Is(err, process.ErrClosed) {
		t.Errorf("Receive after Shutdown: %v, want ErrClosed", err)
	}
	b.Shutdown() // again: nothing happens

	// b's Shutdown released its backlog; what it had published waits in a's
	// ring, and b's memory is freed when a releases that too.
	if m := slabStats(b).BytesMapped; m == 0 {
		t.Errorf("b's buffers were freed while a's ring still points into them")
	}
	ms := receiveAll(t, a, chs[0].Puller)
	if got := values(ms); !slices.Equal(got, []uint64{500, 501}) {
		t.Errorf("a received %v from b, want [500 501]", got)
	}
	releaseAll(t, ms)
	if m := slabStats(b).BytesMapped; m != 0 {
		t.Errorf("b still maps %d bytes after every view was released", m)
	}
}

// TestOversizedMessage checks that a message larger than the budget is
// accepted when nothing else is outstanding, and only then.
func TestOversizedMessage(t *testing.T) {
	const budget = 1000
	as := newGroup(t, 2, process.WithBudget(budget))
	chs := allocate(t, as, 1, process.Bytes{})
	big := make([]byte, 3*budget)
	if err := chs[0].Push(1, big); err != nil {
		t.Fatalf("first oversized push: %v", err)
	}
	if err := chs[0].Push(1, big); !errors.Is(err, process.ErrBackpressure) {
		t.Fatalf("second oversized push: %v, want ErrBackpressure", err)
	}
	if err := chs[0].Push(1, nil); !errors.Is(err, process.ErrBackpressure) {
		t.Fatalf("small push past the budget: %v, want ErrBackpressure", err)
	}
	releaseAll(t, receiveAll(t, as[1], chs[1].Puller))
	if err := chs[0].Push(1, big); err != nil {
		t.Fatalf("oversized push after the release: %v", err)
	}
	ms := receiveAll(t, as[1], chs[1].Puller)
	if got := seqnos(ms); !slices.Equal(got, []uint64{1}) {
		t.Errorf("received seqnos %v, want [1]", got)
	}
	releaseAll(t, ms)
}

// TestReleaseElsewhere has the receiver hand every message to a third
// goroutine that checks its bytes and releases it, while the sender, held
// to a small budget, keeps reusing the buffers those releases give back.
// A buffer reused before its last reader finished would show up as a wrong
// payload, or, under the race detector, as a race between the reader's
// loads and the sender's stores.
func TestReleaseElsewhere(t *testing.T) {
	watchdog(t)
	const bufSize = 4 << 10
	n := scale(100000, 1000)
	as := newGroup(t, 2, process.WithBudget(4*bufSize),
		process.WithSlab(slab.Config{BufferSize: bufSize}))
	chs := allocate(t, as, 1, process.Bytes{})
	pattern := func(dst []byte, i int) {
		for k := range dst {
			dst[k] = byte(i + k)
		}
	}
	check := func(m process.Message[[]byte]) error {
		i := int(m.Header().Seqno)
		if len(m.Value) != 8+i%200 {
			return fmt.Errorf("message %d has %d bytes", i, len(m.Value))
		}
		for k, b := range m.Value {
			if b != byte(i+k) {
				return fmt.Errorf("message %d, byte %d: %#x, want %#x", i, k, b, byte(i+k))
			}
		}
		return nil
	}

	handoff := make(chan process.Message[[]byte], 256)
	var sendErr, recvErr, releaseErr error
	runConcurrently(t, func() {
		sendErr = func() error {
			buf := make([]byte, 8+199)
			for i := 0; i < n; {
				p := buf[:8+i%200]
				pattern(p, i)
				err := chs[0].Push(1, p)
				if errors.Is(err, process.ErrBackpressure) {
					runtime.Gosched()
					continue
				}
				if err != nil {
					return err
				}
				i++
			}
			return as[0].Close(context.Background())
		}()
	}, func() {
		defer close(handoff)
		recvErr = func() error {
			a, p := as[1], chs[1].Puller
			if err := a.Close(context.Background()); err != nil {
				return err
			}
			next := uint64(0)
			var events []uint64
			for !a.Finished() {
				if err := a.Receive(); err != nil {
					return err
				}
				for {
					m, ok, err := p.Pull()
					if err != nil {
						return err
					}
					if !ok {
						break
					}
					if m.Header().Seqno != next {
						return fmt.Errorf("message %d, want %d", m.Header().Seqno, next)
					}
					next++
					handoff <- m
				}
				events = a.DrainEvents(events[:0])
				if err := a.AwaitEvents(-1); err != nil {
					return err
				}
			}
			if next != uint64(n) {
				return fmt.Errorf("received %d messages, want %d", next, n)
			}
			return nil
		}()
	}, func() {
		for m := range handoff {
			if err := check(m); err != nil && releaseErr == nil {
				releaseErr = err
			}
			if err := m.Release(); err != nil && releaseErr == nil {
				releaseErr = err
			}
		}
	})
	for _, err := range []error{sendErr, recvErr, releaseErr} {
		if err != nil {
			t.Error(err)
		}
	}
	s := slabStats(as[0])
	if s.OutstandingViews != 0 || s.BuffersReused == 0 {
		t.Errorf("sender: %d outstanding views, %d buffers reused; want 0 and some",
			s.OutstandingViews, s.BuffersReused)
	}
}

// TestSelfMessages checks what a worker sends itself, which bypasses its
// ring: in both publishing modes it arrives at the next Receive after it is
// published (in eager mode at once, even though it is published only when
// Receive looks), in order with the worker's broadcasts, wakes AwaitEvents,
// holds Finished back until pulled, and is released by Shutdown when never
// received.
func TestSelfMessages(t *testing.T) {
	watchdog(t)
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			const ringSize = 64
			as := newGroup(t, 2, process.WithPublish(mode), process.WithRingSize(ringSize))
			a := as[0]
			chs := allocate(t, as, 1, process.Uint64{})
			var want []uint64
			// Ten times what a ring holds, with fewer broadcasts than that.
			for i := uint64(0); i < 10*ringSize; i++ {
				if i%32 == 31 {
					if err := chs[0].Broadcast(i); err != nil {
						t.Fatal(err)
					}
				} else if err := chs[0].Push(0, i); err != nil {
					t.Fatal(err)
				}
				want = append(want, i)
			}
			if err := a.Release(); err != nil {
				t.Fatal(err)
			}
			// More than a ring holds is waiting, and nothing is backlogged.
			if bl := a.Stats().Peers[0].Backlog; bl != 0 {
				t.Errorf("backlog towards itself %d, want 0", bl)
			}
			if err := a.AwaitEvents(-1); err != nil { // returns at once
				t.Fatal(err)
			}
			if err := a.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := as[1].Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if a.Finished() {
				t.Error("Finished before receiving what the worker sent itself")
			}
			ms := receiveAll(t, a, chs[0].Puller)
			if got := values(ms); !slices.Equal(got, want) {
				t.Errorf("received %v, want %v", got, want)
			}
			releaseAll(t, ms)
			if !a.Finished() {
				t.Error("not Finished after pulling everything")
			}
			if got := a.Stats().Peers[0].MessagesReceived; got != uint64(len(want)) {
				t.Errorf("MessagesReceived from itself %d, want %d", got, len(want))
			}

			// Pushed to itself and never released: an eager worker still
			// wakes for it and receives it, and is not Finished before; a
			// batched one waits for Release, as for any target.
			b, bch := pushToSelf(t, mode, 3)
			visible := 0
			if mode == process.Eager {
				visible = 3
				if err := b.AwaitEvents(time.Hour); err != nil { // returns at once
					t.Fatal(err)
				}
			}
			if err := b.Receive(); err != nil {
				t.Fatal(err)
			}
			if n := bch.Puller.Len(); n != visible {
				t.Errorf("%d messages after Receive, before Release; want %d", n, visible)
			}
			if err := bch.Push(0, 3); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if b.Finished() {
				t.Error("Finished with a message to itself neither received nor pulled")
			}
			ms = receiveAll(t, b, bch.Puller)
			if got := values(ms); !slices.Equal(got, []uint64{0, 1, 2, 3}) {
				t.Errorf("received %v from itself, want [0 1 2 3]", got)
			}
			releaseAll(t, ms)
			if !b.Finished() {
				t.Error("not Finished after pulling everything it sent itself")
			}

			// Published to itself and never received: Shutdown releases it.
			solo, _ := pushToSelf(t, mode, 5)
			if err := solo.Release(); err != nil {
				t.Fatal(err)
			}
			if v := slabStats(solo).OutstandingViews; v == 0 {
				t.Fatal("no views outstanding before Shutdown")
			}
			solo.Shutdown()
			if v := slabStats(solo).OutstandingViews; v != 0 {
				t.Errorf("%d views outstanding after Shutdown, want 0", v)
			}
		})
	}
}

// pushToSelf makes a group of one worker in the given mode and has it push
// the values 0 to n-1 to itself on channel 1.
func pushToSelf(t *testing.T, mode process.Publish, n int) (*process.Allocator,
	*process.Channel[uint64]) {
	t.Helper()
	a := newGroup(t, 1, process.WithPublish(mode))[0]
	ch, err := process.Allocate(a, 1, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(n) {
		if err := ch.Push(0, i); err != nil {
			t.Fatal(err)
		}
	}
	return a, ch
}
