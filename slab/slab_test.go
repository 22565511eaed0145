package slab_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/internal/unsafeutil"
	"github.com/zcomm-go/zcomm/slab"
)

// newWriter returns a writer configured by c, failing the test on error.
func newWriter(tb testing.TB, c slab.Config) *slab.Writer {
	tb.Helper()
	w, err := slab.NewWriter(c)
	if err != nil {
		tb.Fatalf("NewWriter(%+v): %v", c, err)
	}
	return w
}

// write reserves len(p) bytes, copies p there and commits them.
func write(tb testing.TB, w *slab.Writer, p []byte) {
	tb.Helper()
	dst, err := w.Reserve(len(p))
	if err != nil {
		tb.Fatalf("Reserve(%d): %v", len(p), err)
	}
	if len(dst) != len(p) {
		tb.Fatalf("Reserve(%d) returned %d bytes", len(p), len(dst))
	}
	w.Commit(copy(dst, p))
}

// extract returns a view of everything committed since the last extract,
// failing the test if there is nothing.
func extract(tb testing.TB, w *slab.Writer) slab.View {
	tb.Helper()
	v, ok := w.Extract()
	if !ok {
		tb.Fatalf("Extract found nothing with %d bytes pending", w.Pending())
	}
	return v
}

// send writes p as one message and returns its view.
func send(tb testing.TB, w *slab.Writer, p []byte) slab.View {
	tb.Helper()
	write(tb, w, p)
	return extract(tb, w)
}

// release releases v, failing the test on error.
func release(tb testing.TB, v slab.View) {
	tb.Helper()
	if err := v.Release(); err != nil {
		tb.Fatalf("Release: %v", err)
	}
}

// checkBytes fails the test unless v holds exactly want.
func checkBytes(tb testing.TB, what string, v slab.View, want []byte) {
	tb.Helper()
	if got := v.Bytes(); !bytes.Equal(got, want) || v.Len() != len(want) {
		tb.Errorf("%s: view of %d bytes (Len %d) holds %.40q, want %d bytes %.40q",
			what, len(got), v.Len(), got, len(want), want)
	}
}

// fill writes a pattern into p that depends on seed and on each byte's
// position, so that a byte moved, lost or overwritten shows up.
func fill(p []byte, seed uint64) {
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range p {
		p[i] = byte(x >> 56)
		x = x*6364136223846793005 + 1442695040888963407
	}
}

// pattern returns n bytes of fill's pattern for seed.
func pattern(n int, seed uint64) []byte {
	p := make([]byte, n)
	fill(p, seed)
	return p
}

// outstanding returns the number of live views of w's buffers.
func outstanding(w *slab.Writer) int64 { return w.Stats().OutstandingViews }

// mustPanic runs f and returns the value it panicked with as a string, failing
// the test if it did not panic.
func mustPanic(tb testing.TB, what string, f func()) (msg string) {
	tb.Helper()
	defer func() {
		r := recover()
		if r == nil {
			tb.Errorf("%s did not panic", what)
			return
		}
		msg = fmt.Sprint(r)
	}()
	f()
	return ""
}

// lineAbove returns "file:line" for the line above its caller's, the way a
// checked build names the place a view was made.
func lineAbove() string {
	_, file, line, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", filepath.Base(file), line-1)
}

// refills returns the refills slab tests run under: the heap, and anonymous
// mmap where the system has it (elsewhere Mmap is the heap again).
func refills() []struct {
	name string
	r    slab.Refill
} {
	return []struct {
		name string
		r    slab.Refill
	}{{"heap", slab.Heap{}}, {"mmap", slab.Mmap{}}}
}

// watchdog ends the test binary, printing every goroutine's stack, if the
// test has not finished within 30 seconds: a view that is never released, or
// a reader that never gets one, hangs the test rather than failing it.
func watchdog(t *testing.T) {
	t.Helper()
	const d = 30 * time.Second
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		buf := make([]byte, 16<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s: no progress in %v; goroutines:\n%s\n", name, d, buf)
		panic(name + ": watchdog expired")
	})
	t.Cleanup(func() { timer.Stop() })
}

