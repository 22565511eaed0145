package slab

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/zcomm-go/zcomm/internal/unsafeutil"
)

// Errors reported by views and writers.
var (
	// ErrOverRelease means a release would take a buffer's view count below
	// zero: some view was released more often than it was made.
	ErrOverRelease = errors.New("slab: more releases than views")
	// ErrReleased means a view was released twice (checked builds only).
	ErrReleased = errors.New("slab: view released twice")
	// ErrTooLarge means a reservation exceeds the writer's maximum.
	ErrTooLarge = errors.New("slab: reservation too large")
	// ErrClosed means the writer was closed.
	ErrClosed = errors.New("slab: writer closed")
)

// PoisonByte fills released buffers in checked builds, so that a reader
// holding bytes past their release sees an obvious pattern.
const PoisonByte = 0xDB

// holdBit in a buffer's reference word means its writer still owns it. The
// bits below count live views.
const (
	holdBit   = int64(1) << 62
	countMask = holdBit - 1
)

// buffer is one slab of memory and its reference word.
type buffer struct {
	// Read-mostly: the writer and every reader load these, and nobody
	// stores to them while views are live, so they stay cached on every
	// core. They must not share a line with refs, which readers keep
	// writing.
	data []byte // the whole slice the refill returned; nil once freed
	size int    // len(data) when allocated; never changes, so Stats may read it
	w    *Writer
	_    unsafeutil.Pad

	// refs is holdBit while the writer owns the buffer, plus one for each
	// live view. The writer adds views (Extract) and clears holdBit (Close);
	// any goroutine adds (Retain) and subtracts (Release) views. Whoever
	// brings refs to zero frees the buffer; the writer reuses a retired
	// buffer only after it loads refs == holdBit. Every access is atomic and
	// sequentially consistent: a reader's last access to data happens before
	// its release, which happens before the writer's load that sees the view
	// count at zero, which happens before the writer's next write into data.
	refs atomic.Int64
	_    unsafeutil.Pad
}

// drop removes n views, refusing to go below zero. It frees the buffer if
// this brought the word to zero (the writer is gone and this was the last
// view).
func (b *buffer) drop(n int64) error {
	for {
		r := b.refs.Load()
		if r&countMask < n {
			b.w.stats.overReleases.Add(1)
			return fmt.Errorf("%w: buffer of %d bytes has %d views, %d released",
				ErrOverRelease, len(b.data), r&countMask, n)
		}
		if b.refs.CompareAndSwap(r, r-n) {
			if r == n {
				b.w.free(b)
			}
			return nil
		}
	}
}

// View is a window onto bytes a Writer wrote, holding one reference to their
// buffer. The zero View is empty, holds nothing, and releases as a no-op.
//
// A View is a small value; copying it copies the reference, not the count:
// release exactly one of the copies. A view's bytes stay valid, and are not
// written again by anyone, until the view is released (unless its holder
// told the writer, through Writer.Quiet, that it reads no more of them).
type View struct {
	// s comes first: it is empty in unchecked builds, and an empty last
	// field would pad the struct by a word, which every ring slot, queued
	// run and Message would carry.
	s   stamp
	b   *buffer
	off int
	n   int
}

// Bytes returns the view's bytes. The slice is valid until the view is
// released. In checked builds, calling Bytes on a released view panics.
func (v View) Bytes() []byte {
	if v.b == nil {
		return nil
	}
	v.s.use()
	return v.b.data[v.off : v.off+v.n : v.off+v.n]
}

// Len returns the number of bytes in the view.
func (v View) Len() int { return v.n }

// IsZero reports whether v is the zero View.
func (v View) IsZero() bool { return v.b == nil }

// SameBuffer reports whether v and w point into the same buffer.
func (v View) SameBuffer(w View) bool { return v.b != nil && v.b == w.b }

// Offset returns where v starts within its buffer.
func (v View) Offset() int { return v.off }

// Span returns a view of the n bytes at offset off of v's buffer, which need
// not lie within v. Like Slice's, it holds no reference of its own. It is how
// a reader holding a Point view takes the bytes the writer handed out after
// it with Advance; the caller must know they were handed out. It panics if
// the window falls outside the buffer.
func (v View) Span(off, n int) View {
	if v.b == nil {
		panic(windowError{off, n, 0})
	}
	if size := len(v.b.data); off < 0 || n < 0 || off > size || n > size-off {
		panic(windowError{off, n, size})
	}
	v.s.use()
	return View{b: v.b, off: off, n: n, s: newStamp(1)}
}

// Retain returns a new view of the same bytes, holding a reference of its
// own.
func (v View) Retain() View {
	if v.b == nil {
		return v
	}
	v.s.use()
	v.b.refs.Add(1)
	return View{b: v.b, off: v.off, n: v.n, s: newStamp(1)}
}

// Acquire adds k references to v's buffer, for k views that the caller is
// about to make with Slice. It lets a reader that splits one view into many
// pay one atomic operation instead of one per view.
func (v View) Acquire(k int) {
	if v.b != nil && k > 0 {
		v.s.use()
		v.b.refs.Add(int64(k))
	}
}

