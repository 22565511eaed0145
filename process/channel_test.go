package process_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

// TestChannelOrder checks that channel ids must increase on each allocator:
// a lower or repeated id is an error naming both ids, and it leaves the
// allocator able to allocate later ids that do increase.
func TestChannelOrder(t *testing.T) {
	a := newGroup(t, 1)[0]
	steps := []struct {
		id    uint64
		bound uint64 // the highest id allocated before, when the step fails
		ok    bool
	}{
		{id: 5, ok: true},
		{id: 5, bound: 5},
		{id: 3, bound: 5},
		{id: 0, bound: 5},
		{id: 6, ok: true},
		{id: 6, bound: 6},
		{id: math.MaxUint64, ok: true},
		{id: 7, bound: math.MaxUint64},
		{id: math.MaxUint64, bound: math.MaxUint64},
	}
	var chans []*process.Channel[uint64]
	for _, s := range steps {
		ch, err := process.Allocate(a, s.id, process.Uint64{})
		if s.ok {
			if err != nil {
				t.Fatalf("Allocate(%d): %v", s.id, err)
			}
			chans = append(chans, ch)
			continue
		}
		if !errors.Is(err, process.ErrChannelOrder) {
			t.Fatalf("Allocate(%d) after %d: error %v, want ErrChannelOrder", s.id, s.bound, err)
		}
		if ch != nil {
			t.Errorf("Allocate(%d) after %d returned a channel with its error", s.id, s.bound)
		}
		if !mentions(err, s.id) || !mentions(err, s.bound) {
			t.Errorf("Allocate(%d) after %d: error %q does not name both ids",
				s.id, s.bound, err)
		}
	}

	// Every channel allocated between the refusals works.
	for i, ch := range chans {
		if err := ch.Push(0, uint64(i)); err != nil {
			t.Fatalf("Push on channel %d: %v", ch.ID, err)
		}
	}
	for i, ch := range chans {
		ms := receiveAll(t, a, ch.Puller)
		if got := values(ms); !slices.Equal(got, []uint64{uint64(i)}) {
			t.Errorf("channel %d received %v, want [%d]", ch.ID, got, i)
		}
		releaseAll(t, ms)
	}
}

