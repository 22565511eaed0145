package ring_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"weak"

	"github.com/zcomm-go/zcomm/internal/unsafeutil"
	"github.com/zcomm-go/zcomm/ring"
)

// payload is a heap object whose lifetime the tests watch with weak pointers.
// It is larger than 16 bytes and holds a pointer, so the allocator never
// batches it with other objects in a shared tiny block.
type payload struct {
	n    int
	next *payload
	_    [32]byte
}

// mustNew returns a ring of n slots or fails the test.
func mustNew[T any](t testing.TB, n int) *ring.Ring[T] {
	t.Helper()
	r, err := ring.New[T](n)
	if err != nil {
		t.Fatalf("New(%d): %v", n, err)
	}
	return r
}

// mustNewAt returns a ring of n slots whose counters start at start, or fails
// the test.
func mustNewAt[T any](t testing.TB, n int, start uint64) *ring.Ring[T] {
	t.Helper()
	r, err := ring.NewAt[T](n, start)
	if err != nil {
		t.Fatalf("NewAt(%d, %#x): %v", n, start, err)
	}
	return r
}

// TestNew checks which slot counts New accepts.
func TestNew(t *testing.T) {
	for _, n := range []int{2, 4, 8, 1024, 1 << 16} {
		r, err := ring.New[int](n)
		if err != nil {
			t.Errorf("New(%d): %v", n, err)
			continue
		}
		if r.Cap() != n || r.Len() != 0 || r.Ready() || r.Closed() || r.Poisoned() {
			t.Errorf("New(%d): Cap %d Len %d Ready %t Closed %t Poisoned %t",
				n, r.Cap(), r.Len(), r.Ready(), r.Closed(), r.Poisoned())
		}
	}
	bad := []int{math.MinInt, -4, -2, -1, 0, 1, 3, 5, 6, 7, 12, 1000, 1<<20 + 1,
		ring.MaxSlots - 1, ring.MaxSlots + 1, math.MaxInt}
	for _, n := range []int64{2 * ring.MaxSlots, ring.MaxSlots << 2} {
		if n <= math.MaxInt { // beyond an int on 32-bit platforms
			bad = append(bad, int(n))
		}
	}
	for _, n := range bad {
		if r, err := ring.New[int](n); err == nil || r != nil {
			t.Errorf("New(%d) = %v, %v; want an error", n, r, err)
		}
		if r, err := ring.NewAt[int](n, 1<<40); err == nil || r != nil {
			t.Errorf("NewAt(%d) = %v, %v; want an error", n, r, err)
		}
	}
}

// TestPushDrainOrder checks that entries come out in push order with their
// producers, and that Len and Ready follow.
func TestPushDrainOrder(t *testing.T) {
	r := mustNew[string](t, 8)
	in := []ring.Entry[string]{
		{Producer: 3, Value: "a"}, {Producer: 0, Value: "b"}, {Producer: -1, Value: ""},
		{Producer: 3, Value: "d"}, {Producer: math.MaxInt, Value: "e"},
	}
	if got := r.Drain(nil); got != nil {
		t.Errorf("Drain of an empty ring = %v, want nil", got)
	}
	for i, e := range in {
		if err := r.Push(e.Producer, e.Value); err != nil {
			t.Fatalf("Push %d: %v", i, err)
		}
		if r.Len() != i+1 || !r.Ready() {
			t.Errorf("after %d pushes: Len %d Ready %t", i+1, r.Len(), r.Ready())
		}
	}
	prefix := []ring.Entry[string]{{Producer: 42, Value: "kept"}}
	got := r.Drain(prefix)
	if want := append(prefix[:1:1], in...); !slices.Equal(got, want) {
		t.Errorf("Drain = %v, want %v", got, want)
	}
	if r.Len() != 0 || r.Ready() {
		t.Errorf("after Drain: Len %d Ready %t", r.Len(), r.Ready())
	}
	if got := r.Drain(nil); len(got) != 0 {
		t.Errorf("second Drain = %v, want nothing", got)
	}
}

