package slab_test

import (
	"testing"

	"github.com/zcomm-go/zcomm/slab"
)

// TestInFlightSinceLastIdle checks that InFlight counts, of the current
// buffer, only what was extracted since it last had no view: a writer whose
// earlier views were all released and which then hands out one small view
// counts that view, not everything the buffer held before it.
func TestInFlightSinceLastIdle(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 4096})
	defer w.Close()
	release(t, send(t, w, pattern(3000, 1)))
	if got := w.InFlight(); got != 0 {
		t.Fatalf("every view released: InFlight %d, want 0", got)
	}
	v := send(t, w, pattern(10, 2))
	if got := w.InFlight(); got != 10 {
		t.Errorf("one live view of 10 bytes after 3000 released: InFlight %d, want 10", got)
	}
	u := send(t, w, pattern(20, 3))
	if got := w.InFlight(); got != 30 {
		t.Errorf("two live views of 10 and 20 bytes: InFlight %d, want 30", got)
	}
	release(t, v)
	if got := w.InFlight(); got != 30 {
		// An upper bound: the writer cannot tell which view went first
		// without reading the views themselves.
		t.Errorf("one of two views released: InFlight %d, want 30", got)
	}
	if got, want := w.Outstanding(), 30; got < w.InFlight()+w.Pending() || got != want {
		t.Errorf("Outstanding %d, want %d and at least InFlight+Pending", got, want)
	}
	release(t, u)
	if got := w.InFlight(); got != 0 {
		t.Errorf("every view released again: InFlight %d, want 0", got)
	}
}