func TestReserveCommitExtract(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64})
	if _, ok := w.Extract(); ok {
		t.Fatal("Extract on a new writer found bytes")
	}

	write(t, w, []byte("hello"))
	write(t, w, []byte(", world"))
	if p := w.Pending(); p != 12 {
		t.Errorf("Pending() = %d, want 12", p)
	}
	v := extract(t, w)
	checkBytes(t, "two writes", v, []byte("hello, world"))
	if _, ok := w.Extract(); ok {
		t.Error("a second Extract found bytes")
	}

	// Only committed bytes are extracted.
	dst, err := w.Reserve(10)
	if err != nil {
		t.Fatal(err)
	}
	copy(dst, "abcdefghij")
	w.Commit(3)
	u := extract(t, w)
	checkBytes(t, "partial commit", u, []byte("abc"))
	if !u.SameBuffer(v) {
		t.Error("consecutive small messages landed in different buffers")
	}

	// A reservation that does not fit moves to a new buffer and leaves the
	// views of the old one alone.
	write(t, w, []byte("tail"))
	big := pattern(60, 1)
	write(t, w, big)
	x := extract(t, w)
	checkBytes(t, "moved pending bytes", x, append([]byte("tail"), big...))
	if x.SameBuffer(v) {
		t.Error("a view of a new buffer shares the old one")
	}
	checkBytes(t, "old view after the move", v, []byte("hello, world"))

	if n := outstanding(w); n != 3 {
		t.Errorf("OutstandingViews = %d, want 3", n)
	}
	for _, v := range []slab.View{v, u, x} {
		release(t, v)
	}
	if n := outstanding(w); n != 0 {
		t.Errorf("OutstandingViews after releasing all = %d, want 0", n)
	}
	w.Close()
}

func TestZeroView(t *testing.T) {
	var v slab.View
	if !v.IsZero() || v.Len() != 0 || v.Bytes() != nil {
		t.Errorf("zero View: IsZero %v, Len %d, Bytes %v", v.IsZero(), v.Len(), v.Bytes())
	}
	if err := v.Release(); err != nil {
		t.Errorf("Release of the zero View: %v", err)
	}
	if v.SameBuffer(v) {
		t.Error("the zero View shares a buffer with itself")
	}
	if r := v.Retain(); !r.IsZero() {
		t.Error("Retain of the zero View is not zero")
	}
	h, tl := v.Split(0)
	if !h.IsZero() || !tl.IsZero() {
		t.Error("Split of the zero View is not zero")
	}
}

func TestEmptyMessage(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()
	if _, err := w.Reserve(0); err != nil {
		t.Fatal(err)
	}
	w.Commit(0)
	if _, ok := w.Extract(); ok {
		t.Error("Extract found bytes after a zero-byte commit")
	}
}

func TestSplit(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()
	msg := []byte("0123456789")
	for _, n := range []int{0, 4, 10} {
		v := send(t, w, msg)
		head, tail := v.Split(n)
		checkBytes(t, fmt.Sprintf("head of split at %d", n), head, msg[:n])
		checkBytes(t, fmt.Sprintf("tail of split at %d", n), tail, msg[n:])
		if !head.SameBuffer(tail) {
			t.Errorf("split at %d: head and tail in different buffers", n)
		}
		if k := outstanding(w); k != 2 {
			t.Errorf("split at %d: OutstandingViews = %d, want 2", n, k)
		}
		release(t, head)
		checkBytes(t, "tail after releasing head", tail, msg[n:])
		release(t, tail)
		if k := outstanding(w); k != 0 {
			t.Errorf("split at %d: OutstandingViews after release = %d, want 0", n, k)
		}
	}

	v := send(t, w, msg)
	mustPanic(t, "Split(-1)", func() { v.Split(-1) })
	mustPanic(t, "Split(Len()+1)", func() { v.Split(v.Len() + 1) })
	release(t, v)
}