// TestFull checks that Push answers ErrFull exactly when every slot is taken,
// and that one drained slot makes room for one more push.
func TestFull(t *testing.T) {
	for _, n := range []int{2, 4, 16} {
		r := mustNew[int](t, n)
		for lap := 0; lap < 3; lap++ {
			for i := 0; i < n; i++ {
				if err := r.Push(1, i); err != nil {
					t.Fatalf("%d slots, lap %d: Push %d: %v", n, lap, i, err)
				}
			}
			if r.Len() != n {
				t.Errorf("%d slots: Len %d when full", n, r.Len())
			}
			for i := 0; i < 3; i++ {
				if err := r.Push(1, -1); !errors.Is(err, ring.ErrFull) {
					t.Fatalf("%d slots: Push to a full ring: %v, want ErrFull", n, err)
				}
			}
			if r.Len() != n {
				t.Errorf("%d slots: Len %d after refused pushes", n, r.Len())
			}
			got := r.Drain(nil)
			if len(got) != n {
				t.Fatalf("%d slots: drained %d entries, want %d", n, len(got), n)
			}
			for i, e := range got {
				if e.Value != i {
					t.Errorf("%d slots: entry %d is %d; a refused value got in?", n, i, e.Value)
				}
			}
		}
	}
}

// pushFresh pushes count new payloads into r and returns weak pointers to
// them. It runs in its own frame so that no strong pointer outlives it.
//
//go:noinline
func pushFresh(t *testing.T, r *ring.Ring[*payload], count int) []weak.Pointer[payload] {
	t.Helper()
	var ws []weak.Pointer[payload]
	for i := 0; i < count; i++ {
		p := &payload{n: i}
		if err := r.Push(i, p); err != nil {
			t.Fatalf("Push %d: %v", i, err)
		}
		ws = append(ws, weak.Make(p))
	}
	return ws
}

// refuseFresh pushes a new payload into a full ring and returns a weak
// pointer to it, checking that the push failed.
//
//go:noinline
func refuseFresh(t *testing.T, r *ring.Ring[*payload], want error) weak.Pointer[payload] {
	t.Helper()
	p := &payload{n: -1}
	if err := r.Push(0, p); !errors.Is(err, want) {
		t.Fatalf("Push: %v, want %v", err, want)
	}
	if p.n != -1 {
		t.Fatalf("Push changed the refused value")
	}
	for i, v := range ring.SlotValues(r) {
		if v == p {
			t.Fatalf("slot %d holds the refused value", i)
		}
	}
	return weak.Make(p)
}

// expectCollected fails the test if any of ws still points to a live object.
func expectCollected(t *testing.T, what string, ws []weak.Pointer[payload]) {
	t.Helper()
	runtime.GC()
	runtime.GC()
	for i, w := range ws {
		if w.Value() != nil {
			t.Errorf("%s: object %d is still alive", what, i)
		}
	}
}

// expectSlotsZero fails the test unless every slot of r is nil.
func expectSlotsZero(t *testing.T, what string, r *ring.Ring[*payload]) {
	t.Helper()
	for i, v := range ring.SlotValues(r) {
		if v != nil {
			t.Errorf("%s: slot %d still holds %p", what, i, v)
		}
	}
}

