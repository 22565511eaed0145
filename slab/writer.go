package slab

import (
	"fmt"
	"math/bits"
	"sync/atomic"
)

// Defaults for Config.
const (
	// DefaultBufferSize is the standard buffer size: 1 MiB, as timely's.
	DefaultBufferSize = 1 << 20
	// DefaultMaxReserve bounds one reservation: 128 MiB, room for a 64 MiB
	// payload and its header with margin.
	DefaultMaxReserve = 128 << 20
	// DefaultIdle is how many released buffers of the standard size a writer
	// keeps for reuse. A writer only ever has idle the buffers it once had in
	// flight together, so keeping them holds its high-water mark mapped
	// rather than growing it; returning them instead costs a fresh mapping
	// and its page faults at the next burst. With 64 KiB messages flowing
	// between two workers, keeping 16 instead of 2 made each message about
	// four times cheaper.
	DefaultIdle = 16
)

// Config configures a Writer. The zero value selects every default.
type Config struct {
	// BufferSize is the standard buffer size in bytes; 0 means
	// DefaultBufferSize. A reservation that does not fit in a buffer of this
	// size gets a larger buffer, rounded up to a power of two.
	BufferSize int
	// MaxReserve bounds a single reservation; 0 means DefaultMaxReserve.
	MaxReserve int
	// Idle caps the released standard-size buffers kept for reuse; 0 means
	// DefaultIdle, a negative value keeps none. Released buffers of other
	// sizes are always returned to the refill.
	Idle int
	// Refill supplies buffers; nil means Default().
	Refill Refill
}

// Stats describes a writer's memory. Buffers freed by the release of their
// last view after Close are counted too.
type Stats struct {
	// BuffersMapped and BytesMapped count buffers held from the refill now.
	BuffersMapped, BytesMapped int64
	// HighWaterBytes is the most BytesMapped has been.
	HighWaterBytes int64
	// BuffersAllocated counts calls to the refill's Alloc.
	BuffersAllocated int64
	// BuffersReused counts buffers taken back for writing after release.
	BuffersReused int64
	// BytesInFlight is the size of the buffers that live views still point
	// into (the current buffer included once it has a live view).
	BytesInFlight int64
	// OutstandingViews is the number of live views of this writer's buffers.
	OutstandingViews int64
	// OverReleases counts releases refused with ErrOverRelease;
	// DoubleReleases those refused with ErrReleased (checked builds).
	OverReleases, DoubleReleases int64
	// FreeErrors counts errors the refill's Free returned.
	FreeErrors int64
}

// writerStats holds the counters that goroutines other than the writer's may
// update: a reader frees a buffer of a closed writer, or reports a bad
// release.
type writerStats struct {
	buffers, bytes, highWater, allocated, reused atomic.Int64
	overReleases, doubleReleases, freeErrors     atomic.Int64
}

// Writer fills buffers with bytes for one reader (or one group of readers)
// and hands them out as Views. A Writer belongs to one goroutine.
type Writer struct {
	cfg Config

	cur      *buffer // buffer being written; nil before the first Reserve
	base     int     // cur.data[:base] was extracted, and all its views released
	quiet    int64   // live views of cur that read no more of it (see Quiet)
	sent     int     // cur.data[:sent] has been extracted
	valid    int     // cur.data[sent:valid] is committed, not yet extracted
	reserved int     // cur.data[valid:reserved] is the last reservation

	retired      []*buffer // no longer written, views may remain
	retiredBytes int       // total size of the retired buffers
	idle         []*buffer // no views, standard size, ready for reuse
	orphans      []*buffer // after Close: buffers that live views kept mapped
	closed       bool

	stats writerStats
}

// NewWriter returns a writer configured by c.
func NewWriter(c Config) (*Writer, error) {
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.MaxReserve == 0 {
		c.MaxReserve = DefaultMaxReserve
	}
	if c.Idle == 0 {
		c.Idle = DefaultIdle
	}
	if c.Refill == nil {
		c.Refill = Default()
	}
	if c.BufferSize < 0 || c.MaxReserve < 0 {
		return nil, fmt.Errorf("slab: negative size in config: buffer %d, max reserve %d",
			c.BufferSize, c.MaxReserve)
	}
	return &Writer{cfg: c}, nil
}