func TestSliceAcquire(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()
	msg := []byte("aaabbbbcc")
	v := send(t, w, msg)

	// Three views from one: v's own reference plus two acquired.
	v.Acquire(2)
	parts := []slab.View{v.Slice(0, 3), v.Slice(3, 4), v.Slice(7, 2)}
	if k := outstanding(w); k != 3 {
		t.Errorf("OutstandingViews after Acquire(2) = %d, want 3", k)
	}
	for i, want := range []string{"aaa", "bbbb", "cc"} {
		checkBytes(t, fmt.Sprintf("slice %d", i), parts[i], []byte(want))
	}
	for _, p := range parts {
		release(t, p)
	}
	if k := outstanding(w); k != 0 {
		t.Errorf("OutstandingViews after releasing the slices = %d, want 0", k)
	}

	u := send(t, w, msg)
	for _, win := range [][2]int{{-1, 1}, {0, -1}, {0, 10}, {9, 1}, {10, 0}} {
		mustPanic(t, fmt.Sprintf("Slice(%d, %d)", win[0], win[1]),
			func() { u.Slice(win[0], win[1]) })
	}
	checkBytes(t, "empty slice at the end", u.Slice(9, 0), []byte{})
	u.Acquire(0)
	u.Acquire(-3)
	if k := outstanding(w); k != 1 {
		t.Errorf("Acquire of no references changed OutstandingViews to %d", k)
	}
	release(t, u)
}

func TestCut(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()
	msg := []byte("aaabbbbcc")

	// Walk one view from the front, as a reader walks frames: v's own
	// reference goes to the first part, the other two are acquired.
	v := send(t, w, msg)
	v.Acquire(2)
	var parts []slab.View
	rest := v
	for _, n := range []int{3, 4, 2} {
		var head slab.View
		head, rest = rest.Cut(n)
		parts = append(parts, head)
	}
	if rest.Len() != 0 || !rest.SameBuffer(v) {
		t.Errorf("after three cuts the rest has %d bytes (same buffer: %v), want 0 of v's",
			rest.Len(), rest.SameBuffer(v))
	}
	for i, want := range []string{"aaa", "bbbb", "cc"} {
		checkBytes(t, fmt.Sprintf("part %d", i), parts[i], []byte(want))
	}
	if k := outstanding(w); k != 3 {
		t.Errorf("OutstandingViews after cutting = %d, want 3", k)
	}
	for _, p := range parts {
		release(t, p)
	}
	if k := outstanding(w); k != 0 {
		t.Errorf("OutstandingViews after releasing the parts = %d, want 0", k)
	}

	u := send(t, w, msg)
	for _, n := range []int{-1, 10} {
		mustPanic(t, fmt.Sprintf("Cut(%d)", n), func() { u.Cut(n) })
	}
	head, tail := u.Cut(0)
	checkBytes(t, "empty head", head, []byte{})
	checkBytes(t, "whole tail", tail, msg)
	head, tail = u.Cut(len(msg))
	checkBytes(t, "whole head", head, msg)
	checkBytes(t, "empty tail", tail, []byte{})
	release(t, u)
	if h, r := (slab.View{}).Cut(0); !h.IsZero() || !r.IsZero() {
		t.Error("cutting the zero View gave a non-zero view")
	}
}

func TestRetainRelease(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()
	v := send(t, w, []byte("retained"))
	r1 := v.Retain()
	r2 := r1.Retain()
	if k := outstanding(w); k != 3 {
		t.Errorf("OutstandingViews = %d, want 3", k)
	}
	release(t, v)
	release(t, r1)
	checkBytes(t, "last retained view", r2, []byte("retained"))
	if k := outstanding(w); k != 1 {
		t.Errorf("OutstandingViews = %d, want 1", k)
	}
	release(t, r2)
	if s := w.Stats(); s.OutstandingViews != 0 || s.BytesInFlight != 0 {
		t.Errorf("stats after releasing all = %+v", s)
	}
}