// TestKeepsNothingAlive checks that a drained, handed back or refused value
// is not kept by the ring: its slot is zeroed and the object is collected
// once the caller drops it.
func TestKeepsNothingAlive(t *testing.T) {
	t.Run("drained", func(t *testing.T) {
		r := mustNew[*payload](t, 4)
		for lap := 0; lap < 3; lap++ {
			ws := pushFresh(t, r, 3)
			got := r.Drain(make([]ring.Entry[*payload], 0, 4))
			for i, e := range got {
				if e.Value != ws[i].Value() || e.Value.n != i {
					t.Errorf("lap %d: entry %d holds %v", lap, i, e.Value)
				}
			}
			expectSlotsZero(t, "after Drain", r)
			clear(got[:cap(got)])
			expectCollected(t, "after Drain", ws)
		}
		runtime.KeepAlive(r) // the ring must be reachable for the check to mean anything
	})
	t.Run("refused when full", func(t *testing.T) {
		r := mustNew[*payload](t, 2)
		kept := pushFresh(t, r, 2)
		w := refuseFresh(t, r, ring.ErrFull)
		expectCollected(t, "refused", []weak.Pointer[payload]{w})
		runtime.KeepAlive(r)
		got := r.Drain(nil)
		if len(got) != 2 || got[0].Value != kept[0].Value() || got[1].Value != kept[1].Value() {
			t.Errorf("Drain after a refused push = %v", got)
		}
	})
	t.Run("handed back by Close", func(t *testing.T) {
		r := mustNew[*payload](t, 4)
		ws := pushFresh(t, r, 4)
		got := r.Close(nil)
		if len(got) != 4 {
			t.Fatalf("Close handed back %d entries, want 4", len(got))
		}
		expectSlotsZero(t, "after Close", r)
		w := refuseFresh(t, r, ring.ErrClosed)
		clear(got)
		expectCollected(t, "after Close", append(ws, w))
		runtime.KeepAlive(r)
	})
	t.Run("refused when poisoned", func(t *testing.T) {
		r := mustNew[*payload](t, 4)
		r.Poison()
		w := refuseFresh(t, r, ring.ErrPoisoned)
		expectCollected(t, "refused by a poisoned ring", []weak.Pointer[payload]{w})
		runtime.KeepAlive(r)
	})
}

// TestDrainAllocs checks that Push and Drain allocate nothing when dst has
// room for a full ring.
func TestDrainAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	r := mustNew[*payload](t, 8)
	p := &payload{}
	dst := make([]ring.Entry[*payload], 0, r.Cap())
	allocs := testing.AllocsPerRun(1000, func() {
		for i := 0; i < r.Cap(); i++ {
			if err := r.Push(i, p); err != nil {
				panic(err)
			}
		}
		dst = r.Drain(dst[:0])
		if len(dst) != r.Cap() {
			panic("short drain")
		}
	})
	if allocs != 0 {
		t.Errorf("filling and draining a ring allocates %v times, want 0", allocs)
	}
}

// TestNearWrap starts the counters just below 2^64 and runs several laps
// across the wrap, comparing every step with a plain FIFO.
func TestNearWrap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2, 4, 8} {
		ks := []uint64{0, 1, 2, uint64(n) - 1, uint64(n), uint64(n) + 1, 3 * uint64(n)}
		for _, k := range ks {
			// The ring starts k positions below 2^64 and runs at least
			// eight laps past it.
			start := math.MaxUint64 - 2*k
			r := mustNewAt[uint64](t, n, start)
			var model []uint64
			var next uint64
			pushes := 0
			for step := 0; pushes < 8*n+int(k); step++ {
				if rng.IntN(3) != 0 {
					err := r.Push(int(next%7), next)
					if len(model) == n {
						if !errors.Is(err, ring.ErrFull) {
							t.Fatalf("n=%d k=%d step %d: Push to full ring: %v", n, k, step, err)
						}
					} else if err != nil {
						t.Fatalf("n=%d k=%d step %d: Push: %v", n, k, step, err)
					} else {
						model = append(model, next)
						next++
						pushes++
					}
				} else {
					got := r.Drain(nil)
					if len(got) != len(model) {
						t.Fatalf("n=%d k=%d step %d: drained %d, want %d",
							n, k, step, len(got), len(model))
					}
					for i, e := range got {
						if e.Value != model[i] || e.Producer != int(model[i]%7) {
							t.Fatalf("n=%d k=%d step %d: entry %d = %+v, want %d",
								n, k, step, i, e, model[i])
						}
					}
					model = model[:0]
				}
				if r.Len() != len(model) || r.Ready() != (len(model) > 0) {
					t.Fatalf("n=%d k=%d step %d: Len %d Ready %t, model holds %d",
						n, k, step, r.Len(), r.Ready(), len(model))
				}
			}
			got := r.Close(nil)
			if len(got) != len(model) || !r.Closed() {
				t.Errorf("n=%d k=%d: Close handed back %d, model holds %d; Closed %t",
					n, k, len(got), len(model), r.Closed())
			}
		}
	}
}