// Slice returns a view of v's bytes [off, off+n) that shares v's buffer and
// holds no reference of its own: each view Slice returns must be paired with
// a reference taken by Acquire or handed over from v (by not releasing v).
// It panics if the window falls outside v.
func (v View) Slice(off, n int) View {
	if off < 0 || n < 0 || off > v.n || n > v.n-off {
		panic(windowError{off, n, v.n})
	}
	return v.slice(off, n, 1)
}

// Cut returns views of v's first n bytes and of the rest. Like Slice's, they
// share v's buffer and hold no reference of their own: v's references are the
// caller's to hand to them. It is two Slices for the price of one bounds
// check, for a reader that walks a view from the front. It panics if n is
// outside [0, v.Len()].
func (v View) Cut(n int) (head, tail View) {
	if uint(n) > uint(v.n) {
		panic(windowError{0, n, v.n})
	}
	if v.b == nil {
		return View{}, View{}
	}
	v.s.use()
	return View{b: v.b, off: v.off, n: n, s: newStamp(1)},
		View{b: v.b, off: v.off + n, n: v.n - n, s: newStamp(1)}
}

// windowError is Slice's panic value for a window [off, off+n) outside a
// view of size bytes. A value, not a formatted string, keeps Slice small
// enough to inline.
type windowError struct{ off, n, size int }

func (e windowError) Error() string {
	return fmt.Sprintf("slab: window [%d, %d) outside a view of %d bytes", e.off, e.off+e.n, e.size)
}

// slice is Slice for callers within the package; skip counts the frames
// between the caller being recorded and slice itself.
func (v View) slice(off, n, skip int) View {
	if v.b == nil {
		return View{}
	}
	v.s.use()
	return View{b: v.b, off: v.off + off, n: n, s: newStamp(skip + 1)}
}

// Split consumes v and returns views of its first n bytes and of the rest,
// each holding a reference. It panics if n is outside [0, v.Len()].
func (v View) Split(n int) (head, tail View) {
	if n < 0 || n > v.n {
		panic(fmt.Sprintf("slab: split at %d of a view of %d bytes", n, v.n))
	}
	if v.b == nil {
		return View{}, View{}
	}
	v.Acquire(1)
	head, tail = v.slice(0, n, 1), v.slice(n, v.n-n, 1)
	v.s.release() // v itself is consumed; its reference lives on in head
	return head, tail
}

// Merge consumes v and w and returns one view covering both, when w starts
// where v ends in the same buffer; otherwise it returns v unchanged and false,
// and both views remain the caller's.
//
// In checked builds, merging a released view panics, as reading it would.
func (v View) Merge(w View) (View, bool) {
	if v.b == nil || v.b != w.b || v.off+v.n != w.off {
		return v, false
	}
	v.s.use()
	w.s.use()
	if err := w.Release(); err != nil {
		return v, false
	}
	_ = v.s.release() // v is consumed; its reference lives on in the result
	return View{b: v.b, off: v.off, n: v.n + w.n, s: newStamp(1)}, true
}

// Join consumes v and w and returns one view covering both, when w starts
// where v ends in the same buffer; otherwise it returns v unchanged and false,
// and both views remain the caller's. Unlike Merge, Join releases nothing:
// the references of v and w pass to the result, which holds no reference of
// its own, and the caller hands them to views it slices from the result, as
// it would references taken by Acquire (see Slice). A reader that receives
// consecutive views of one buffer can so treat them as one without an atomic
// operation.
//
// In checked builds, joining a released view panics, as reading it would,
// and v and w count as released afterwards.
func (v View) Join(w View) (View, bool) {
	if v.b == nil || v.b != w.b || v.off+v.n != w.off {
		return v, false
	}
	v.s.use()
	w.s.use()
	_ = v.s.release() // their references live on in views sliced from the result
	_ = w.s.release()
	return View{b: v.b, off: v.off, n: v.n + w.n, s: newStamp(1)}, true
}

// Release gives up v's reference. Releasing the zero View does nothing. It
// returns an error wrapping ErrOverRelease if the buffer has no view left to
// release, and, in checked builds, ErrReleased if this view was released
// before; in both cases nothing changes.
func (v View) Release() error {
	if v.b == nil {
		return nil
	}
	return v.b.release(v.s)
}

// release gives up the reference of the view stamped s. It is apart from
// View.Release so that View.Release stays small enough to inline.
func (b *buffer) release(s stamp) error {
	if err := s.release(); err != nil {
		b.w.stats.doubleReleases.Add(1)
		return err
	}
	// The common case, without drop's loop and call: other views remain
	// afterwards, or the writer still holds the buffer, so nothing is freed.
	if r := b.refs.Load(); r&countMask >= 1 && r != 1 && b.refs.CompareAndSwap(r, r-1) {
		return nil
	}
	return b.drop(1)
}
