package process_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

// TestSteadyStateAllocs checks that a message's whole round trip (push,
// Release, Receive, Pull or PullInto, Message.Release, and the run-dry Pull and event
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
		// Alternate the two ways of pulling, so that both stay free of
		// allocations.
		var m process.Message[T]
		var ok bool
		var err error
		if i%2 == 0 {
			ok, err = chs[1].Puller.PullInto(&m)
		} else {
			m, ok, err = chs[1].Puller.Pull()
		}
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

// TestBackpressureAllocs checks that a push refused for backpressure, the
// path a flooded sender takes again and again while it waits, allocates
// nothing, and that its error still names the worker, the target and the
// budget.
func TestBackpressureAllocs(t *testing.T) {
	if raceEnabled || checkedViews {
		t.Skip("instrumented builds allocate")
	}
	as := newGroup(t, 2, process.WithBudget(1<<10),
		process.WithSlab(slab.Config{BufferSize: 4 << 10}))
	chs := allocate(t, as, 1, process.Bytes{})
	payload := make([]byte, 512)
	var err error
	for i := 0; i < 16 && err == nil; i++ {
		err = chs[0].Push(1, payload)
	}
	var bp *process.BackpressureError
	if !errors.As(err, &bp) || !errors.Is(err, process.ErrBackpressure) {
		t.Fatalf("push past the budget: %v, want a *BackpressureError", err)
	}
	if bp.Worker != 0 || bp.Target != 1 || bp.Budget != 1<<10 || bp.InFlight == 0 {
		t.Fatalf("BackpressureError %+v does not describe the refusal", *bp)
	}
	if n := testing.AllocsPerRun(100, func() { _ = chs[0].Push(1, payload) }); n != 0 {
		t.Fatalf("a refused push allocates %v times, want 0", n)
	}
}