// TestJoin checks that Join covers contiguous views of one buffer without
// touching the count, that the joined references go to views sliced from the
// result, and that anything else is refused and left as it was.
func TestJoin(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()

	a := send(t, w, []byte("abc"))
	b := send(t, w, []byte("de"))
	c := send(t, w, []byte("fgh"))
	ab, ok := a.Join(b)
	if !ok {
		t.Fatal("contiguous views of one buffer did not join")
	}
	abc, ok := ab.Join(c)
	if !ok {
		t.Fatal("a joined view and the next view did not join")
	}
	checkBytes(t, "joined", abc, []byte("abcdefgh"))
	if k := outstanding(w); k != 3 {
		t.Errorf("OutstandingViews after joining three views = %d, want 3", k)
	}
	// Three references, handed out as two views and one more from Acquire.
	abc.Acquire(1)
	parts := []slab.View{abc.Slice(0, 1), abc.Slice(1, 4), abc.Slice(5, 2), abc.Slice(7, 1)}
	for _, p := range parts {
		release(t, p)
	}
	if k := outstanding(w); k != 0 {
		t.Errorf("OutstandingViews = %d, want 0", k)
	}

	x := send(t, w, []byte("x"))
	gap := send(t, w, []byte("-"))
	y := send(t, w, []byte("y"))
	other := newWriter(t, slab.Config{BufferSize: 64})
	defer other.Close()
	o := send(t, other, []byte("o"))
	for _, tc := range []struct {
		name string
		v, u slab.View
	}{
		{"with a gap", x, y},
		{"in reverse order", gap, x},
		{"of different buffers", y, o},
		{"with the zero view", x, slab.View{}},
		{"the zero view with one", slab.View{}, x},
	} {
		if got, ok := tc.v.Join(tc.u); ok || got != tc.v {
			t.Errorf("Join %s = %v, %t; want the first view back and false", tc.name, got, ok)
		}
	}
	for _, v := range []slab.View{x, gap, y, o} {
		release(t, v)
	}
	if k := outstanding(w); k != 0 {
		t.Errorf("OutstandingViews after the refusals = %d, want 0", k)
	}
}

// TestJoinConsumes checks, in checked builds, that the views Join consumed
// count as released: releasing one again is refused, and reading one panics.
func TestJoinConsumes(t *testing.T) {
	if !slab.Checked {
		t.Skip("needs the checked build")
	}
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()
	a := send(t, w, []byte("ab"))
	b := send(t, w, []byte("cd"))
	j, ok := a.Join(b)
	if !ok {
		t.Fatal("contiguous views did not join")
	}
	if err := a.Release(); !errors.Is(err, slab.ErrReleased) {
		t.Errorf("releasing a joined view = %v, want ErrReleased", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("reading a joined view did not panic")
			}
		}()
		_ = b.Bytes()
	}()
	j.Acquire(0)
	release(t, j.Slice(0, 2))
	release(t, j.Slice(2, 2))
	if k := outstanding(w); k != 0 {
		t.Errorf("OutstandingViews = %d, want 0", k)
	}
}

// TestMerge checks that Merge joins contiguous views of one buffer into one
// holding a single reference, and refuses anything else.
func TestMerge(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()

	t.Run("contiguous", func(t *testing.T) {
		a := send(t, w, []byte("abc"))
		b := send(t, w, []byte("defg"))
		m, ok := a.Merge(b)
		if !ok {
			t.Fatal("contiguous views of one buffer did not merge")
		}
		checkBytes(t, "merged", m, []byte("abcdefg"))
		if k := outstanding(w); k != 1 {
			t.Errorf("OutstandingViews after merge = %d, want 1", k)
		}
		head, tail := m.Split(2)
		m2, ok := head.Merge(tail)
		if !ok {
			t.Fatal("the halves of a split did not merge")
		}
		checkBytes(t, "merged halves", m2, []byte("abcdefg"))
		release(t, m2)
		if k := outstanding(w); k != 0 {
			t.Errorf("OutstandingViews = %d, want 0", k)
		}
	})

	t.Run("refused", func(t *testing.T) {
		a := send(t, w, []byte("abc"))
		gap := send(t, w, []byte("--"))
		c := send(t, w, []byte("xyz"))
		other := newWriter(t, slab.Config{BufferSize: 64})
		defer other.Close()
		o := send(t, other, []byte("other"))
		for _, tc := range []struct {
			name string
			x, y slab.View
		}{
			{"with a gap", a, c},
			{"in reverse order", gap, a},
			{"of different buffers", c, o},
			{"with the zero view", a, slab.View{}},
			{"the zero view with one", slab.View{}, a},
		} {
			m, ok := tc.x.Merge(tc.y)
			if ok {
				t.Errorf("views %s merged", tc.name)
				continue
			}
			if !bytes.Equal(m.Bytes(), tc.x.Bytes()) || m.Len() != tc.x.Len() {
				t.Errorf("refused merge %s returned %q, want the first view", tc.name, m.Bytes())
			}
		}
		if k := outstanding(w); k != 3 {
			t.Errorf("OutstandingViews after refused merges = %d, want 3", k)
		}
		checkBytes(t, "first view after refusals", a, []byte("abc"))
		checkBytes(t, "second view after refusals", c, []byte("xyz"))
		for _, v := range []slab.View{a, gap, c, o} {
			release(t, v)
		}
		if k := outstanding(w); k != 0 {
			t.Errorf("OutstandingViews = %d, want 0", k)
		}
	})
}