// TestNewAtOddStart checks that an odd start position, which would collide
// with the closed flag, is rounded down and the ring still works.
func TestNewAtOddStart(t *testing.T) {
	for _, start := range []uint64{1, 3, math.MaxUint64, math.MaxUint64 - 2} {
		r := mustNewAt[int](t, 2, start)
		if r.Closed() || r.Len() != 0 {
			t.Errorf("NewAt(2, %#x): Closed %t Len %d", start, r.Closed(), r.Len())
		}
		for i := 0; i < 5; i++ {
			if err := r.Push(0, i); err != nil {
				t.Fatalf("NewAt(2, %#x): Push %d: %v", start, i, err)
			}
			if got := r.Drain(nil); len(got) != 1 || got[0].Value != i {
				t.Fatalf("NewAt(2, %#x): Drain = %v, want [%d]", start, got, i)
			}
		}
	}
}

// TestLayout checks that the counters written by different goroutines lie
// on separate cache lines (and prefetch pairs): the producers' tail and their
// copy of head on one side, the consumer's head on another, poisoned on a
// third. The producers' two words share a line on purpose, since every push
// touches both.
func TestLayout(t *testing.T) {
	check := func(name string, tail, seenHead, head, poisoned uintptr) {
		t.Helper()
		const line = unsafeutil.CacheLineSize
		if line < 128 {
			t.Errorf("CacheLineSize is %d, want at least 128", line)
		}
		type field struct {
			name string
			off  uintptr
		}
		producers := []field{{"tail", tail}, {"seenHead", seenHead}}
		others := []field{{"head", head}, {"poisoned", poisoned}}
		apart := func(a, b field) {
			t.Helper()
			if d := max(a.off, b.off) - min(a.off, b.off); d < 128 {
				t.Errorf("%s: %s at %d and %s at %d are %d bytes apart, want >= 128",
					name, a.name, a.off, b.name, b.off, d)
			}
		}
		for _, p := range producers {
			for _, o := range others {
				apart(p, o)
			}
		}
		apart(others[0], others[1])
		if tail < 128 || seenHead < 128 {
			t.Errorf("%s: tail at %d or seenHead at %d shares a line with what precedes "+
				"the ring", name, tail, seenHead)
		}
		if d := max(tail, seenHead) - min(tail, seenHead); d >= 64 {
			t.Errorf("%s: tail and seenHead are %d bytes apart, want one line", name, d)
		}
	}
	tail, seen, head, poisoned := ring.CounterOffsets(mustNew[int](t, 2))
	check("Ring[int]", tail, seen, head, poisoned)
	tail, seen, head, poisoned = ring.CounterOffsets(mustNew[[]byte](t, 2))
	check("Ring[[]byte]", tail, seen, head, poisoned)
	tail, seen, head, poisoned = ring.CounterOffsets(mustNew[[3]uint64](t, 2))
	check("Ring[[3]uint64]", tail, seen, head, poisoned)
}

