package slab_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/zcomm-go/zcomm/slab"
)

// recorder is a Refill that hands out its inner refill's buffers and checks
// the contract a Writer must keep: every slice freed is one that Alloc
// returned, whole, and is freed once.
type recorder struct {
	inner slab.Refill

	mu            sync.Mutex
	live          map[*byte]int // first byte of each slice not yet freed → its length
	allocs, frees int
	errs          []string
}

func newRecorder(inner slab.Refill) *recorder {
	return &recorder{inner: inner, live: make(map[*byte]int)}
}

func (r *recorder) Alloc(size int) ([]byte, error) {
	b, err := r.inner.Alloc(size)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.allocs++
	r.live[&b[0]] = len(b)
	return b, nil
}

func (r *recorder) Free(b []byte) error {
	r.mu.Lock()
	switch n, ok := r.live[firstByte(b)]; {
	case len(b) == 0:
		r.errs = append(r.errs, "freed an empty slice")
	case !ok:
		r.errs = append(r.errs, fmt.Sprintf(
			"freed %d bytes that were never allocated or were freed already", len(b)))
	case n != len(b) || n != cap(b):
		r.errs = append(r.errs, fmt.Sprintf(
			"freed a resliced buffer: len %d, cap %d, allocated %d", len(b), cap(b), n))
	default:
		delete(r.live, &b[0])
		r.frees++
		r.mu.Unlock()
		return r.inner.Free(b)
	}
	r.mu.Unlock()
	return errors.New("recorder: bad free")
}

func firstByte(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return &b[0]
}

// check reports every misuse seen, and, if allFreed, any buffer allocated and
// never freed.
func (r *recorder) check(tb testing.TB, allFreed bool) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		tb.Errorf("refill misused: %s", e)
	}
	if allFreed && (len(r.live) != 0 || r.allocs != r.frees) {
		tb.Errorf("%d buffers allocated, %d freed, %d still live", r.allocs, r.frees, len(r.live))
	}
}

// TestHeldViewSurvives keeps the view of message 3 of 1,000 while every other
// view is released at once and 10,000 more messages are written: the kept
// view's bytes stay intact and memory stays bounded. Once the view is
// released, its buffer is the one the writer takes at its next refill (within
// two), instead of a new one from the refill.
func TestHeldViewSurvives(t *testing.T) {
	const buf, size, idle = 4096, 100, 2
	w := newWriter(t, slab.Config{BufferSize: buf, Idle: idle})
	defer w.Close()
	bound := int64((idle + 3) * buf) // the held buffer, the current one, idle ones

	var held slab.View
	for i := range 11_000 {
		v := send(t, w, pattern(size, uint64(i)))
		if i == 3 {
			held = v
		} else {
			release(t, v)
		}
		if s := w.Stats(); s.BytesMapped > bound {
			t.Fatalf("message %d: %d bytes mapped, bound %d", i, s.BytesMapped, bound)
		}
	}
	checkBytes(t, "held message 3", held, pattern(size, 3))
	if s := w.Stats(); s.OutstandingViews != 1 || s.BytesInFlight != buf {
		t.Errorf("stats with one held view = %+v", s)
	}
	release(t, held)

	// Keep each view until the next message is written, so that every refill
	// needs a buffer other than the current one.
	before := w.Stats()
	var prev slab.View
	refills, reused := 0, false
	for i := 11_000; refills < 2; i++ {
		msg := pattern(size, uint64(i))
		if len(msg) > w.Available() {
			refills++
		}
		v := send(t, w, msg)
		reused = reused || v.SameBuffer(held)
		release(t, prev)
		prev = v
	}
	release(t, prev)
	after := w.Stats()
	if !reused || after.BuffersAllocated != before.BuffersAllocated {
		t.Errorf("buffer of the released view not reused within two refills: "+
			"reused %v; before %+v; after %+v", reused, before, after)
	}
}

// TestReclaimInFlight checks InFlight's accounting: extracted bytes of the
// current buffer while a view points into it, plus every retired buffer until
// Reclaim takes it back.
func TestReclaimInFlight(t *testing.T) {
	const buf = 4096
	w := newWriter(t, slab.Config{BufferSize: buf})
	defer w.Close()
	check := func(what string, want int) {
		t.Helper()
		if got := w.InFlight(); got != want {
			t.Errorf("%s: InFlight() = %d, want %d", what, got, want)
		}
	}
	check("new writer", 0)
	v := send(t, w, pattern(100, 1))
	check("one view", 100)
	u := send(t, w, pattern(4000, 2)) // retires v's buffer
	check("after a refill", buf+4000)
	release(t, v)
	check("released but not reclaimed", buf+4000)
	if n := w.Reclaim(); n != 1 {
		t.Errorf("Reclaim() = %d, want 1", n)
	}
	check("reclaimed", 4000)
	release(t, u)
	check("every view released", 0)
	if n := w.Reclaim(); n != 0 {
		t.Errorf("Reclaim() with nothing retired = %d", n)
	}
}

