package slab_test

import (
	"bytes"
	"fmt"
	"strings"
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

// TestPointAdvanceSpan checks the stream primitives: a Point view holds the
// buffer at the extraction offset, Advance hands out committed bytes without
// a view, and Span reaches them from the point, one reference taken for
// each view made.
func TestPointAdvanceSpan(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 4096})
	defer w.Close()
	if _, ok := w.Point(); ok {
		t.Fatal("Point on a writer with no buffer succeeded")
	}
	release(t, send(t, w, pattern(100, 1)))
	p, ok := w.Point()
	if !ok || p.Len() != 0 || p.Offset() != 100 {
		t.Fatalf("Point: ok %v, Len %d, Offset %d; want true, 0, 100", ok, p.Len(), p.Offset())
	}
	a, b := pattern(50, 2), pattern(70, 3)
	write(t, w, a)
	if end := w.Advance(); end != 150 || w.Pending() != 0 {
		t.Fatalf("Advance = %d with %d pending, want 150, 0", end, w.Pending())
	}
	write(t, w, b)
	if end := w.Advance(); end != 220 {
		t.Fatalf("second Advance = %d, want 220", end)
	}
	if got := w.InFlight(); got != 120 {
		t.Errorf("InFlight %d with a point and 120 bytes advanced, want 120", got)
	}
	first, second := p.Span(100, 50), p.Span(150, 70)
	p.Acquire(2)
	if !bytes.Equal(first.Bytes(), a) || !bytes.Equal(second.Bytes(), b) {
		t.Error("spans do not hold the advanced bytes")
	}
	if first.Offset() != 100 || second.Offset() != 150 {
		t.Errorf("span offsets %d, %d; want 100, 150", first.Offset(), second.Offset())
	}
	if s := w.Stats(); s.OutstandingViews != 3 {
		t.Errorf("%d outstanding views, want 3 (the point and two spans)", s.OutstandingViews)
	}
	release(t, p)
	release(t, first)
	release(t, second)
	if got := w.InFlight(); got != 0 {
		t.Errorf("InFlight %d after every view was released, want 0", got)
	}
	// The buffer starts over in place once nothing points into it.
	write(t, w, pattern(4000, 4))
	if s := w.Stats(); s.BuffersAllocated != 1 {
		t.Errorf("%d buffers allocated, want 1: the released buffer was not restarted",
			s.BuffersAllocated)
	}
}

// TestPointHoldsBuffer checks that a Point view keeps its buffer from being
// restarted or reused: the writer moves to a new buffer instead, and the
// bytes the point reaches stay as written until it is released.
func TestPointHoldsBuffer(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 4096})
	defer w.Close()
	a := pattern(4000, 1)
	write(t, w, a)
	p, _ := w.Point()
	w.Advance()
	write(t, w, pattern(4000, 2)) // no room: a new buffer, as p holds the old
	if s := w.Stats(); s.BuffersAllocated != 2 {
		t.Fatalf("%d buffers allocated, want 2", s.BuffersAllocated)
	}
	if got := p.Span(0, 4000).Bytes(); !bytes.Equal(got, a) {
		t.Error("the held buffer's bytes changed")
	}
	if got := w.InFlight(); got != 4096 {
		t.Errorf("InFlight %d with the old buffer held, want 4096", got)
	}
	release(t, p)
	w.Reclaim()
	if got := w.InFlight(); got != 0 {
		t.Errorf("InFlight %d after the point was released, want 0", got)
	}
}

// TestSpanOutside checks that Span refuses a window outside the buffer, and
// a zero view, with a panic naming the window.
func TestSpanOutside(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 4096})
	defer w.Close()
	write(t, w, pattern(10, 1))
	p, _ := w.Point()
	defer release(t, p)
	for _, c := range []struct {
		v      slab.View
		off, n int
	}{{p, -1, 1}, {p, 0, -1}, {p, 4097, 0}, {p, 4000, 97}, {slab.View{}, 0, 0}} {
		what := fmt.Sprintf("Span(%d, %d)", c.off, c.n)
		msg := mustPanic(t, what, func() { c.v.Span(c.off, c.n) })
		if window := fmt.Sprintf("[%d, %d)", c.off, c.off+c.n); !strings.Contains(msg, window) {
			t.Errorf("%s panicked with %q, which does not name the window %s", what, msg, window)
		}
	}
	if got := p.Span(4000, 96).Len(); got != 96 {
		t.Errorf("Span reaching the buffer's end: Len %d, want 96", got)
	}
}