// TestClose checks that Close hands back everything still in the ring, in
// order, and refuses every later push.
func TestClose(t *testing.T) {
	r := mustNewAt[int](t, 4, math.MaxUint64-4)
	for i := 0; i < 3; i++ {
		if err := r.Push(i, 10+i); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Drain(nil); len(got) != 3 {
		t.Fatalf("Drain = %v", got)
	}
	for i := 0; i < 3; i++ {
		if err := r.Push(i, 20+i); err != nil {
			t.Fatal(err)
		}
	}
	if r.Closed() {
		t.Errorf("Closed before Close")
	}
	got := r.Close([]ring.Entry[int]{{Producer: 9, Value: 9}})
	want := []ring.Entry[int]{{9, 9}, {0, 20}, {1, 21}, {2, 22}}
	if !slices.Equal(got, want) {
		t.Errorf("Close = %v, want %v", got, want)
	}
	if !r.Closed() || r.Len() != 0 || r.Ready() || r.Poisoned() {
		t.Errorf("after Close: Closed %t Len %d Ready %t Poisoned %t",
			r.Closed(), r.Len(), r.Ready(), r.Poisoned())
	}
	for i := 0; i < 5; i++ {
		if err := r.Push(0, 30); !errors.Is(err, ring.ErrClosed) {
			t.Errorf("Push after Close: %v, want ErrClosed", err)
		}
	}
	if got := r.Drain(nil); len(got) != 0 {
		t.Errorf("Drain after Close = %v", got)
	}
	dst := []ring.Entry[int]{{1, 1}}
	if got := r.Close(dst); !slices.Equal(got, dst) {
		t.Errorf("second Close = %v, want dst unchanged", got)
	}
	if !r.Closed() || r.Len() != 0 {
		t.Errorf("after second Close: Closed %t Len %d", r.Closed(), r.Len())
	}

	empty := mustNew[int](t, 2)
	if got := empty.Close(nil); len(got) != 0 || !empty.Closed() {
		t.Errorf("Close of an empty ring = %v, Closed %t", got, empty.Closed())
	}

	full := mustNew[int](t, 2)
	full.Push(0, 1)
	full.Push(0, 2)
	if got := full.Close(nil); len(got) != 2 || got[0].Value != 1 || got[1].Value != 2 {
		t.Errorf("Close of a full ring = %v", got)
	}
}

// TestPoison checks that Poison refuses later pushes with ErrPoisoned, leaves
// what the ring holds for the consumer, and that Closed turns true only once
// that is drained.
func TestPoison(t *testing.T) {
	r := mustNew[int](t, 4)
	r.Push(0, 1)
	r.Push(1, 2)
	r.Poison()
	if !r.Poisoned() {
		t.Errorf("Poisoned false after Poison")
	}
	if err := r.Push(0, 3); !errors.Is(err, ring.ErrPoisoned) {
		t.Errorf("Push after Poison: %v, want ErrPoisoned", err)
	}
	if r.Closed() || r.Len() != 2 || !r.Ready() {
		t.Errorf("poisoned with 2 entries: Closed %t Len %d Ready %t",
			r.Closed(), r.Len(), r.Ready())
	}
	got := r.Drain(nil)
	if want := []ring.Entry[int]{{0, 1}, {1, 2}}; !slices.Equal(got, want) {
		t.Errorf("Drain after Poison = %v, want %v", got, want)
	}
	if !r.Closed() {
		t.Errorf("poisoned and drained: Closed false")
	}
	r.Poison()
	if got := r.Close(nil); len(got) != 0 {
		t.Errorf("Close after Poison and Drain = %v", got)
	}
	if err := r.Push(0, 4); !errors.Is(err, ring.ErrPoisoned) {
		t.Errorf("Push after Poison and Close: %v, want ErrPoisoned", err)
	}

	// Close takes back what a poisoned ring still holds.
	r = mustNew[int](t, 4)
	r.Push(0, 1)
	r.Push(0, 2)
	r.Poison()
	if got := r.Close(nil); len(got) != 2 || !r.Closed() {
		t.Errorf("Close of a poisoned ring = %v, Closed %t", got, r.Closed())
	}

	// Poison after Close turns ErrClosed into ErrPoisoned.
	r = mustNew[int](t, 2)
	r.Close(nil)
	if err := r.Push(0, 1); !errors.Is(err, ring.ErrClosed) {
		t.Errorf("Push after Close: %v, want ErrClosed", err)
	}
	r.Poison()
	if err := r.Push(0, 1); !errors.Is(err, ring.ErrPoisoned) || !r.Poisoned() {
		t.Errorf("Push after Close and Poison: %v, Poisoned %t; want ErrPoisoned",
			err, r.Poisoned())
	}

	// A poisoned empty ring is closed at once.
	r = mustNew[int](t, 2)
	r.Poison()
	if !r.Closed() {
		t.Errorf("Closed false on a poisoned empty ring")
	}
}

// TestDrainTakesOneLap checks that a drain returns at most Cap() entries
// even while producers keep refilling the slots behind it, so that a
// consumer's batch is bounded and a dst of capacity Cap() never grows.
// Eight producers on as many threads refill a two-slot ring; without the
// bound, some drain runs for several laps within a few thousand tries.
func TestDrainTakesOneLap(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	type record [32]uint64
	r, err := ring.New[record](2)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	refill := func() {
		for !stop.Load() {
			_ = r.Push(0, record{1}) // refill as fast as the consumer drains
		}
	}
	fns := []func(){func() {
		defer stop.Store(true)
		dst := make([]ring.Entry[record], 0, r.Cap())
		for i := 0; i < scaled(200000); i++ {
			if dst = r.Drain(dst[:0]); len(dst) > r.Cap() {
				t.Errorf("drain %d returned %d entries from a ring of %d slots",
					i, len(dst), r.Cap())
				return
			}
		}
	}}
	for range 8 {
		fns = append(fns, refill)
	}
	startWatchdog(t).run(fns...)
}

// TestStalledProducer plays a producer that has claimed a position and not
// yet written it: the consumer must not pass it or see anything after it,
// producers behind it may fill the rest of the ring but not lap it, and Close
// waits for it; once it writes, everything arrives in order.
func TestStalledProducer(t *testing.T) {
	w := startWatchdog(t)
	r := mustNewAt[int](t, 4, math.MaxUint64-3) // across the wrap
	fill, err := ring.Claim(r, 7, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ {
		if err := r.Push(1, 100+i); err != nil {
			t.Fatalf("push %d behind the stalled producer: %v", i, err)
		}
	}
	if err := r.Push(1, 104); !errors.Is(err, ring.ErrFull) {
		t.Fatalf("push into a ring held by a stalled producer = %v, want ErrFull", err)
	}
	if r.Ready() || r.Len() != 4 {
		t.Fatalf("Ready %v, Len %d with the head position unwritten, want false and 4",
			r.Ready(), r.Len())
	}
	if got := r.Drain(nil); len(got) != 0 {
		t.Fatalf("Drain passed an unwritten position: %v", got)
	}
	if err := r.Push(1, 104); !errors.Is(err, ring.ErrFull) {
		t.Fatalf("push after an empty drain = %v, want ErrFull", err)
	}

	fill()
	want := []ring.Entry[int]{{7, 100}, {1, 101}, {1, 102}, {1, 103}}
	if got := r.Drain(nil); !slices.Equal(got, want) {
		t.Fatalf("Drain = %v, want %v", got, want)
	}

	// Close waits for a position claimed before it.
	fill, err = ring.Claim(r, 7, 200)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(1, 201); err != nil {
		t.Fatal(err)
	}
	closed := make(chan []ring.Entry[int])
	go func() { closed <- r.Close(nil) }()
	w.run(func() {
		// The close is under way once pushes are refused; it cannot be done
		// while position 200 is unwritten. Pushes before that are taken
		// while there is room.
		want := []ring.Entry[int]{{7, 200}, {1, 201}}
		for v := 202; ; v++ {
			err := r.Push(1, v)
			if errors.Is(err, ring.ErrClosed) {
				break
			}
			if errors.Is(err, ring.ErrFull) { // held by the stalled producer
				runtime.Gosched()
				continue
			}
			if err != nil {
				t.Errorf("push while closing: %v", err)
				return
			}
			want = append(want, ring.Entry[int]{Producer: 1, Value: v})
			runtime.Gosched()
		}
		select {
		case got := <-closed:
			t.Errorf("Close returned %v before the stalled producer wrote", got)
			return
		default:
		}
		fill()
		if got := <-closed; !slices.Equal(got, want) {
			t.Errorf("Close handed back %v, want %v", got, want)
		}
	})
}

// TestRefusing checks that Refusing turns true when the consumer closes the
// ring or someone poisons it, and not before: a producer that checks it
// instead of pushing learns exactly what a push would have told it.
func TestRefusing(t *testing.T) {
	for _, stop := range []struct {
		name string
		do   func(*ring.Ring[int])
		want error
	}{
		{"close", func(r *ring.Ring[int]) { r.Close(nil) }, ring.ErrClosed},
		{"poison", func(r *ring.Ring[int]) { r.Poison() }, ring.ErrPoisoned},
	} {
		r, err := ring.New[int](4)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Push(0, 1); err != nil || r.Refusing() {
			t.Fatalf("%s: open ring: push %v, Refusing %v", stop.name, err, r.Refusing())
		}
		stop.do(r)
		if !r.Refusing() {
			t.Errorf("%s: Refusing false after %s", stop.name, stop.name)
		}
		if err := r.Push(0, 2); !errors.Is(err, stop.want) {
			t.Errorf("%s: push %v, want %v", stop.name, err, stop.want)
		}
	}
}