// BufferSize returns the standard buffer size.
func (w *Writer) BufferSize() int { return w.cfg.BufferSize }

// MaxReserve returns the largest reservation the writer accepts.
func (w *Writer) MaxReserve() int { return w.cfg.MaxReserve }

// Pending returns the number of committed bytes not yet extracted.
func (w *Writer) Pending() int { return w.valid - w.sent }

// Available returns how many bytes a Reserve can take without changing
// buffers.
func (w *Writer) Available() int {
	if w.cur == nil {
		return 0
	}
	return len(w.cur.data) - w.valid
}

// Reserve returns n writable bytes after the committed ones. Bytes written
// there become part of the next view once committed. If the current buffer
// lacks room, the committed but unextracted bytes move to a new buffer first.
func (w *Writer) Reserve(n int) ([]byte, error) {
	if buf, ok := w.TryReserve(n); ok {
		return buf, nil
	}
	return w.reserveSlow(n)
}

// TryReserve is Reserve when the current buffer has room: it returns the n
// bytes and true, or, when Reserve would have to change buffers or fail,
// nil and false, having changed nothing. It is small enough to inline into
// a caller's fast path.
func (w *Writer) TryReserve(n int) ([]byte, bool) {
	if c := w.cur; c != nil && uint(n) <= uint(len(c.data)-w.valid) && n <= w.cfg.MaxReserve {
		w.reserved = w.valid + n
		return c.data[w.valid:w.reserved:w.reserved], true
	}
	return nil, false
}

func (w *Writer) reserveSlow(n int) ([]byte, error) {
	if w.closed {
		return nil, ErrClosed
	}
	if n < 0 || n > w.cfg.MaxReserve {
		return nil, fmt.Errorf("%w: %d bytes, maximum %d", ErrTooLarge, n, w.cfg.MaxReserve)
	}
	pending := w.valid - w.sent
	if w.cur != nil && len(w.cur.data) == w.cfg.BufferSize && pending+n <= len(w.cur.data) &&
		w.cur.refs.Load() <= holdBit+w.quiet {
		// No view reads the current buffer any more: start it over, keeping
		// its pages warm instead of taking another buffer. A larger buffer,
		// made for one large message, is retired instead, so that it goes
		// back to the refill.
		copy(w.cur.data, w.cur.data[w.sent:w.valid])
		poison(w.cur.data[pending:])
		w.base, w.sent, w.valid, w.reserved, w.quiet = 0, 0, pending, pending+n, 0
		return w.cur.data[w.valid:w.reserved:w.reserved], nil
	}
	size := w.cfg.BufferSize
	if need := pending + n; need > size {
		size = 1 << bits.Len(uint(need-1)) // the next power of two
	}
	nb, err := w.get(size)
	if err != nil {
		return nil, err
	}
	if w.cur != nil {
		copy(nb.data, w.cur.data[w.sent:w.valid])
		w.retire(w.cur)
	}
	w.cur, w.base, w.sent, w.valid, w.reserved, w.quiet = nb, 0, 0, pending, pending+n, 0
	return w.cur.data[w.valid:w.reserved:w.reserved], nil
}

// Commit marks n more bytes, written into the last reservation, as valid.
// n must not exceed the bytes reserved.
func (w *Writer) Commit(n int) {
	if n < 0 || w.cur == nil || n > w.reserved-w.valid {
		panic(commitError{n, w.reserved - w.valid})
	}
	w.valid += n
}

// commitError is Commit's panic value for a commit of n bytes beyond a
// reservation of room bytes. A value, not a formatted string, keeps Commit
// small enough to inline.
type commitError struct{ n, room int }

func (e commitError) Error() string {
	return fmt.Sprintf("slab: commit of %d bytes beyond the reservation of %d", e.n, e.room)
}

