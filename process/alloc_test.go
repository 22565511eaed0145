package process_test

import (
	"fmt"
	"testing"

	"github.com/zcomm-go/zcomm/process"
)

// TestSteadyStateAllocs checks that a message's whole round trip (push,
// Release, Receive, Pull, Message.Release, and the run-dry Pull and event
// drain that follow) allocates nothing once the queues and buffers have
// grown to their working size.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled || checkedViews {
		t.Skip("checked views allocate a stamp each, and so does the race detector")
	}
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String()+"/uint64", func(t *testing.T) {
			as := newGroup(t, 2, process.WithPublish(mode))
			chs := allocate(t, as, 1, process.Uint64{})
			steadyAllocs(t, as, chs, func(i int) uint64 { return uint64(i) })
		})
		t.Run(mode.String()+"/bytes", func(t *testing.T) {
			as := newGroup(t, 2, process.WithPublish(mode))
			chs := allocate(t, as, 1, process.Bytes{})
			payload := make([]byte, 100)
			steadyAllocs(t, as, chs, func(i int) []byte {
				payload[0] = byte(i)
				return payload
			})
		})
	}
}

// steadyAllocs warms a round trip from worker 0 to worker 1 up, then
// measures its allocations.
func steadyAllocs[T any](t *testing.T, as []*process.Allocator, chs []*process.Channel[T],
	value func(int) T) {
	t.Helper()
	events := make([]uint64, 0, 16)
	i := 0
	var failed error
	round := func() {
		i++
		if err := chs[0].Push(1, value(i)); err != nil {
			failed = err
			return
		}
		if err := as[0].Release(); err != nil {
			failed = err
			return
		}
		if err := as[1].Receive(); err != nil {
			failed = err
			return
		}
		m, ok, err := chs[1].Puller.Pull()
		if !ok || err != nil {
			failed = fmt.Errorf("Pull: ok %v, err %v", ok, err)
			return
		}
		if err := m.Release(); err != nil {
			failed = err
			return
		}
		if _, ok, err := chs[1].Puller.Pull(); ok || err != nil {
			failed = fmt.Errorf("second Pull: ok %v, err %v", ok, err)
			return
		}
		events = as[1].DrainEvents(events[:0])
	}
	// Enough rounds to fill and restart the slab buffer several times.
	for range 50000 {
		round()
	}
	if failed != nil {
		t.Fatalf("warm-up: %v", failed)
	}
	if n := testing.AllocsPerRun(20000, round); n != 0 {
		t.Errorf("%v allocations per message, want 0", n)
	}
	if failed != nil {
		t.Fatal(failed)
	}
}
