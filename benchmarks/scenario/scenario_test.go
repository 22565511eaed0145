package scenario

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sizes are the payload sizes the exactly-once tests run with.
var sizes = []int{TagSize, 64, 1 << 10, 64 << 10}

// smallN returns the message count of a checked run: enough to cross
// several publication points and, for large payloads, to fill several
// slabs.
func smallN(size int) int {
	n := 2000
	if size >= 64<<10 {
		n = 100
	}
	if testing.Short() {
		n /= 4
	}
	return n
}

// TestAllToAllExactlyOnce runs every all-to-all body with a small count,
// for several sizes and worker counts, and checks that each message was
// received exactly once, by the worker it was sent to.
func TestAllToAllExactlyOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 3} {
		for _, size := range sizes {
			for _, p := range AllToAllPeers {
				t.Run(fmt.Sprintf("%dw/%dB/%s", workers, size, p.Name), func(t *testing.T) {
					n := smallN(size)
					readied := false
					res, err := p.Run(AllToAll{Workers: workers, Size: size, Messages: n,
						Check: true, Ready: func() { readied = true }})
					if err != nil {
						t.Fatal(err)
					}
					if err := VerifyAllToAll(res.Tallies, n); err != nil {
						t.Error(err)
					}
					if !readied {
						t.Error("Ready was not called")
					}
					if res.Messages != workers*n || res.Bytes != int64(workers*n*size) ||
						res.Elapsed <= 0 {
						t.Errorf("result %d messages, %d bytes in %v; want %d and %d in some time",
							res.Messages, res.Bytes, res.Elapsed, workers*n, workers*n*size)
					}
				})
			}
		}
	}
}

// TestPingPongExactlyOnce runs every ping-pong body with a small count and
// checks that each round trip's message reached the other worker exactly
// once, and that every round trip was timed, with the workers' threads
// pinned and not.
func TestPingPongExactlyOnce(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 50
	}
	for _, pin := range []bool{false, true} {
		for _, p := range PingPongPeers {
			t.Run(fmt.Sprintf("%s/pin=%t", p.Name, pin), func(t *testing.T) {
				h := NewLatencyHistogram()
				res, err := p.Run(PingPong{RoundTrips: n, Latency: h, Check: true, Pin: pin})
				if err != nil {
					t.Fatal(err)
				}
				if err := VerifyPingPong(res.Tallies, n); err != nil {
					t.Error(err)
				}
				if h.TotalCount() != int64(n) || h.ValueAtQuantile(50) < 1 {
					t.Errorf("histogram holds %d round trips, median %d ns; want %d, positive",
						h.TotalCount(), h.ValueAtQuantile(50), n)
				}
				if res.Messages != 2*n {
					t.Errorf("result counts %d messages, want %d", res.Messages, 2*n)
				}
			})
		}
	}
}

// TestVerifyCatchesMistakes checks that the verifiers notice a missing, a
// repeated and a misrouted message.
func TestVerifyCatchesMistakes(t *testing.T) {
	const n = 4
	good := func() []Tally {
		ts := newTallies(2, n, true)
		for s := 0; s < 2; s++ {
			for i := 0; i < n; i++ {
				ts[i%2].addTag(tag(s, i))
			}
		}
		return ts
	}
	if err := VerifyAllToAll(good(), n); err != nil {
		t.Fatalf("a correct exchange failed: %v", err)
	}
	for name, spoil := range map[string]func(ts []Tally){
		"missing":   func(ts []Tally) { ts[0].Count--; ts[0].seen[1][2] = 0 },
		"repeated":  func(ts []Tally) { ts[1].addTag(tag(0, 1)) },
		"misrouted": func(ts []Tally) { ts[0].seen[0][0], ts[0].seen[0][1] = 0, 1 },
	} {
		ts := good()
		spoil(ts)
		if err := VerifyAllToAll(ts, n); err == nil {
			t.Errorf("%s: VerifyAllToAll passed", name)
		}
	}
	if err := VerifyPingPong(newTallies(3, n, false), n); err == nil {
		t.Error("VerifyPingPong passed three tallies")
	}
}

// TestExpected checks the count of messages each worker should receive.
func TestExpected(t *testing.T) {
	for workers := 1; workers <= 4; workers++ {
		for n := 1; n < 10; n++ {
			total := 0
			for w := 0; w < workers; w++ {
				per := 0
				for i := 0; i < n; i++ {
					if i%workers == w {
						per++
					}
				}
				if got := Expected(w, workers, n); got != workers*per {
					t.Errorf("Expected(%d, %d, %d) = %d, want %d", w, workers, n, got,
						workers*per)
				}
				total += Expected(w, workers, n)
			}
			if total != workers*n {
				t.Errorf("%d workers, n=%d: %d messages received in all, want %d",
					workers, n, total, workers*n)
			}
		}
	}
}