// Extract returns a view of every byte committed since the last Extract, and
// false if there is none.
func (w *Writer) Extract() (View, bool) {
	if w.valid == w.sent {
		return View{}, false
	}
	if w.cur.refs.Add(1) == holdBit+1 {
		w.base = w.sent // every earlier view is gone (see InFlight)
	}
	w.quiet = 0 // a new view: see Quiet
	v := View{b: w.cur, off: w.sent, n: w.valid - w.sent, s: newStamp(1)}
	w.sent = w.valid
	return v, true
}

// Point returns an empty view at the end of the bytes extracted so far from
// the current buffer, holding one reference, and false if the writer has no
// buffer yet. While a reader holds it, the buffer is neither reused nor
// freed (unless the reader gives leave, see Quiet), so the reader can reach
// bytes the writer hands out later without a
// view of their own: the writer hands them out with Advance, tells the reader
// how far they reach through a store the reader synchronizes with, and the
// reader takes them with Span.
func (w *Writer) Point() (View, bool) {
	if w.cur == nil {
		return View{}, false
	}
	if w.cur.refs.Add(1) == holdBit+1 {
		w.base = w.sent
	}
	w.quiet = 0
	return View{b: w.cur, off: w.sent, s: newStamp(1)}, true
}

// Advance hands out every byte committed since the last Extract or Advance
// without making a view of them, and returns the offset in the current buffer
// where they end. It is for a reader that holds a Point view of the buffer
// (see Point); the bytes count as in flight like extracted ones.
func (w *Writer) Advance() int {
	w.sent = w.valid
	w.quiet = 0
	return w.sent
}

// Settle tells the writer that every byte extracted from the current buffer
// so far has been released, although k views of it are still alive: the
// caller knows that those views cover none of the bytes (Point views held by
// readers that have taken and released everything before the extraction
// offset, say). The writer checks that exactly k views are alive; if so it
// counts the buffer's bytes as released from then on (see InFlight) and
// returns true, otherwise it changes nothing and returns false.
func (w *Writer) Settle(k int) bool {
	if w.cur == nil || w.cur.refs.Load() != holdBit+int64(k) {
		return false
	}
	w.base = w.sent
	return true
}

// Quiet tells the writer that the k views of the current buffer now alive
// will read none of its bytes again: their holders have taken and released
// everything they will ever read of it (Point views of a reader that was
// told the bytes end where they point, say). The writer checks that exactly
// k views are alive, and returns false, changing nothing, if not. When the
// buffer is full it then starts over in place, as it would with no view
// alive, while no more than k views are; their later releases are counted as
// usual. The promise lasts until the writer starts the buffer over, changes
// buffers, or hands out a view or bytes (Extract, Point, Advance), whose
// readers it does not cover. It is the one case in which a buffer is written
// again while views of it are alive.
func (w *Writer) Quiet(k int) bool {
	if w.cur == nil || w.cur.refs.Load() != holdBit+int64(k) {
		return false
	}
	w.quiet = int64(k)
	return true
}

// retire stops writing into b and keeps it until its views are released.
func (w *Writer) retire(b *buffer) {
	if b.refs.Load() == holdBit {
		w.recycle(b)
		return
	}
	w.retired = append(w.retired, b)
	w.retiredBytes += len(b.data)
}

// Outstanding returns an upper bound on InFlight()+Pending() that reads no
// shared memory: it counts every byte extracted from the current buffer since
// it last had no view as still in flight. A caller comparing against a limit can use it first and
// call InFlight only when the bound is too high, sparing a load of a word
// that readers on other cores keep writing.
func (w *Writer) Outstanding() int { return w.retiredBytes + w.valid - w.base }

// InFlight returns the bytes this writer has handed out in views that may
// still be live: the size of every retired buffer not yet reclaimed, and,
// while a view points into the current buffer, what was extracted from it
// since the last Extract (or Point) that found no view of it alive, or the
// last Settle. It is
// what a sender's budget counts; call Reclaim first for a fresh figure.
func (w *Writer) InFlight() int {
	n := w.retiredBytes
	if w.cur != nil && w.sent > w.base && w.cur.refs.Load() != holdBit {
		n += w.sent - w.base
	}
	return n
}

