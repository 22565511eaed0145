package process_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

// watchdogLimit bounds every concurrent test. A lost wake-up or a push that
// blocks shows up as a hang, and a hung test can only be ended from outside.
// It asserts nothing about speed.
const watchdogLimit = 30 * time.Second

// watchdog ends the test binary with a dump of every goroutine if the test
// has not finished within watchdogLimit. The dump shows where the workers are
// stuck, which a plain test timeout reports far too late and without names.
func watchdog(tb testing.TB) {
	tb.Helper()
	name := tb.Name()
	timer := time.AfterFunc(watchdogLimit, func() {
		buf := make([]byte, 1<<20)
		for {
			n := runtime.Stack(buf, true)
			if n < len(buf) {
				buf = buf[:n]
				break
			}
			buf = make([]byte, 2*len(buf))
		}
		fmt.Fprintf(os.Stderr, "%s: not done after %v; goroutines:\n%s\n",
			name, watchdogLimit, buf)
		panic(name + ": watchdog expired")
	})
	tb.Cleanup(func() { timer.Stop() })
}

// runConcurrently runs each function on a goroutine of its own and returns
// once all have returned. The functions report failures through variables
// the caller reads afterwards, never through t.Fatal.
func runConcurrently(t *testing.T, fns ...func()) {
	t.Helper()
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(fn)
	}
	wg.Wait()
}

// scale sizes a stress test: a tenth of full under -short, never less than
// min. The tests that use it stay within a few seconds under the race
// detector at full size.
func scale(full, min int) int {
	if testing.Short() {
		full /= 10
	}
	return max(full, min)
}

// newGroup builds the allocators of a group of peers workers, each on a
// goroutine of its own (as a program that owns its goroutines would), and
// hands them to the test goroutine, which then owns them all. Every allocator
// is shut down when the test ends.
func newGroup(t testing.TB, peers int, opts ...process.Option) []*process.Allocator {
	t.Helper()
	bs, err := process.NewBuilders(peers, opts...)
	if err != nil {
		t.Fatalf("NewBuilders(%d): %v", peers, err)
	}
	as := make([]*process.Allocator, peers)
	errs := make([]error, peers)
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() { as[i], errs[i] = b.Build() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Build of worker %d: %v", i, err)
		}
		if as[i].Index() != i || as[i].Peers() != peers {
			t.Fatalf("worker %d: Index %d, Peers %d", i, as[i].Index(), as[i].Peers())
		}
	}
	t.Cleanup(func() {
		for _, a := range as {
			a.Shutdown()
		}
	})
	return as
}

// allocate allocates channel id on every allocator of a group.
func allocate[T any](t testing.TB, as []*process.Allocator, id uint64,
	codec process.Codec[T]) []*process.Channel[T] {
	t.Helper()
	chs := make([]*process.Channel[T], len(as))
	for i, a := range as {
		ch, err := process.Allocate(a, id, codec)
		if err != nil {
			t.Fatalf("Allocate(worker %d, channel %d): %v", i, id, err)
		}
		chs[i] = ch
	}
	return chs
}

// pullAll pulls every message waiting in p, in order, without releasing any.
func pullAll[T any](t *testing.T, p *process.Puller[T]) []process.Message[T] {
	t.Helper()
	var out []process.Message[T]
	for {
		m, ok, err := p.Pull()
		if err != nil {
			t.Fatalf("Pull: %v", err)
		}
		if !ok {
			return out
		}
		out = append(out, m)
	}
}

// receiveAll receives on a and pulls every message waiting in p.
func receiveAll[T any](t *testing.T, a *process.Allocator,
	p *process.Puller[T]) []process.Message[T] {
	t.Helper()
	if err := a.Receive(); err != nil {
		t.Fatalf("Receive on worker %d: %v", a.Index(), err)
	}
	return pullAll(t, p)
}

// releaseAll releases every message of ms.
func releaseAll[T any](t *testing.T, ms []process.Message[T]) {
	t.Helper()
	for i := range ms {
		if err := ms[i].Release(); err != nil {
			t.Fatalf("Release of message %d: %v", i, err)
		}
	}
}

// values returns the decoded values of ms.
func values[T any](ms []process.Message[T]) []T {
	out := make([]T, len(ms))
	for i := range ms {
		out[i] = ms[i].Value
	}
	return out
}

// seqnos returns the header seqnos of ms.
func seqnos[T any](ms []process.Message[T]) []uint64 {
	out := make([]uint64, len(ms))
	for i := range ms {
		out[i] = ms[i].Header().Seqno
	}
	return out
}

// upTo returns 0, 1, ..., n-1.
func upTo(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)
	}
	return out
}

// mentions reports whether err's text contains the decimal number n as a
// whole number, not as part of a longer one.
func mentions(err error, n uint64) bool {
	if err == nil {
		return false
	}
	re := regexp.MustCompile(`(^|[^0-9])` + strconv.FormatUint(n, 10) + `([^0-9]|$)`)
	return re.MatchString(err.Error())
}