// TestPayloadSizes writes messages around the buffer size, each a 48-byte
// header-sized prefix and a payload in one reservation followed by a 10-byte
// message, extracts each, and reads them all back in order at the end.
func TestPayloadSizes(t *testing.T) {
	buf, big := 1<<20, 64<<20
	if testing.Short() {
		buf, big = 64<<10, 4<<20
	}
	const prefix = 48
	payloads := []int{0, 1, buf - 49, buf - 48, buf - 47, buf, 4*buf + 3, big}

	for _, rf := range refills() {
		t.Run(rf.name, func(t *testing.T) {
			w := newWriter(t, slab.Config{BufferSize: buf, Refill: rf.r})
			defer w.Close()
			type sent struct {
				v    slab.View
				want []byte
			}
			var all []sent
			for i, n := range payloads {
				msg := pattern(prefix+n, uint64(i))
				copy(msg, fmt.Sprintf("message %d: %d bytes of payload", i, n))
				all = append(all, sent{send(t, w, msg), msg})
				small := pattern(10, uint64(1000+i))
				all = append(all, sent{send(t, w, small), small})
			}
			if s := w.Stats(); s.OutstandingViews != int64(len(all)) {
				t.Errorf("OutstandingViews = %d, want %d", s.OutstandingViews, len(all))
			}
			for i, m := range all {
				checkBytes(t, fmt.Sprintf("message %d", i), m.v, m.want)
			}
			for _, m := range all {
				release(t, m.v)
			}
			if k := outstanding(w); k != 0 {
				t.Errorf("OutstandingViews after releasing all = %d, want 0", k)
			}
		})
	}
}

// TestPendingMovesWhole checks that bytes committed but not extracted move
// with a reservation that does not fit, so that one view still covers them.
func TestPendingMovesWhole(t *testing.T) {
	const buf = 4096
	w := newWriter(t, slab.Config{BufferSize: buf})
	defer w.Close()
	var want []byte
	for i := range 3 {
		p := pattern(1500, uint64(i))
		write(t, w, p)
		want = append(want, p...)
	}
	v := extract(t, w)
	checkBytes(t, "three messages written across a refill", v, want)

	// Pending bytes and a reservation that together exceed the standard size
	// get a larger buffer.
	write(t, w, pattern(3000, 7))
	write(t, w, pattern(3000, 8))
	u := extract(t, w)
	checkBytes(t, "messages moved to a larger buffer", u,
		append(pattern(3000, 7), pattern(3000, 8)...))
	release(t, v)
	release(t, u)
}

func TestTooLarge(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 4096, MaxReserve: 10_000})
	defer w.Close()
	for _, n := range []int{10_001, 1<<31 - 1, -1} {
		if _, err := w.Reserve(n); !errors.Is(err, slab.ErrTooLarge) {
			t.Errorf("Reserve(%d) = %v, want ErrTooLarge", n, err)
		}
	}
	if s := w.Stats(); s.BuffersAllocated != 0 {
		t.Errorf("refused reservations allocated %d buffers", s.BuffersAllocated)
	}
	v := send(t, w, pattern(100, 1))
	checkBytes(t, "message after refusals", v, pattern(100, 1))
	u := send(t, w, pattern(10_000, 2))
	checkBytes(t, "message of MaxReserve bytes", u, pattern(10_000, 2))
	if _, err := w.Reserve(10_001); !errors.Is(err, slab.ErrTooLarge) {
		t.Errorf("Reserve(10001) after writing = %v, want ErrTooLarge", err)
	}
	x := send(t, w, pattern(50, 3))
	checkBytes(t, "message after a later refusal", x, pattern(50, 3))
	for _, v := range []slab.View{v, u, x} {
		release(t, v)
	}

	d := newWriter(t, slab.Config{})
	defer d.Close()
	if _, err := d.Reserve(slab.DefaultMaxReserve + 1); !errors.Is(err, slab.ErrTooLarge) {
		t.Errorf("Reserve(DefaultMaxReserve+1) = %v, want ErrTooLarge", err)
	}
	release(t, send(t, d, pattern(10, 4)))
}

