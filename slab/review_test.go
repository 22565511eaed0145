package slab_test

// Adversarial review tests: each TestReview* that fails demonstrates a
// problem described in its comment.

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/zcomm-go/zcomm/slab"
)

// TestReviewStatsOrphanRace (fails under -race): after Close, a buffer that a
// live view kept is an orphan. Stats, on the writer's goroutine, loads its
// reference word and then reads len(b.data); the reader that releases the
// last view frees the buffer and writes b.data = nil on its own goroutine.
// Nothing orders the two. process.Allocator.Stats after Shutdown hits this
// while peers still release messages.
func TestReviewStatsOrphanRace(t *testing.T) {
	watchdog(t)
	for round := 0; round < 20; round++ {
		w := newWriter(t, slab.Config{BufferSize: 64, Refill: slab.Heap{}})
		var views []slab.View
		for i := 0; i < 64; i++ {
			write(t, w, bytes.Repeat([]byte{1}, 64)) // one full buffer per view
			v, _ := w.Extract()
			views = append(views, v)
		}
		w.Close() // every buffer becomes an orphan held by its view
		var wg sync.WaitGroup
		wg.Go(func() {
			for _, v := range views {
				_ = v.Release()
			}
		})
		for i := 0; i < 200; i++ {
			_ = w.Stats()
		}
		wg.Wait()
	}
}

// TestReviewGrowthDoc: the package documentation says a reservation that
// does not fit the standard size gets a buffer "of at least twice the bytes
// needed, rounded up to a power of two"; the writer gives the next power of
// two at or above the bytes needed (Config.BufferSize's comment says so).
func TestReviewGrowthDoc(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 1024, Refill: slab.Heap{}})
	defer w.Close()
	if _, err := w.Reserve(1500); err != nil {
		t.Fatal(err)
	}
	if got := w.Available(); got != 2048 {
		t.Errorf("Reserve(1500) with 1024-byte buffers got a buffer of %d bytes; "+
			"doc.go promises the next power of two (2048)", got)
	}
}

// TestReviewCommitPastReservation: Commit's contract is "n must not exceed
// the bytes reserved", and its panic says "beyond the reservation", but it
// checks n only against the room left in the buffer. Committing more than
// was reserved publishes bytes nobody wrote: here, the bytes of an earlier,
// released message (in unchecked builds; the poison pattern in checked ones).
func TestReviewCommitPastReservation(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64, Refill: slab.Heap{}})
	defer w.Close()
	write(t, w, bytes.Repeat([]byte{'S'}, 64))
	v, _ := w.Extract()
	_ = v.Release()
	dst, err := w.Reserve(1) // the buffer is started over in place
	if err != nil {
		t.Fatal(err)
	}
	dst[0] = 'x'
	func() {
		defer func() { _ = recover() }()
		w.Commit(10)
	}()
	if got, ok := w.Extract(); ok {
		t.Errorf("Reserve(1) then Commit(10) was accepted: the view holds %q, "+
			"9 bytes nobody wrote for it", got.Bytes())
		_ = got.Release()
	}
}

// TestReviewOverReleaseWrapped: the package documentation says an
// over-release "is reported (ErrOverRelease) in every build, never wrapped";
// Release returns fmt.Errorf("%w: ...", ErrOverRelease, ...), a wrapped
// error, so a caller comparing with == (as "never wrapped" invites) misses it.
func TestReviewOverReleaseWrapped(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64, Refill: slab.Heap{}})
	defer w.Close()
	write(t, w, []byte("x"))
	v, _ := w.Extract()
	extra := v.Slice(0, 1) // no reference of its own
	_ = v.Release()
	err := extra.Release()
	if !errors.Is(err, slab.ErrOverRelease) {
		t.Errorf("over-release returned %v, want an error wrapping ErrOverRelease", err)
	}
}