// TestEarlyMessages checks that messages that arrive for a channel before its
// receiver allocates it wait, counted as staged, and that the puller yields
// them in order once it is made.
func TestEarlyMessages(t *testing.T) {
	as := newGroup(t, 2)
	a, b := as[0], as[1]
	const id = 7
	chB, err := process.Allocate(b, id, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 3; i++ {
		if err := chB.Push(0, 100+i); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if err := a.Receive(); err != nil {
		t.Fatalf("Receive: %v", err)
	}
	frameBytes := 3 * (48 + 8)
	if s := a.Stats(); s.Staged != frameBytes || s.Queued != 3 {
		t.Errorf("before Allocate: Staged %d, Queued %d; want %d, 3", s.Staged, s.Queued,
			frameBytes)
	}
	if ev := a.DrainEvents(nil); !slices.Equal(ev, []uint64{id, id, id}) {
		t.Errorf("events %v, want [7 7 7]", ev)
	}

	chA, err := process.Allocate(a, id, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.Staged != 0 || s.Queued != 3 {
		t.Errorf("after Allocate: Staged %d, Queued %d; want 0, 3", s.Staged, s.Queued)
	}
	if n := chA.Puller.Len(); n != 3 {
		t.Errorf("Puller.Len %d, want 3", n)
	}
	ms := pullAll(t, chA.Puller)
	if got := seqnos(ms); !slices.Equal(got, upTo(3)) {
		t.Errorf("seqnos %v, want [0 1 2]", got)
	}
	if got := values(ms); !slices.Equal(got, []uint64{100, 101, 102}) {
		t.Errorf("values %v, want [100 101 102]", got)
	}
	for _, m := range ms {
		if m.Header().Channel != id || m.Header().Source != 1 || m.Header().TargetLower != 0 ||
			m.Header().TargetUpper != 1 || m.Header().Length != 8 {
			t.Errorf("header %v", m.Header())
		}
	}
	releaseAll(t, ms)
	if v, want := slabStats(b).OutstandingViews, streamViews(b); v != want {
		t.Errorf("sender has %d outstanding views after release, want %d (its streams')", v, want)
	}

	// A channel with nothing staged starts empty.
	ch8, err := process.Allocate(a, 8, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ch8.Puller.Pull(); ok || err != nil {
		t.Errorf("Pull on a fresh channel: ok %v, err %v; want nothing", ok, err)
	}
	if n := ch8.Puller.Len(); n != 0 {
		t.Errorf("fresh puller has Len %d", n)
	}
}

// TestStagedLimit checks that messages for unallocated channels past the
// staged limit are dropped, counted and reported with an error naming the
// channel, and that the ones kept still reach the puller.
func TestStagedLimit(t *testing.T) {
	const frameSize = 48 + 8
	as := newGroup(t, 2, process.WithStagedLimit(2*frameSize))
	a, b := as[0], as[1]
	chB, err := process.Allocate(b, 7, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 5; i++ {
		if err := chB.Push(0, i); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	err = a.Receive()
	if !errors.Is(err, process.ErrStagedLimit) {
		t.Fatalf("Receive: %v, want ErrStagedLimit", err)
	}
	if !mentions(err, 7) {
		t.Errorf("error %q does not name channel 7", err)
	}
	s := a.Stats()
	if s.Drops.StagedLimit != 3 || s.Staged != 2*frameSize || s.Queued != 2 {
		t.Errorf("Drops.StagedLimit %d, Staged %d, Queued %d; want 3, %d, 2",
			s.Drops.StagedLimit, s.Staged, 2*frameSize, s.Queued)
	}
	if v, want := slabStats(b).OutstandingViews, 2+streamViews(b); v != want {
		t.Errorf("sender has %d outstanding views, want %d (the dropped ones released)", v, want)
	}

	chA, err := process.Allocate(a, 7, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	ms := pullAll(t, chA.Puller)
	if got := values(ms); !slices.Equal(got, []uint64{0, 1}) {
		t.Errorf("values %v, want [0 1]", got)
	}
	releaseAll(t, ms)

	// Once allocated, the channel is no longer limited.
	for i := uint64(0); i < 5; i++ {
		if err := chB.Push(0, i); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	ms = receiveAll(t, a, chA.Puller)
	if got := seqnos(ms); !slices.Equal(got, []uint64{5, 6, 7, 8, 9}) {
		t.Errorf("seqnos after Allocate %v, want [5 6 7 8 9]", got)
	}
	releaseAll(t, ms)
}

// TestStagedBelowBound checks that messages staged for a channel that the
// receiver skipped (it allocated a higher id, so this one can never be
// allocated) are dropped and released, and that later messages for it are
// dropped as for any id at or below the bound that is not live.
func TestStagedBelowBound(t *testing.T) {
	as := newGroup(t, 2)
	a, b := as[0], as[1]
	ch3 := allocate(t, []*process.Allocator{b}, 3, process.Uint64{})[0]
	ch5 := allocate(t, []*process.Allocator{b}, 5, process.Uint64{})[0]
	for i := uint64(0); i < 2; i++ {
		if err := ch3.Push(0, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Receive(); err != nil {
		t.Fatal(err)
	}

	// Worker a skips channel 3.
	chA := allocate(t, []*process.Allocator{a}, 5, process.Uint64{})[0]
	if err := ch3.Push(0, 2); err != nil {
		t.Fatal(err)
	}
	if err := ch5.Push(0, 50); err != nil {
		t.Fatal(err)
	}
	ms := receiveAll(t, a, chA.Puller)
	if got := values(ms); !slices.Equal(got, []uint64{50}) {
		t.Errorf("channel 5 received %v, want [50]", got)
	}
	releaseAll(t, ms)

	s := a.Stats()
	if s.Staged != 0 || s.Queued != 0 || s.Drops.ClosedChannel != 3 {
		t.Errorf("after skipping channel 3: Staged %d, Queued %d, Drops.ClosedChannel %d;"+
			" want 0, 0, 3", s.Staged, s.Queued, s.Drops.ClosedChannel)
	}
	if v, want := slabStats(b).OutstandingViews, streamViews(b); v != want {
		t.Errorf("sender has %d outstanding views, want %d; the skipped channel's messages"+
			" were never released", v, want)
	}
	for _, x := range as {
		if err := x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Receive(); err != nil {
		t.Fatal(err)
	}
	if !a.Finished() {
		t.Errorf("worker 0 not Finished with every peer closed and nothing live left")
	}
}

// TestClosedPuller checks that a closed puller's channel is forgotten at the
// next Receive: what it held, later messages for it, and messages for any id
// at or below the allocated bound that is not live are dropped, counted and
// released, so that the sender's buffers come back for reuse.
func TestClosedPuller(t *testing.T) {
	as := newGroup(t, 2, process.WithSlab(slab.Config{BufferSize: 4096}))
	a, b := as[0], as[1]
	ch3 := allocate(t, []*process.Allocator{a}, 3, process.Bytes{})[0]
	ch5 := allocate(t, []*process.Allocator{a}, 5, process.Bytes{})[0]
	chB := allocate(t, []*process.Allocator{b}, 5, process.Bytes{})[0]
	payload := bytes.Repeat([]byte{0xa5}, 200)
	push := func(ch *process.Channel[[]byte], n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := ch.Push(1, payload); err != nil {
				t.Fatalf("push %d on channel %d: %v", i, ch.ID, err)
			}
		}
	}

	push(ch5, 10)
	if err := b.Receive(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		m, ok, err := chB.Puller.Pull()
		if !ok || err != nil {
			t.Fatalf("Pull %d: ok %v, err %v", i, ok, err)
		}
		if err := m.Release(); err != nil {
			t.Fatal(err)
		}
	}
	chB.Puller.Close()
	if _, _, err := chB.Puller.Pull(); !errors.Is(err, process.ErrClosed) {
		t.Errorf("Pull after Close: %v, want ErrClosed", err)
	}
	if err := b.Receive(); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.Drops.ClosedChannel != 6 || s.Queued != 0 {
		t.Errorf("after forgetting: Drops.ClosedChannel %d, Queued %d; want 6, 0",
			s.Drops.ClosedChannel, s.Queued)
	}

	// Later messages for the closed channel, and for channel 3, which b never
	// allocated but lies below its bound, are dropped.
	push(ch5, 7)
	push(ch3, 8)
	if err := b.Receive(); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.Drops.ClosedChannel != 21 || s.Queued != 0 || s.Staged != 0 {
		t.Errorf("Drops.ClosedChannel %d, Queued %d, Staged %d; want 21, 0, 0",
			s.Drops.ClosedChannel, s.Queued, s.Staged)
	}
	before := slabStats(a)
	if want := streamViews(a); before.OutstandingViews != want {
		t.Errorf("sender has %d outstanding views after the drops, want %d (its streams')",
			before.OutstandingViews, want)
	}

	// The released buffers are reused: a second round takes buffers back
	// instead of allocating them all anew.
	push(ch5, 40)
	if err := b.Receive(); err != nil {
		t.Fatal(err)
	}
	push(ch5, 40)
	if err := b.Receive(); err != nil {
		t.Fatal(err)
	}
	after := slabStats(a)
	if after.BuffersReused <= before.BuffersReused {
		t.Errorf("BuffersReused %d -> %d: released buffers were not reused",
			before.BuffersReused, after.BuffersReused)
	}
	if want := streamViews(a); after.OutstandingViews != want {
		t.Errorf("sender has %d outstanding views, want %d (its streams')",
			after.OutstandingViews, want)
	}
}

// TestZeroLength checks that zero-length payloads are ordinary messages,
// each with its own event and seqno, in both publishing modes.
func TestZeroLength(t *testing.T) {
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			as := newGroup(t, 2, process.WithPublish(mode))
			chs := allocate(t, as, 4, process.Bytes{})
			lengths := []int{0, 0, 5, 0, 48, 0}
			for _, n := range lengths {
				if err := chs[0].Push(1, bytes.Repeat([]byte{byte(n)}, n)); err != nil {
					t.Fatalf("push of %d bytes: %v", n, err)
				}
			}
			if err := as[0].Release(); err != nil {
				t.Fatal(err)
			}
			if err := as[1].Receive(); err != nil {
				t.Fatal(err)
			}
			if ev := as[1].DrainEvents(nil); !slices.Equal(ev, []uint64{4, 4, 4, 4, 4, 4}) {
				t.Errorf("events %v, want six of channel 4", ev)
			}
			ms := pullAll(t, chs[1].Puller)
			if len(ms) != len(lengths) {
				t.Fatalf("%d messages, want %d", len(ms), len(lengths))
			}
			for i, m := range ms {
				want := bytes.Repeat([]byte{byte(lengths[i])}, lengths[i])
				if !bytes.Equal(m.Value, want) || m.Header().Length != uint64(lengths[i]) ||
					m.Header().Seqno != uint64(i) || len(m.Payload()) != lengths[i] {
					t.Errorf("message %d: header %v, value %x; want length %d",
						i, m.Header(), m.Value, lengths[i])
				}
			}
			releaseAll(t, ms)
		})
	}

	t.Run("batched-100", func(t *testing.T) {
		as := newGroup(t, 2, process.WithPublish(process.Batched))
		chs := allocate(t, as, 1, process.Bytes{})
		for i := 0; i < 100; i++ {
			if err := chs[0].Push(1, nil); err != nil {
				t.Fatalf("push %d: %v", i, err)
			}
		}
		if err := as[0].Release(); err != nil {
			t.Fatal(err)
		}
		ms := receiveAll(t, as[1], chs[1].Puller)
		if got := seqnos(ms); !slices.Equal(got, upTo(100)) {
			t.Errorf("received seqnos %v, want 0..99", got)
		}
		for _, m := range ms {
			if len(m.Value) != 0 {
				t.Fatalf("message %d has %d bytes", m.Header().Seqno, len(m.Value))
			}
		}
		releaseAll(t, ms)
		if ps := as[1].Stats().Peers[0]; ps.MessagesReceived != 100 || ps.BytesReceived != 0 {
			t.Errorf("receiver counts %d messages, %d bytes; want 100, 0",
				ps.MessagesReceived, ps.BytesReceived)
		}
	})
}

// TestEvents checks the events list: one entry per received message, naming
// its channel in arrival order, one per puller that runs dry after
// delivering, and nothing once drained.
func TestEvents(t *testing.T) {
	as := newGroup(t, 2)
	a, b := as[0], as[1]
	ch1 := allocate(t, as, 1, process.Uint64{})
	ch2 := allocate(t, as, 2, process.Uint64{})
	ch3 := allocate(t, as, 3, process.Uint64{})
	for _, p := range []*process.Pusher[uint64]{ch1[0].Pushers[1], ch2[0].Pushers[1],
		ch1[0].Pushers[1]} {
		if err := p.Push(9); err != nil {
			t.Fatal(err)
		}
	}
	if a.HasEvents() || b.HasEvents() {
		t.Fatalf("events before any Receive")
	}
	if err := b.Receive(); err != nil {
		t.Fatal(err)
	}
	if !b.HasEvents() {
		t.Fatalf("no events after receiving three messages")
	}
	prefix := []uint64{42}
	if ev := b.DrainEvents(prefix); !slices.Equal(ev, []uint64{42, 1, 2, 1}) {
		t.Errorf("DrainEvents appended %v, want [1 2 1] after the prefix", ev[1:])
	}
	if ev := b.DrainEvents(nil); len(ev) != 0 || b.HasEvents() {
		t.Errorf("events %v after draining", ev)
	}

	// Each puller that delivered and then runs dry records its channel once;
	// one that never delivered records nothing.
	releaseAll(t, pullAll(t, ch2[1].Puller))
	releaseAll(t, pullAll(t, ch1[1].Puller))
	releaseAll(t, pullAll(t, ch3[1].Puller))
	releaseAll(t, pullAll(t, ch1[1].Puller))
	if ev := b.DrainEvents(nil); !slices.Equal(ev, []uint64{2, 1}) {
		t.Errorf("run-dry events %v, want [2 1]", ev)
	}
	if a.HasEvents() {
		t.Errorf("the sender has events: %v", a.DrainEvents(nil))
	}
}

// TestBroadcast checks that one Broadcast reaches every worker exactly once,
// with a target range that covers the group, and that the workers read the
// same bytes: the payload was written once.
func TestBroadcast(t *testing.T) {
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			const peers = 3
			as := newGroup(t, peers, process.WithPublish(mode))
			chs := allocate(t, as, 11, process.Bytes{})
			// A point-to-point message pushed before the broadcast arrives
			// before it, in either mode.
			if err := chs[0].Push(2, []byte("first")); err != nil {
				t.Fatal(err)
			}
			if err := chs[0].Broadcast([]byte("to everyone")); err != nil {
				t.Fatalf("Broadcast: %v", err)
			}
			// Each worker's copy is held until the addresses are compared, so
			// that no pointer outlives the memory it points into.
			var held []process.Message[[]byte]
			for i, a := range as {
				ms := receiveAll(t, a, chs[i].Puller)
				if i == 2 {
					if len(ms) == 0 || string(ms[0].Value) != "first" {
						t.Fatalf("worker 2 got %d messages, want \"first\" first", len(ms))
					}
					releaseAll(t, ms[:1])
					ms = ms[1:]
				}
				if len(ms) != 1 {
					t.Fatalf("worker %d received %d broadcasts, want 1", i, len(ms))
				}
				m := ms[0]
				h := m.Header()
				if h.TargetLower != 0 || h.TargetUpper != peers || h.Source != 0 ||
					h.Channel != 11 || h.Length != 11 || h.Seqno != 0 {
					t.Errorf("worker %d: header %v", i, h)
				}
				if string(m.Value) != "to everyone" || &m.Payload()[0] != &m.Value[0] {
					t.Errorf("worker %d: payload %q, not the Value's bytes", i, m.Value)
				}
				held = append(held, m)
			}
			if p := &held[0].Value[0]; p != &held[1].Value[0] || p != &held[2].Value[0] {
				t.Errorf("payload addresses %p, %p, %p: the broadcast was copied",
					p, &held[1].Value[0], &held[2].Value[0])
			}
			releaseAll(t, held)
			if v, want := slabStats(as[0]).OutstandingViews, streamViews(as[0]); v != want {
				t.Errorf("broadcaster has %d outstanding views, want %d (its streams')", v, want)
			}
		})
	}
}

// TestExchange checks that records with equal keys reach one worker, the one
// Owner names, whoever sends them.
func TestExchange(t *testing.T) {
	const peers = 3
	as := newGroup(t, peers)
	chs := allocate(t, as, 1, process.String{})
	const keys = 300
	for sender, ch := range chs {
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("key-%d", k)
			var err error
			if k%2 == 0 {
				err = ch.Exchange([]byte(key), key)
			} else {
				err = ch.ExchangeString(key, key)
			}
			if err != nil {
				t.Fatalf("worker %d, %s: %v", sender, key, err)
			}
		}
	}
	seen := map[string]int{}
	for i, a := range as {
		ms := receiveAll(t, a, chs[i].Puller)
		for _, m := range ms {
			if w := process.Owner([]byte(m.Value), peers); w != i {
				t.Errorf("%s reached worker %d, Owner says %d", m.Value, i, w)
			}
			if w := process.OwnerString(m.Value, peers); w != i {
				t.Errorf("%s reached worker %d, OwnerString says %d", m.Value, i, w)
			}
			if w, ok := seen[m.Value]; ok && w != i {
				t.Errorf("%s reached workers %d and %d", m.Value, w, i)
			}
			seen[m.Value] = i
		}
		releaseAll(t, ms)
	}
	if len(seen) != keys {
		t.Errorf("%d distinct keys received, want %d", len(seen), keys)
	}
}

// TestPublishModes checks when pushes become visible: at once in eager mode,
// only at Release in batched mode.
func TestPublishModes(t *testing.T) {
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			as := newGroup(t, 2, process.WithPublish(mode))
			if as[0].Publish() != mode {
				t.Fatalf("Publish() = %v", as[0].Publish())
			}
			chs := allocate(t, as, 1, process.Uint64{})
			for i := uint64(0); i < 10; i++ {
				if err := chs[0].Push(1, i); err != nil {
					t.Fatal(err)
				}
			}
			visible := 10 // eager: everything before Release
			if mode == process.Batched {
				visible = 0
			}
			if err := as[1].Receive(); err != nil {
				t.Fatal(err)
			}
			if ev := as[1].DrainEvents(nil); len(ev) != visible {
				t.Errorf("before Release: %d events, want %d", len(ev), visible)
			}
			before := pullAll(t, chs[1].Puller)
			if got := seqnos(before); !slices.Equal(got, upTo(visible)) {
				t.Errorf("before Release: received %v, want %v", got, upTo(visible))
			}
			releaseAll(t, before)

			if err := as[0].Release(); err != nil {
				t.Fatal(err)
			}
			after := receiveAll(t, as[1], chs[1].Puller)
			if got := seqnos(after); !slices.Equal(got, upTo(10)[visible:]) {
				t.Errorf("after Release: received %v, want %v", got, upTo(10)[visible:])
			}
			releaseAll(t, after)
		})
	}
}

