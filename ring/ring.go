package ring

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sync/atomic"

	"github.com/zcomm-go/zcomm/internal/unsafeutil"
)

// Errors returned by Push.
var (
	// ErrFull means every slot holds a value the consumer has not drained.
	ErrFull = errors.New("ring: full")
	// ErrClosed means the consumer closed the ring.
	ErrClosed = errors.New("ring: closed")
	// ErrPoisoned means the ring was poisoned: some party failed and the ring
	// refuses all further work.
	ErrPoisoned = errors.New("ring: poisoned")
)

// closedBit is the low bit of tail. Positions advance by two, so a set bit
// never collides with a position.
const closedBit = 1

// handBack is how many slots a long drain empties before it hands them back
// to producers, so that producers waiting on a full ring need not wait for
// the whole drain.
const handBack = 64

// MaxSlots is the largest slot count New accepts.
const MaxSlots = 1 << 30

// Entry is one value taken from the ring, with the producer that pushed it.
type Entry[T any] struct {
	// Producer is the index the producer passed to Push.
	Producer int
	// Value is the value pushed.
	Value T
}

type slot[T any] struct {
	// seq is p+1 once the value for position p is written (see the package
	// documentation). Stored only by the producer that claimed p, after it
	// wrote producer and value; loaded by the consumer, whose load of p+1
	// hands it those fields. A slot is handed back to producers through
	// head, not through seq.
	seq      atomic.Uint64
	producer int
	value    T
}

// Ring is a bounded multi-producer single-consumer ring of T.
//
// Push and Poison may be called from any goroutine. Drain, Ready, Close and
// Closed belong to the single consumer and must not run concurrently with
// each other.
type Ring[T any] struct {
	_ unsafeutil.Pad

	// tail is the next position to claim, in steps of two, with closedBit set
	// once the ring is closed. Producers compare-and-swap it to claim; Close
	// and Poison set the bit with a compare-and-swap. Read by everyone; a
	// successful claim of p hands the claiming producer the slot of p, to
	// write and then publish through its seq.
	tail atomic.Uint64
	// seenHead is a copy of head that producers keep beside tail, so that a
	// push reads no line the consumer writes unless the ring looks full. A
	// producer that finds tail-seenHead >= 2n loads head and stores it here.
	// Every value it ever holds was head at some moment, and head only
	// grows, so a stale copy is too small, never too large: it can make a
	// push look at head needlessly, never claim a slot still in use.
	seenHead atomic.Uint64
	_        unsafeutil.Pad

	// head is the next position the consumer takes. Stored only by the
	// consumer, at the end of a drain that took something, after it emptied
	// the slots it passed; a producer that loads head (or a copy of it) may
	// then claim any position below head+2n. Loaded by producers when the
	// ring looks full, and by Len from any goroutine.
	head atomic.Uint64
	_    unsafeutil.Pad

	// poisoned is set once by Poison, from any goroutine, before Poison
	// closes the tail; read by Push after it finds the ring closed, to tell
	// which error to answer, and by Poisoned. It hands nothing over.
	poisoned atomic.Bool

	// Read-only after New.
	mask  uint64
	span  uint64 // 2n: the distance between two laps' positions of one slot
	slots []slot[T]
}

// New returns a ring of n slots. n must be a power of two between 2 and
// MaxSlots.
func New[T any](n int) (*Ring[T], error) {
	return newAt[T](n, 0)
}

// newAt returns a ring whose counters start at position start (an even
// number), so that tests can start them near 2^64.
func newAt[T any](n int, start uint64) (*Ring[T], error) {
	if n < 2 || n > MaxSlots || bits.OnesCount(uint(n)) != 1 {
		return nil, fmt.Errorf("ring: %d slots: want a power of two in [2, %d]", n, MaxSlots)
	}
	r := &Ring[T]{mask: uint64(n - 1), span: 2 * uint64(n), slots: make([]slot[T], n)}
	start &^= closedBit
	for i := 0; i < n; i++ {
		// As if each slot held the previous lap's value, already drained.
		p := start + 2*uint64(i)
		r.slots[r.index(p)].seq.Store(p - r.span + 1)
	}
	r.tail.Store(start)
	r.seenHead.Store(start)
	r.head.Store(start)
	return r, nil
}

// index maps a position to its slot.
func (r *Ring[T]) index(p uint64) uint64 { return (p >> 1) & r.mask }

// Cap returns the number of slots.
func (r *Ring[T]) Cap() int { return len(r.slots) }

// Len returns the number of positions claimed and not yet drained. It is a
// snapshot that may be stale by the time it returns.
func (r *Ring[T]) Len() int {
	h := r.head.Load()
	t := r.tail.Load() &^ closedBit
	return int((t - h) >> 1)
}

// Push stores v at the tail of the ring, recording producer as its sender.
// It never blocks. On error the ring did not take v.
func (r *Ring[T]) Push(producer int, v T) error {
	t, err := r.claim()
	if err != nil {
		return err
	}
	r.fill(t, producer, v)
	return nil
}