// TestBadConfigs checks that every body refuses a config it cannot run.
func TestBadConfigs(t *testing.T) {
	for _, c := range []AllToAll{
		{Workers: 0, Size: 64, Messages: 1},
		{Workers: 2, Size: TagSize - 1, Messages: 1},
		{Workers: 2, Size: 64, Messages: 0},
	} {
		for _, p := range AllToAllPeers {
			if _, err := p.Run(c); err == nil || !strings.Contains(err.Error(), "want") {
				t.Errorf("%s(%+v) = %v, want an error", p.Name, c, err)
			}
		}
	}
	for _, p := range PingPongPeers {
		if _, err := p.Run(PingPong{}); err == nil {
			t.Errorf("%s with no round trips succeeded", p.Name)
		}
	}
	for _, c := range [][2]int{{0, 1}, {SlabSize + 1, 1}, {64, 0}} {
		if _, err := Memmove(c[0], c[1], nil); err == nil {
			t.Errorf("Memmove(%d, %d) succeeded", c[0], c[1])
		}
	}
	if _, err := MeasureIdle(context.Background(), Idle{Workers: 1}); err == nil {
		t.Error("MeasureIdle with no windows succeeded")
	}
}

// TestMallocs checks that a run asked to count allocations counts the
// buffers its pool makes.
func TestMallocs(t *testing.T) {
	res, err := ChanPerMsgAllToAll(AllToAll{Workers: 2, Size: 64, Messages: 100,
		CountMallocs: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mallocs == 0 {
		t.Error("no allocations counted, though the pool must make a buffer")
	}
}

// TestMemmove checks Memmove's accounting, and that it wraps around the end
// of its buffers.
func TestMemmove(t *testing.T) {
	res, err := Memmove(1000, 3*SlabSize/1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 3*SlabSize/1000 || res.Bytes != int64(res.Messages)*1000 {
		t.Errorf("Memmove counted %d chunks and %d bytes", res.Messages, res.Bytes)
	}
}

// TestCalibrate checks that Calibrate scales a count to the target, stays
// within its bounds and passes on a probe's error.
func TestCalibrate(t *testing.T) {
	perItem := time.Microsecond
	linear := func(n int) (time.Duration, error) { return time.Duration(n) * perItem, nil }
	n, err := Calibrate(100*time.Millisecond, 10, 1<<30, linear)
	if err != nil || n != 100000 {
		t.Errorf("Calibrate = %d, %v; want 100000", n, err)
	}
	if n, _ := Calibrate(100*time.Millisecond, 10, 5000, linear); n != 5000 {
		t.Errorf("Calibrate with a ceiling of 5000 = %d", n)
	}
	free := func(int) (time.Duration, error) { return 0, nil }
	if n, _ := Calibrate(time.Second, 1, 1<<20, free); n != 1<<20 {
		t.Errorf("Calibrate of a probe that takes no time = %d, want the ceiling", n)
	}
	boom := errors.New("boom")
	fail := func(int) (time.Duration, error) { return 0, boom }
	if _, err := Calibrate(time.Second, 1, 10, fail); !errors.Is(err, boom) {
		t.Errorf("Calibrate of a failing probe = %v", err)
	}
	if _, err := Calibrate(0, 1, 10, linear); err == nil {
		t.Error("Calibrate to no time succeeded")
	}
}

// TestMeasureIdle parks a few workers for two short windows. It asserts
// nothing about the CPU used, which depends on the machine.
func TestMeasureIdle(t *testing.T) {
	if _, err := CPUTime(); errors.Is(err, ErrNoCPUTime) {
		t.Skip(err)
	}
	calls := 0
	res, err := MeasureIdle(context.Background(), Idle{Workers: 3, Window: 20 * time.Millisecond,
		Windows: 2, AfterWindow: func(int) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Windows) != 2 || calls != 2 {
		t.Fatalf("%d windows measured, %d reported; want 2", len(res.Windows), calls)
	}
	for _, w := range res.Windows {
		if w.Wall < 20*time.Millisecond || w.CPU < 0 || w.Percent() < 0 {
			t.Errorf("window %+v", w)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err := MeasureIdle(ctx, Idle{Workers: 2, Window: time.Minute, Windows: 1}); err == nil {
		t.Error("MeasureIdle went on after its context ended")
	}
}

// TestPingPongOneProcessor runs the spinning ping-pongs with GOMAXPROCS 1,
// where a spinner must yield for its peer to run at all.
func TestPingPongOneProcessor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, f := range []PingPongFunc{AtomicPingPong, ZcommPingPong(false)} {
		res, err := f(PingPong{RoundTrips: 100, Check: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyPingPong(res.Tallies, 100); err != nil {
			t.Error(err)
		}
	}
}

// TestSpinnerAborts checks that a spinner gives up once abort is set, and
// only then.
func TestSpinnerAborts(t *testing.T) {
	var abort atomic.Bool
	sp := newSpinner()
	for range 2 * spinCheck {
		if err := sp.failed(&abort); err != nil {
			t.Fatalf("spinner failed without abort: %v", err)
		}
	}
	abort.Store(true)
	var err error
	for i := 0; i < spinCheck && err == nil; i++ {
		err = sp.failed(&abort)
	}
	if !errors.Is(err, errAborted) {
		t.Errorf("spinner after abort = %v, want errAborted", err)
	}
}