// slabStats returns the memory statistics of a's writers.
func slabStats(a *process.Allocator) slab.Stats { return a.Stats().Slab }

// pushOne pushes v to target and publishes it at once with Release, in
// either mode, so that each message is one view in the target's ring: the
// way to fill a ring, which an eager stream does not.
func pushOne[T any](t testing.TB, ch *process.Channel[T], a *process.Allocator, target int, v T) {
	t.Helper()
	if err := ch.Push(target, v); err != nil {
		t.Fatalf("push %v to %d: %v", v, target, err)
	}
	if err := a.Release(); err != nil {
		t.Fatalf("release after pushing %v to %d: %v", v, target, err)
	}
}

// pushValues pushes the values from..to-1 to target on ch, failing the test
// on any error.
func pushValues(t testing.TB, ch *process.Channel[uint64], target int, from, to uint64) {
	t.Helper()
	for v := from; v < to; v++ {
		if err := ch.Push(target, v); err != nil {
			t.Fatalf("push %d to %d: %v", v, target, err)
		}
	}
}

// eachPulled pulls every message p holds and hands it to f, which owns it,
// stopping at the first error.
func eachPulled[T any](p *process.Puller[T], f func(process.Message[T]) error) error {
	for {
		m, ok, err := p.Pull()
		if err != nil || !ok {
			return err
		}
		if err := f(m); err != nil {
			return err
		}
	}
}

// closeAndDrain closes a's sending side and then receives with recv until
// a is Finished, parking between rounds, as a worker loop ends.
func closeAndDrain(a *process.Allocator, recv func() error) error {
	if err := a.Close(context.Background()); err != nil {
		return err
	}
	for !a.Finished() {
		if err := recv(); err != nil {
			return err
		}
		if err := a.AwaitEvents(-1); err != nil {
			return err
		}
	}
	return nil
}

// streamViews returns the views of a's buffers that its open eager streams
// hold, one per peer it streams to.
func streamViews(a *process.Allocator) int64 {
	n := int64(0)
	for _, p := range a.Stats().Peers {
		if p.Streaming {
			n++
		}
	}
	return n
}

// waitAsleep returns once a's worker has parked more than before times, so
// that a wake sent now reaches a sleeping worker, not a running one.
func waitAsleep(a *process.Allocator, before uint64) {
	for process.Sleeps(a) <= before {
		time.Sleep(50 * time.Microsecond)
	}
}

// frame returns the bytes of one frame: h with its Length set to
// len(payload), then payload.
func frame(h header.Header, payload []byte) []byte {
	h.Length = uint64(len(payload))
	return append(h.Append(nil), payload...)
}

// injector writes raw bytes into slab buffers and pushes views of them into
// a worker's ring as if a producer had published them.
type injector struct {
	t *testing.T
	w *slab.Writer
}

// newInjector returns an injector whose heap-backed writer is closed when the
// test ends.
func newInjector(t *testing.T) *injector {
	t.Helper()
	w, err := slab.NewWriter(slab.Config{BufferSize: 4096, Refill: slab.Heap{}})
	if err != nil {
		t.Fatalf("slab.NewWriter: %v", err)
	}
	t.Cleanup(w.Close)
	return &injector{t: t, w: w}
}

// view returns a view of a copy of b in the injector's slab.
func (in *injector) view(b []byte) slab.View {
	in.t.Helper()
	buf, err := in.w.Reserve(len(b))
	if err != nil {
		in.t.Fatalf("Reserve(%d): %v", len(b), err)
	}
	copy(buf, b)
	in.w.Commit(len(b))
	v, ok := in.w.Extract()
	if !ok {
		in.t.Fatalf("Extract of %d bytes: nothing", len(b))
	}
	return v
}

// push pushes a view of b into the ring of target's worker, as producer.
func (in *injector) push(target *process.Allocator, producer int, b []byte) {
	in.t.Helper()
	v := in.view(b)
	if err := process.RingOf(target, target.Index()).Push(producer, v); err != nil {
		_ = v.Release()
		in.t.Fatalf("ring push: %v", err)
	}
}

// outstanding returns the number of live views of the injector's buffers.
func (in *injector) outstanding() int64 { return in.w.Stats().OutstandingViews }

// takeAll receives, pulls and releases everything waiting for p, drains the
// events list, and returns how many messages it took. It reports failures
// as errors, so worker goroutines can call it.
func takeAll[T any](a *process.Allocator, p *process.Puller[T]) (int, error) {
	if err := a.Receive(); err != nil {
		return 0, err
	}
	n := 0
	for {
		m, ok, err := p.Pull()
		if err != nil {
			return n, err
		}
		if !ok {
			a.DrainEvents(nil)
			return n, nil
		}
		n++
		if err := m.Release(); err != nil {
			return n, err
		}
	}
}