// TestSettle checks that Settle counts the current buffer's bytes as
// released only when exactly the views the caller names are alive.
func TestSettle(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 4096})
	defer w.Close()
	if w.Settle(0) {
		t.Error("Settle on a writer with no buffer succeeded")
	}
	write(t, w, pattern(10, 1))
	p, _ := w.Point()
	write(t, w, pattern(100, 2))
	w.Advance()
	v := p.Span(10, 100)
	p.Acquire(1) // a reader took the advanced bytes
	if w.Settle(1) {
		t.Error("Settle(1) succeeded with a span alive beside the point")
	}
	if got := w.InFlight(); got != 110 {
		t.Errorf("InFlight %d after a refused Settle, want 110", got)
	}
	release(t, v)
	if !w.Settle(1) {
		t.Error("Settle(1) refused with only the point alive")
	}
	if got := w.InFlight(); got != 0 {
		t.Errorf("InFlight %d after Settle, want 0", got)
	}
	write(t, w, pattern(30, 3))
	w.Advance()
	if got, out := w.InFlight(), w.Outstanding(); got != 30 || out != 30 {
		t.Errorf("after 30 more bytes: InFlight %d, Outstanding %d; want 30, 30", got, out)
	}
	release(t, p)
}

// TestQuiet checks that a buffer whose only live views were declared quiet
// starts over in place when it fills, that one more view alive prevents it,
// and that the promise ends with the buffer.
func TestQuiet(t *testing.T) {
	for _, extra := range []bool{false, true} {
		w := newWriter(t, slab.Config{BufferSize: 4096})
		write(t, w, pattern(4000, 1))
		p, _ := w.Point()
		w.Advance()
		var held slab.View
		if extra {
			held = p.Span(0, 10)
			p.Acquire(1)
		}
		w.Quiet(1)
		write(t, w, pattern(200, 2))
		want := int64(1)
		if extra {
			want = 2
		}
		if got := w.Stats().BuffersAllocated; got != want {
			t.Errorf("extra view %v: %d buffers allocated, want %d", extra, got, want)
		}
		release(t, p)
		if extra {
			release(t, held)
		}
		// The buffer written now holds the 200 bytes; with no promise given
		// for it, a live view of it keeps it from starting over.
		v := extract(t, w)
		taken := func() int64 { s := w.Stats(); return s.BuffersAllocated + s.BuffersReused }
		before := taken()
		write(t, w, pattern(3900, 3))
		if got := taken(); got != before+1 {
			t.Errorf("extra view %v: after the promise ended, %d buffers taken for a full "+
				"buffer with a live view, want %d", extra, got-before, 1)
		}
		checkBytes(t, "a live view's bytes", v, pattern(200, 2))
		release(t, v)
		w.Close()
	}
}

// TestQuietEndsWithNewViews checks that a view or bytes handed out after
// Quiet end the promise: their readers were not covered by it.
func TestQuietEndsWithNewViews(t *testing.T) {
	for _, hand := range []string{"Point", "Extract", "Advance"} {
		w := newWriter(t, slab.Config{BufferSize: 4096})
		write(t, w, pattern(3000, 1))
		p, _ := w.Point()
		w.Advance()
		w.Quiet(1)
		write(t, w, pattern(10, 2))
		var v slab.View
		switch hand {
		case "Point":
			w.Advance()
			v, _ = w.Point()
		case "Extract":
			v = extract(t, w)
		case "Advance":
			w.Advance() // a reader holding p may now take these bytes
		}
		write(t, w, pattern(1100, 3)) // no room: must not start over
		if got := w.Stats().BuffersAllocated; got != 2 {
			t.Errorf("%s after Quiet: %d buffers allocated, want 2 (no start over)", hand, got)
		}
		if got := p.Span(3000, 10).Bytes(); !bytes.Equal(got, pattern(10, 2)) {
			t.Errorf("%s after Quiet: the bytes handed out were written over", hand)
		}
		release(t, p)
		if !v.IsZero() {
			release(t, v)
		}
		w.Close()
	}
}

// TestQuietChecksTheCount checks that Quiet refuses a count of views other
// than those alive, and that a quiet view released later cannot stand in for
// a view that still reads the buffer.
func TestQuietChecksTheCount(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 4096})
	defer w.Close()
	write(t, w, pattern(100, 1))
	v := extract(t, w) // a view whose reader still reads it
	write(t, w, pattern(3000, 2))
	p, _ := w.Point()
	w.Advance()
	q, _ := w.Point()
	if w.Quiet(2) {
		t.Error("Quiet(2) accepted with three views alive")
	}
	release(t, q)
	write(t, w, pattern(2000, 3)) // no room
	if got := w.Stats().BuffersAllocated; got != 2 {
		t.Errorf("%d buffers allocated, want 2: started over under a live view", got)
	}
	checkBytes(t, "the live view's bytes", v, pattern(100, 1))
	release(t, v)
	release(t, p)
}