// TestLargeBufferReturned checks that a buffer larger than the standard size,
// made for one large message, goes back to the refill once the writer has
// moved past it, rather than staying in use for small messages for good.
func TestLargeBufferReturned(t *testing.T) {
	const buf, idle = 4096, 2
	rec := newRecorder(slab.Heap{})
	w := newWriter(t, slab.Config{BufferSize: buf, Idle: idle, Refill: rec})
	defer w.Close()
	release(t, send(t, w, pattern(4*buf+3, 1))) // a buffer of 8 × buf
	if s := w.Stats(); s.BytesMapped < 8*buf {
		t.Fatalf("test needs a large buffer: %+v", s)
	}
	for i := range 3 * 8 * buf / 100 {
		release(t, send(t, w, pattern(100, uint64(i))))
	}
	if s := w.Stats(); s.BytesMapped > int64((idle+2)*buf) {
		t.Errorf("after %d bytes of small messages, all released: %+v; want at most "+
			"%d bytes mapped", 3*8*buf, s, (idle+2)*buf)
	}
}

// TestBoundedMemory writes 1 GiB (-short: 64 MiB) of 100-byte messages in one
// goroutine, extracting a view per batch of messages, checking it and
// releasing it before the next batch: the bytes mapped never exceed the idle
// buffers plus two.
func TestBoundedMemory(t *testing.T) {
	total := 1 << 30
	if testing.Short() {
		total = 64 << 20
	}
	if slab.Checked {
		total /= 4
	}
	const size, batch = 100, 37 // a batch of 3,700 bytes straddles buffer ends
	for _, rf := range refills() {
		t.Run(rf.name, func(t *testing.T) {
			w := newWriter(t, slab.Config{Refill: rf.r})
			defer w.Close()
			bound := int64((slab.DefaultIdle + 2) * w.BufferSize())
			var msg [size]byte
			fill(msg[:], 1)
			var seq uint64
			for written := 0; written < total; written += size * batch {
				first := seq
				for range batch {
					binary.LittleEndian.PutUint64(msg[:], seq)
					write(t, w, msg[:])
					seq++
				}
				v := extract(t, w)
				b := v.Bytes()
				if len(b) != size*batch {
					t.Fatalf("batch from %d: view of %d bytes", first, len(b))
				}
				for i := range batch {
					m := b[i*size : (i+1)*size]
					if got := binary.LittleEndian.Uint64(m); got != first+uint64(i) ||
						m[size-1] != msg[size-1] {
						t.Fatalf("batch from %d, message %d: seq %d, last byte %#x",
							first, i, got, m[size-1])
					}
				}
				release(t, v)
				if s := w.Stats(); s.BytesMapped > bound {
					t.Fatalf("after %d bytes: %d bytes mapped, bound %d",
						written, s.BytesMapped, bound)
				}
			}
			s := w.Stats()
			if s.HighWaterBytes > bound || s.OutstandingViews != 0 {
				t.Errorf("stats = %+v; bound %d bytes", s, bound)
			}
			t.Logf("%d messages: %+v", seq, s)
		})
	}
}

// TestZeroAllocs checks that writing, extracting and releasing a message
// allocates nothing once the writer has its buffers, one message per view and
// one batch per view.
func TestZeroAllocs(t *testing.T) {
	if slab.Checked {
		t.Skip("the checked build allocates a stamp per view")
	}
	for _, rf := range refills() {
		t.Run(rf.name, func(t *testing.T) {
			w := newWriter(t, slab.Config{Refill: rf.r})
			defer w.Close()
			msg := pattern(100, 1)
			one := func() {
				p, err := w.Reserve(len(msg))
				if err != nil {
					t.Fatal(err)
				}
				w.Commit(copy(p, msg))
				v, _ := w.Extract()
				if err := v.Release(); err != nil {
					t.Fatal(err)
				}
			}
			// Warm up through a few refills, so that both buffers exist.
			for range 3 * w.BufferSize() / len(msg) {
				one()
			}
			if a := testing.AllocsPerRun(50_000, one); a != 0 {
				t.Errorf("%v allocations per message, want 0", a)
			}
			batch := func() {
				for range 37 {
					p, _ := w.Reserve(len(msg))
					w.Commit(copy(p, msg))
				}
				v, _ := w.Extract()
				h, tl := v.Split(50)
				if err := h.Release(); err != nil {
					t.Fatal(err)
				}
				if err := tl.Release(); err != nil {
					t.Fatal(err)
				}
			}
			if a := testing.AllocsPerRun(5_000, batch); a != 0 {
				t.Errorf("%v allocations per batch, want 0", a)
			}
		})
	}
}