// TestTooLargeWithinBuffer checks that MaxReserve bounds a reservation even
// when the current buffer has room for it.
func TestTooLargeWithinBuffer(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 4096, MaxReserve: 1000})
	defer w.Close()
	if _, err := w.Reserve(1001); !errors.Is(err, slab.ErrTooLarge) {
		t.Errorf("Reserve(1001) on a new writer = %v, want ErrTooLarge", err)
	}
	release(t, send(t, w, pattern(10, 1)))
	if _, err := w.Reserve(1001); !errors.Is(err, slab.ErrTooLarge) {
		t.Errorf("Reserve(1001) with 4086 bytes free in the buffer = %v, want ErrTooLarge",
			err)
	}
}

// TestTryReserve checks that TryReserve succeeds exactly when the current
// buffer has room within MaxReserve, agrees with Reserve then, and changes
// nothing when it fails.
func TestTryReserve(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64, MaxReserve: 40})
	defer w.Close()
	if buf, ok := w.TryReserve(1); ok || buf != nil {
		t.Errorf("TryReserve(1) on a new writer = %d bytes, %v; want nil, false", len(buf), ok)
	}
	write(t, w, pattern(20, 1)) // takes a buffer: 44 bytes left
	for _, n := range []int{-1, 41, 45, 1<<31 - 1} {
		if buf, ok := w.TryReserve(n); ok || buf != nil {
			t.Errorf("TryReserve(%d) with 44 bytes free, MaxReserve 40 = %d bytes, %v; "+
				"want nil, false", n, len(buf), ok)
		}
	}
	if p := w.Pending(); p != 20 {
		t.Errorf("refused TryReserves changed Pending to %d, want 20", p)
	}
	for _, n := range []int{0, 40} {
		buf, ok := w.TryReserve(n)
		if !ok || len(buf) != n || cap(buf) != n {
			t.Fatalf("TryReserve(%d) = len %d cap %d, %v; want %d bytes, true",
				n, len(buf), cap(buf), ok, n)
		}
	}
	buf, _ := w.TryReserve(4)
	copy(buf, "abcd")
	w.Commit(4)
	v := extract(t, w)
	checkBytes(t, "bytes written through TryReserve", v, append(pattern(20, 1), "abcd"...))
	release(t, v)
	if _, ok := w.TryReserve(41); ok {
		t.Error("TryReserve(41) succeeded past MaxReserve 40")
	}
}

func TestNewWriterConfig(t *testing.T) {
	w := newWriter(t, slab.Config{})
	if w.BufferSize() != slab.DefaultBufferSize || w.MaxReserve() != slab.DefaultMaxReserve {
		t.Errorf("defaults: BufferSize %d, MaxReserve %d", w.BufferSize(), w.MaxReserve())
	}
	if w.Available() != 0 {
		t.Errorf("Available() on a new writer = %d", w.Available())
	}
	for _, c := range []slab.Config{{BufferSize: -1}, {MaxReserve: -1}} {
		if _, err := slab.NewWriter(c); err == nil {
			t.Errorf("NewWriter(%+v) accepted a negative size", c)
		}
	}
}