// claim takes the next position for the calling producer, which must then
// fill it. It fails with ErrFull, ErrClosed or ErrPoisoned.
func (r *Ring[T]) claim() (uint64, error) {
	t := r.tail.Load()
	for {
		if t&closedBit != 0 {
			return 0, r.closedErr()
		}
		// Position t reuses the slot of t-2n, which is free once head has
		// passed it. seenHead is a lower bound of head, so t-seenHead < 2n
		// proves it without touching the consumer's line.
		if t-r.seenHead.Load() >= r.span {
			h := r.head.Load()
			if t-h >= r.span {
				// Full, or t is stale (another producer claimed it and the
				// consumer has since moved on): only a current t is full.
				if nt := r.tail.Load(); nt != t {
					t = nt
					continue
				}
				return 0, ErrFull
			}
			r.seenHead.Store(h)
		}
		// On failure another producer (or Close) moved the tail and we look
		// again.
		if r.tail.CompareAndSwap(t, t+2) {
			return t, nil
		}
		t = r.tail.Load()
	}
}

// fill writes the value for position t, which the caller claimed, and
// publishes it: the consumer may take it from the seq store on.
func (r *Ring[T]) fill(t uint64, producer int, v T) {
	s := &r.slots[r.index(t)]
	s.producer = producer
	s.value = v
	s.seq.Store(t + 1)
}

func (r *Ring[T]) closedErr() error {
	if r.poisoned.Load() {
		return ErrPoisoned
	}
	return ErrClosed
}

// Ready reports whether the entry at the head is written and can be drained.
// Consumer only.
func (r *Ring[T]) Ready() bool {
	h := r.head.Load()
	return r.slots[r.index(h)].seq.Load() == h+1
}

// Drain appends to dst the entries that are ready, in order, at most Cap()
// of them, and returns the extended slice. It stops at the first position
// that is empty or claimed but not yet written, or after one lap: producers
// that keep refilling the slots behind it cannot hold it for longer. It
// allocates only if dst lacks capacity: a dst with Cap() free capacity never
// grows. Drained slots are zeroed so that the ring keeps nothing alive.
// Consumer only.
func (r *Ring[T]) Drain(dst []Entry[T]) []Entry[T] {
	start := r.head.Load()
	h := start
	var zero T
	for range len(r.slots) {
		s := &r.slots[r.index(h)]
		if s.seq.Load() != h+1 {
			break
		}
		dst = append(dst, Entry[T]{Producer: s.producer, Value: s.value})
		s.producer, s.value = 0, zero
		h += 2
		if (h-start)%(2*handBack) == 0 {
			r.head.Store(h) // hand back a stretch while the drain goes on
		}
	}
	if h != start {
		// Hand the emptied slots back: a producer that loads this head (or
		// a copy of it) may write them, after these reads and zeroings.
		r.head.Store(h)
	}
	return dst
}

// Close refuses every later push and appends to dst, in order, every entry
// still in the ring, including those claimed before the close but not yet
// written, which it waits for. It returns the extended slice. Calling Close
// again returns dst unchanged. Consumer only.
func (r *Ring[T]) Close(dst []Entry[T]) []Entry[T] {
	t := r.tail.Load()
	for t&closedBit == 0 {
		if r.tail.CompareAndSwap(t, t|closedBit) {
			break
		}
		t = r.tail.Load()
	}
	end := t &^ closedBit
	// Every position before end was claimed before the close; its producer
	// is at most a few instructions from publishing it.
	for r.head.Load() != end {
		dst = r.Drain(dst)
		if r.head.Load() != end {
			runtime.Gosched()
		}
	}
	return dst
}

// Closed reports whether the ring is closed and every position claimed before
// the close has been drained. Consumer only.
func (r *Ring[T]) Closed() bool {
	t := r.tail.Load()
	return t&closedBit != 0 && r.head.Load() == t&^closedBit
}

// Poison marks the ring poisoned and closes it to producers: every later push
// answers ErrPoisoned. Entries already in the ring stay there for the consumer
// to drain or to take back with Close. Any goroutine may call Poison.
func (r *Ring[T]) Poison() {
	r.poisoned.Store(true)
	t := r.tail.Load()
	for t&closedBit == 0 && !r.tail.CompareAndSwap(t, t|closedBit) {
		t = r.tail.Load()
	}
}

// Refusing reports whether the ring refuses pushes: it was closed or
// poisoned. Any goroutine may ask; the answer may be stale at once, but once
// true it stays true. It loads only the tail, which a producer that rarely
// pushes finds in its own cache.
func (r *Ring[T]) Refusing() bool { return r.tail.Load()&closedBit != 0 }

// Poisoned reports whether Poison was called.
func (r *Ring[T]) Poisoned() bool { return r.poisoned.Load() }