// TestCloseFreesIdle checks that Close frees at once every buffer no view
// points into, each exactly once, and that the writer refuses work after.
func TestCloseFreesIdle(t *testing.T) {
	for _, rf := range refills() {
		t.Run(rf.name, func(t *testing.T) {
			rec := newRecorder(rf.r)
			w := newWriter(t, slab.Config{BufferSize: 4096, Refill: rec})
			// Keep one view across every refill, so that the writer takes
			// new buffers and ends with idle and retired ones.
			var prev slab.View
			for i := range 200 {
				v := send(t, w, pattern(500, uint64(i)))
				release(t, prev)
				prev = v
			}
			release(t, prev)
			write(t, w, []byte("committed, never extracted"))
			if s := w.Stats(); s.BuffersMapped < 2 {
				t.Fatalf("test needs buffers besides the current one: %+v", s)
			}
			w.Close()
			if s := w.Stats(); s.BuffersMapped != 0 || s.BytesMapped != 0 {
				t.Errorf("stats after Close = %+v, want nothing mapped", s)
			}
			rec.check(t, true)

			if _, err := w.Reserve(10); !errors.Is(err, slab.ErrClosed) {
				t.Errorf("Reserve after Close = %v, want ErrClosed", err)
			}
			if _, ok := w.Extract(); ok {
				t.Error("Extract after Close found bytes")
			}
			w.Close()
			rec.check(t, true)
		})
	}
}

// TestCloseKeepsViewed checks that Close leaves mapped every buffer a live
// view points into, standard or large, that the views still read their bytes,
// and that each buffer is freed, once, when its last view is released.
func TestCloseKeepsViewed(t *testing.T) {
	const buf = 4096
	for _, rf := range refills() {
		t.Run(rf.name, func(t *testing.T) {
			rec := newRecorder(rf.r)
			w := newWriter(t, slab.Config{BufferSize: buf, Refill: rec})
			old := send(t, w, pattern(3000, 1))
			release(t, send(t, w, pattern(3000, 2))) // retires old's buffer
			large := send(t, w, pattern(3*buf, 3))   // a buffer of 4 × buf
			oldRetained := old.Retain()
			if old.SameBuffer(large) {
				t.Fatal("test needs the views in different buffers")
			}
			w.Close()

			if s := w.Stats(); s.BuffersMapped != 2 || s.BytesMapped != buf+4*buf {
				t.Errorf("stats after Close = %+v, want the 2 viewed buffers mapped", s)
			}
			checkBytes(t, "old view after Close", old, pattern(3000, 1))
			checkBytes(t, "large view after Close", large, pattern(3*buf, 3))

			release(t, old)
			if s := w.Stats(); s.BuffersMapped != 2 {
				t.Errorf("buffer freed while a retained view lives: %+v", s)
			}
			checkBytes(t, "retained view after Close", oldRetained, pattern(3000, 1))
			release(t, oldRetained)
			if s := w.Stats(); s.BuffersMapped != 1 || s.BytesMapped != 4*buf {
				t.Errorf("stats after releasing the standard buffer's views = %+v", s)
			}
			release(t, large)
			if s := w.Stats(); s.BuffersMapped != 0 || s.BytesMapped != 0 || s.FreeErrors != 0 {
				t.Errorf("stats after releasing every view = %+v", s)
			}
			rec.check(t, true)
		})
	}
}

// TestRefillPairing runs a writer through refills of every kind (standard
// buffers reused and freed past the idle cap, large buffers, views released
// before and after Close) and checks that the refill saw exact pairs.
func TestRefillPairing(t *testing.T) {
	for _, rf := range refills() {
		t.Run(rf.name, func(t *testing.T) {
			rec := newRecorder(rf.r)
			w := newWriter(t, slab.Config{BufferSize: 1024, Idle: 1, Refill: rec})
			var held []slab.View
			for i := range 500 {
				n := 100 + (i*37)%700
				if i%50 == 7 {
					n = 3000 // a large buffer
				}
				v := send(t, w, pattern(n, uint64(i)))
				if i%9 == 0 {
					held = append(held, v)
				} else {
					release(t, v)
				}
				if i%100 == 99 {
					for _, v := range held[:len(held)/2] {
						release(t, v)
					}
					held = held[len(held)/2:]
				}
			}
			w.Close()
			for _, v := range held {
				release(t, v)
			}
			if s := w.Stats(); s.BuffersMapped != 0 || s.BytesMapped != 0 {
				t.Errorf("stats after releasing every view = %+v", s)
			}
			rec.check(t, true)
			t.Logf("%d buffers allocated and freed", rec.allocs)
		})
	}
}