// TestDecodeError checks that a payload the channel's codec cannot decode is
// reported with ErrDecode, released, and skipped: the next Pull goes on with
// the message after it.
func TestDecodeError(t *testing.T) {
	as, typed := rawToTyped(t, [][]byte{make([]byte, 8), make([]byte, 5), {7: 9}})
	var got []uint64
	var errs []error
	for i := 0; i < 4; i++ {
		m, ok, err := typed.Puller.Pull()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			got = append(got, m.Value)
			releaseAll(t, []process.Message[uint64]{m})
		}
	}
	if !slices.Equal(got, []uint64{0, 9}) {
		t.Errorf("decoded %v, want [0 9]", got)
	}
	if len(errs) != 1 || !errors.Is(errs[0], process.ErrDecode) || !mentions(errs[0], 1) {
		t.Errorf("errors %v, want one ErrDecode naming channel 1 and seqno 1", errs)
	}
	if v, want := slabStats(as[0]).OutstandingViews, streamViews(as[0]); v != want {
		t.Errorf("sender has %d outstanding views, want %d (its streams')", v, want)
	}
}

// TestStagedLimitLeavesNothing sends past the staged limit on many channels
// the receiver never allocates: the refused messages must leave no inbox
// behind, or a stream of new ids would grow the receiver without bound.
func TestStagedLimitLeavesNothing(t *testing.T) {
	as := newGroup(t, 2, process.WithStagedLimit(100))
	for id := uint64(1); id <= 50; id++ {
		ch, err := process.Allocate(as[0], id, process.Bytes{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Push(1, make([]byte, 60)); err != nil {
			t.Fatal(err)
		}
	}
	err := as[1].Receive()
	if !errors.Is(err, process.ErrStagedLimit) {
		t.Fatalf("Receive: %v, want ErrStagedLimit", err)
	}
	// Each frame is 60+48 bytes, over the limit of 100: every one is refused.
	if n := process.Inboxes(as[1]); n != 0 {
		t.Fatalf("%d inboxes after refusing every message of 50 new channels, want 0", n)
	}
	if s := as[1].Stats(); s.Drops.StagedLimit != 50 || s.Staged != 0 {
		t.Fatalf("dropped %d for the staged limit with %d bytes staged, want 50 and 0",
			s.Drops.StagedLimit, s.Staged)
	}
}

// TestPullInto checks that PullInto yields what Pull yields, in the same
// order, with the same decode errors, and writes its Message only when it
// returns one.
func TestPullInto(t *testing.T) {
	payloads := [][]byte{{7: 1}, make([]byte, 5), {7: 2}, {7: 3}}
	as, typed := rawToTyped(t, payloads)
	var got []uint64
	var errs []error
	m := process.Message[uint64]{Value: 99}
	for i := 0; i < len(payloads)+1; i++ {
		ok, err := typed.Puller.PullInto(&m)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			got = append(got, m.Value)
			if h := m.Header(); h.Channel != 1 || h.Source != 0 {
				t.Errorf("message %d: header %+v, want channel 1 from worker 0", i, h)
			}
			if err := m.Release(); err != nil {
				t.Fatal(err)
			}
			m.Value = 99
		default:
			if m.Value != 99 {
				t.Errorf("PullInto with nothing to pull wrote %d into the message", m.Value)
			}
		}
	}
	if !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("pulled %v, want [1 2 3]", got)
	}
	if len(errs) != 1 || !errors.Is(errs[0], process.ErrDecode) || !mentions(errs[0], 1) {
		t.Errorf("errors %v, want one ErrDecode naming channel 1 and seqno 1", errs)
	}
	if v, want := slabStats(as[0]).OutstandingViews, streamViews(as[0]); v != want {
		t.Errorf("sender has %d outstanding views, want %d (its streams')", v, want)
	}
	if evs := as[1].DrainEvents(nil); len(evs) != len(payloads)+1 {
		t.Errorf("events %v, want one per message and one for running dry", evs)
	}
}

// rawToTyped pushes payloads from worker 0, which writes channel 1 as raw
// bytes, to worker 1, which reads channel 1 as uint64s, and has worker 1
// receive them. It returns the two workers and worker 1's channel.
func rawToTyped(t *testing.T, payloads [][]byte) ([]*process.Allocator,
	*process.Channel[uint64]) {
	t.Helper()
	as := newGroup(t, 2)
	raw := allocate(t, as[:1], 1, process.Bytes{})[0]
	typed := allocate(t, as[1:], 1, process.Uint64{})[0]
	for _, p := range payloads {
		if err := raw.Push(1, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := as[1].Receive(); err != nil {
		t.Fatal(err)
	}
	return as, typed
}
