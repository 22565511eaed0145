// Package slab provides the memory zcomm's messages live in: refillable
// buffers, the Writer that fills them, and Views, reference-counted windows
// onto written bytes that readers in other goroutines hold and release.
//
// # Life of a buffer
//
// A Writer takes buffers from a Refill (anonymous mmap by default, outside
// the Go heap, so the garbage collector neither scans nor counts them). It
// reserves room at the end of its current buffer, the caller writes there and
// commits, and Extract hands out a View of everything committed since the last
// Extract. When a reservation does not fit, the writer moves the committed but
// unextracted bytes to a fresh buffer (of the standard size, or of the
// next power of two at or above the bytes needed when that is too small)
// and retires the old one.
//
// A buffer's reference word counts its live views, plus a hold bit that the
// writer keeps while the buffer is its own (current, retired or idle). Views
// are released by readers on any goroutine; the writer never waits for them.
// Instead, when it needs a buffer, it polls the buffers it retired and takes
// back those whose word shows the hold bit alone, that is, no view left. A
// buffer is reused only after its last view is released (or, see Quiet,
// when the only views left are ones whose readers promise to read no more of
// it), and no lock or list shared with readers is involved, so there is no
// ABA problem to solve.
//
// A reader can also follow a writer in place. Point hands it an empty view
// at the writer's extraction offset, which holds the buffer; the writer then
// hands out committed bytes with Advance, without a view, and tells the
// reader how far they reach through a store the reader synchronizes with;
// the reader takes views of them with Span, paying for their references with
// one Acquire. Settle and Quiet let the writer count such a buffer as
// released, or start it over in place, once the caller knows that the point
// views alive cover nothing a reader still needs.
//
// When the writer is closed it drops its hold on every buffer. Whoever brings
// a word to zero, the writer or the reader releasing the last view, returns
// the buffer to its Refill: Close never unmaps memory that a live view still
// points into.
//
// # Rules
//
//   - A Writer belongs to one goroutine. Views may be released on any.
//   - Each View value holds one reference. Release it exactly once; Retain
//     and Split make new views that must be released too.
//   - No Go pointer is ever stored in buffer memory.
//   - Releasing more views than a buffer has is reported in every build,
//     with an error wrapping ErrOverRelease, and the count never goes below
//     zero. The checked build (build tag zcommcheck, which -race turns on
//     too) also catches the second release of one view and reads through a
//     released view, naming where the view was made, and fills released
//     buffers with a poison pattern. It uses heap buffers, because the race
//     detector does not watch mapped memory.
package slab