// TestOverRelease checks that releasing more views than a buffer has is
// refused with ErrOverRelease in every build, counted, and leaves the count
// at zero rather than wrapping it.
func TestOverRelease(t *testing.T) {
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()
	v := send(t, w, []byte("ab"))

	// Two slices and no Acquire: one reference for two views.
	a, b := v.Slice(0, 1), v.Slice(1, 1)
	release(t, a)
	err := b.Release()
	if !errors.Is(err, slab.ErrOverRelease) {
		t.Fatalf("second release of one reference = %v, want ErrOverRelease", err)
	}
	s := w.Stats()
	if s.OverReleases != 1 || s.OutstandingViews != 0 || s.DoubleReleases != 0 {
		t.Errorf("stats after over-release = %+v", s)
	}

	// The buffer's count is still exact: a new view is counted once and
	// released once.
	u := send(t, w, []byte("cd"))
	if !u.SameBuffer(v) {
		t.Fatal("test assumes the next message shares the buffer")
	}
	if k := outstanding(w); k != 1 {
		t.Errorf("OutstandingViews after a new view = %d, want 1", k)
	}
	release(t, u)
	if k := outstanding(w); k != 0 {
		t.Errorf("OutstandingViews = %d, want 0", k)
	}

	if !slab.Checked {
		// Unchecked builds cannot tell copies apart: the second release of
		// one view is an over-release.
		x := send(t, w, []byte("ef"))
		release(t, x)
		if err := x.Release(); !errors.Is(err, slab.ErrOverRelease) {
			t.Errorf("double release in an unchecked build = %v, want ErrOverRelease", err)
		}
		if s := w.Stats(); s.OverReleases != 2 || s.OutstandingViews != 0 {
			t.Errorf("stats = %+v, want 2 over-releases, no views", s)
		}
	}
}

// TestOverReleaseAfterClose checks that an over-release of a buffer that was
// freed when its last view went does not free it again.
func TestOverReleaseAfterClose(t *testing.T) {
	rec := newRecorder(slab.Heap{})
	w := newWriter(t, slab.Config{BufferSize: 64, Refill: rec})
	v := send(t, w, []byte("ab"))
	extra := v.Slice(0, 1) // no reference of its own
	w.Close()
	release(t, v)
	if err := extra.Release(); !errors.Is(err, slab.ErrOverRelease) {
		t.Errorf("release after the buffer was freed = %v, want ErrOverRelease", err)
	}
	s := w.Stats()
	if s.BuffersMapped != 0 || s.BytesMapped != 0 || s.OverReleases != 1 {
		t.Errorf("stats = %+v, want nothing mapped and one over-release", s)
	}
	rec.check(t, true)
}

// TestReleasedTwice checks, in checked builds, that the second release of one
// view (or of a copy of it) is refused with ErrReleased naming where the view
// was made, and changes no count.
func TestReleasedTwice(t *testing.T) {
	if !slab.Checked {
		t.Skip("needs the checked build (-tags zcommcheck or -race)")
	}
	w := newWriter(t, slab.Config{BufferSize: 64})
	defer w.Close()
	keep := send(t, w, []byte("kept"))
	write(t, w, []byte("twice"))
	v, _ := w.Extract() // the line the error must name
	place := lineAbove()
	copyOfV := v
	release(t, v)
	for _, x := range []slab.View{v, copyOfV} {
		err := x.Release()
		if !errors.Is(err, slab.ErrReleased) {
			t.Fatalf("second release = %v, want ErrReleased", err)
		}
		if !strings.Contains(err.Error(), place) {
			t.Errorf("error %q does not name %s", err, place)
		}
	}
	s := w.Stats()
	if s.DoubleReleases != 2 || s.OverReleases != 0 || s.OutstandingViews != 1 {
		t.Errorf("stats = %+v, want 2 double releases and the kept view", s)
	}
	checkBytes(t, "other view of the buffer", keep, []byte("kept"))
	release(t, keep)
}

// TestViewSize pins a View at three words in unchecked builds: every ring
// slot, queued run and received Message carries one, and an empty stamp
// placed last would pad each by a word.
func TestViewSize(t *testing.T) {
	if slab.Checked {
		t.Skip("checked views carry a stamp")
	}
	if got, want := unsafeutil.Sizeof[slab.View](), 3*unsafeutil.Sizeof[uintptr](); got != want {
		t.Errorf("a View is %d bytes, want %d", got, want)
	}
}
