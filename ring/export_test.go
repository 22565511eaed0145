package ring

import "github.com/zcomm-go/zcomm/internal/unsafeutil"

// NewAt returns a ring whose counters start at position start.
func NewAt[T any](n int, start uint64) (*Ring[T], error) { return newAt[T](n, start) }

// CounterOffsets returns the byte offsets of tail, the producers' copy of
// head, head and poisoned within r.
func CounterOffsets[T any](r *Ring[T]) (tail, seenHead, head, poisoned uintptr) {
	return unsafeutil.Offsetof(r, &r.tail), unsafeutil.Offsetof(r, &r.seenHead),
		unsafeutil.Offsetof(r, &r.head), unsafeutil.Offsetof(r, &r.poisoned)
}

// SlotValues returns a copy of every slot's value, in slot order, so that
// tests can see what the ring still holds. Call it only while no other
// goroutine uses r.
func SlotValues[T any](r *Ring[T]) []T {
	out := make([]T, len(r.slots))
	for i := range r.slots {
		out[i] = r.slots[i].value
	}
	return out
}

// Claim takes the next position as a producer would, without filling it,
// and returns a function that fills it: a test holds that function to play
// a producer stalled between its claim and its write.
func Claim[T any](r *Ring[T], producer int, v T) (fill func(), err error) {
	t, err := r.claim()
	if err != nil {
		return nil, err
	}
	return func() { r.fill(t, producer, v) }, nil
}