// TestPoison checks, in checked builds, that a buffer taken back for writing
// is filled with PoisonByte, so that bytes read past their release stand out:
// both a retired buffer that the writer reclaims and a current buffer that it
// starts over because no view points into it any more.
func TestPoison(t *testing.T) {
	if !slab.Checked {
		t.Skip("needs the checked build (-tags zcommcheck or -race)")
	}
	checkPoison := func(t *testing.T, stale []byte) {
		t.Helper()
		for i, c := range stale {
			if c != slab.PoisonByte {
				t.Fatalf("byte %d of a released view = %#x, want %#x", i, c, slab.PoisonByte)
			}
		}
	}

	t.Run("reclaimed", func(t *testing.T) {
		w := newWriter(t, slab.Config{BufferSize: 4096})
		defer w.Close()
		keep := send(t, w, pattern(100, 1)) // [0, 100) of buffer A
		v := send(t, w, pattern(100, 2))    // [100, 200) of buffer A
		stale := v.Bytes()
		release(t, v)
		next := send(t, w, pattern(4000, 3)) // A has a view: buffer B
		release(t, keep)
		// B has a view too: the writer reclaims A and writes [0, 97) of it.
		last := send(t, w, pattern(97, 4))
		if !last.SameBuffer(v) {
			t.Fatal("test expects the writer to reuse the first buffer")
		}
		checkPoison(t, stale)
		release(t, next)
		release(t, last)
	})

	t.Run("started over", func(t *testing.T) {
		w := newWriter(t, slab.Config{BufferSize: 4096})
		defer w.Close()
		a := send(t, w, pattern(3000, 1)) // [0, 3000)
		b := send(t, w, pattern(100, 2))  // [3000, 3100)
		stale := b.Bytes()
		release(t, a)
		release(t, b)
		// No view is left, so the writer may start the buffer over: it
		// writes [0, 1000) and must not leave [3000, 3100) readable.
		c := send(t, w, pattern(1000, 3))
		checkPoison(t, stale)
		release(t, c)
	})

	t.Run("freed after Close", func(t *testing.T) {
		w := newWriter(t, slab.Config{BufferSize: 4096, Refill: slab.Heap{}})
		v := send(t, w, pattern(100, 1))
		stale := v.Bytes()
		w.Close()
		release(t, v) // the last view: the buffer goes back to the refill
		checkPoison(t, stale)
	})
}

// TestUseAfterRelease checks, in checked builds, that reading or deriving
// from a released view panics with a message naming where it was made.
func TestUseAfterRelease(t *testing.T) {
	if !slab.Checked {
		t.Skip("needs the checked build (-tags zcommcheck or -race)")
	}
	w := newWriter(t, slab.Config{BufferSize: 4096})
	defer w.Close()
	write(t, w, []byte("released"))
	v, _ := w.Extract()
	place := lineAbove()
	release(t, v)
	for name, f := range map[string]func(){
		"Bytes":   func() { v.Bytes() },
		"Retain":  func() { v.Retain() },
		"Slice":   func() { v.Slice(0, 1) },
		"Acquire": func() { v.Acquire(1) },
		"Split":   func() { v.Split(1) },
	} {
		msg := mustPanic(t, name+" on a released view", f)
		if msg != "" && (!strings.Contains(msg, "released") || !strings.Contains(msg, place)) {
			t.Errorf("%s on a released view panicked with %q; want it to name %s",
				name, msg, place)
		}
	}
	if k := outstanding(w); k != 0 {
		t.Errorf("OutstandingViews = %d, want 0", k)
	}
}

// TestMergeReleased checks, in checked builds, that Merge refuses a view that
// was already released, as every other accessor does, rather than handing
// out a view that holds no reference.
func TestMergeReleased(t *testing.T) {
	if !slab.Checked {
		t.Skip("needs the checked build (-tags zcommcheck or -race)")
	}
	w := newWriter(t, slab.Config{BufferSize: 4096})
	defer w.Close()
	a := send(t, w, []byte("abc"))
	b := send(t, w, []byte("def"))
	release(t, a)

	panicked := true
	var m slab.View
	var ok bool
	func() {
		defer func() { _ = recover() }()
		m, ok = a.Merge(b)
		panicked = false
	}()
	switch {
	case panicked:
		release(t, b)
	case !ok:
		release(t, b)
	default:
		err := m.Release()
		t.Errorf("Merge of a released view succeeded; releasing the result: %v; "+
			"stats %+v", err, w.Stats())
	}
	if s := w.Stats(); s.OutstandingViews != 0 || s.OverReleases != 0 {
		t.Errorf("stats = %+v, want no views and no over-release", s)
	}
}