// Reclaim takes back every retired buffer whose views have all been
// released, and reports how many it took. The writer calls it itself when it
// needs a buffer; callers call it to update BytesInFlight.
func (w *Writer) Reclaim() int {
	n, kept := 0, w.retired[:0]
	for _, b := range w.retired {
		if b.refs.Load() == holdBit {
			w.retiredBytes -= len(b.data)
			w.recycle(b)
			n++
		} else {
			kept = append(kept, b)
		}
	}
	clear(w.retired[len(kept):])
	w.retired = kept
	return n
}

// recycle keeps b for reuse if it has the standard size and there is room,
// and frees it otherwise. b has no views.
func (w *Writer) recycle(b *buffer) {
	if len(b.data) == w.cfg.BufferSize && len(w.idle) < w.cfg.Idle {
		poison(b.data)
		w.idle = append(w.idle, b)
		return
	}
	b.refs.Store(0)
	w.free(b)
}

// get returns a buffer of size bytes, reused when possible.
func (w *Writer) get(size int) (*buffer, error) {
	if size == w.cfg.BufferSize {
		if len(w.idle) == 0 {
			w.Reclaim()
		}
		if k := len(w.idle); k > 0 {
			b := w.idle[k-1]
			w.idle[k-1] = nil
			w.idle = w.idle[:k-1]
			w.stats.reused.Add(1)
			return b, nil
		}
	}
	data, err := w.cfg.Refill.Alloc(size)
	if err != nil {
		return nil, err
	}
	if len(data) != size {
		_ = w.cfg.Refill.Free(data)
		return nil, fmt.Errorf("slab: refill returned %d bytes for %d", len(data), size)
	}
	b := &buffer{data: data, size: size, w: w}
	b.refs.Store(holdBit)
	w.stats.allocated.Add(1)
	w.stats.buffers.Add(1)
	if now := w.stats.bytes.Add(int64(size)); now > w.stats.highWater.Load() {
		w.stats.highWater.Store(now) // only the writer's goroutine raises it
	}
	return b, nil
}

// free returns b to the refill. It runs on the writer's goroutine, or on the
// goroutine that released the last view of a closed writer's buffer.
func (w *Writer) free(b *buffer) {
	poison(b.data)
	w.stats.buffers.Add(-1)
	w.stats.bytes.Add(-int64(len(b.data)))
	if err := w.cfg.Refill.Free(b.data); err != nil {
		w.stats.freeErrors.Add(1)
	}
	b.data = nil
}

// Stats returns a snapshot of the writer's memory. Writer's goroutine only.
func (w *Writer) Stats() Stats {
	s := Stats{
		BuffersMapped:    w.stats.buffers.Load(),
		BytesMapped:      w.stats.bytes.Load(),
		HighWaterBytes:   w.stats.highWater.Load(),
		BuffersAllocated: w.stats.allocated.Load(),
		BuffersReused:    w.stats.reused.Load(),
		OverReleases:     w.stats.overReleases.Load(),
		DoubleReleases:   w.stats.doubleReleases.Load(),
		FreeErrors:       w.stats.freeErrors.Load(),
	}
	count := func(b *buffer) {
		if v := b.refs.Load() & countMask; v > 0 {
			s.OutstandingViews += v
			s.BytesInFlight += int64(b.size)
		}
	}
	if w.cur != nil {
		count(w.cur)
	}
	for _, b := range w.retired {
		count(b)
	}
	for _, b := range w.orphans {
		count(b)
	}
	return s
}

// Close gives up the writer's hold on every buffer: those without views are
// freed now, the others when their last view is released. Bytes committed but
// not extracted are discarded. Further reservations fail with ErrClosed.
// Writer's goroutine only; calling Close again does nothing.
func (w *Writer) Close() {
	if w.closed {
		return
	}
	w.closed = true
	bufs := append(w.retired, w.idle...)
	if w.cur != nil {
		bufs = append(bufs, w.cur)
	}
	for _, b := range bufs {
		if b.refs.Add(-holdBit) == 0 {
			w.free(b)
		} else {
			w.orphans = append(w.orphans, b)
		}
	}
	w.cur, w.retired, w.idle = nil, nil, nil
	w.retiredBytes, w.base, w.sent, w.valid, w.reserved, w.quiet = 0, 0, 0, 0, 0, 0
}
