package process_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/buzzer"
	"github.com/zcomm-go/zcomm/process"
)

// TestAwaitEvents checks each way AwaitEvents returns: at once with events
// pending, and otherwise only when a peer's push lands, a peer closes, the
// group is poisoned, or the timeout passes. In the cases that need a peer,
// the peer acts only once the worker is parked, so that the wake-up reaches
// a sleeper.
func TestAwaitEvents(t *testing.T) {
	watchdog(t)
	cause := errors.New("peer gave up")
	cases := []struct {
		name string
		peer func(chs []*process.Channel[uint64], peer *process.Allocator) error
		// check inspects the worker after AwaitEvents returned err.
		check func(t *testing.T, a *process.Allocator, ch *process.Channel[uint64], err error)
	}{{
		name: "push",
		peer: func(chs []*process.Channel[uint64], _ *process.Allocator) error {
			return chs[1].Push(0, 77)
		},
		check: func(t *testing.T, a *process.Allocator, ch *process.Channel[uint64], err error) {
			if err != nil {
				t.Fatalf("AwaitEvents: %v", err)
			}
			ms := receiveAll(t, a, ch.Puller)
			if got := values(ms); len(got) != 1 || got[0] != 77 {
				t.Errorf("received %v, want [77]", got)
			}
			releaseAll(t, ms)
		},
	}, {
		name: "close",
		peer: func(_ []*process.Channel[uint64], peer *process.Allocator) error {
			return peer.Close(context.Background())
		},
		check: func(t *testing.T, a *process.Allocator, _ *process.Channel[uint64], err error) {
			if err != nil {
				t.Fatalf("AwaitEvents: %v", err)
			}
			if a.Finished() {
				t.Errorf("Finished while this worker has not closed")
			}
		},
	}, {
		name: "poison",
		peer: func(_ []*process.Channel[uint64], peer *process.Allocator) error {
			peer.Poison(cause)
			return nil
		},
		check: func(t *testing.T, a *process.Allocator, _ *process.Channel[uint64], err error) {
			var pe *process.PoisonError
			if !errors.Is(err, process.ErrPoisoned) || !errors.Is(err, cause) ||
				!errors.As(err, &pe) || pe.Worker != 1 {
				t.Fatalf("AwaitEvents: %v, want a PoisonError from worker 1", err)
			}
		},
	}}
	for _, tc := range cases {
		for _, mode := range []buzzer.Mode{buzzer.Goroutine, buzzer.Futex} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				as := newGroup(t, 2, process.WithBuzzer(buzzer.Config{Mode: mode}))
				chs := allocate(t, as, 1, process.Uint64{})
				peerErr := make(chan error, 1)
				go func() {
					waitAsleep(as[0], 0)
					peerErr <- tc.peer(chs, as[1])
				}()
				err := as[0].AwaitEvents(-1)
				if perr := <-peerErr; perr != nil {
					t.Fatalf("peer: %v", perr)
				}
				tc.check(t, as[0], chs[0], err)
			})
		}
	}

	t.Run("pending", func(t *testing.T) {
		as := newGroup(t, 2)
		chs := allocate(t, as, 1, process.Uint64{})
		if err := chs[1].Push(0, 1); err != nil {
			t.Fatal(err)
		}
		// Unread pushes alone end the wait...
		if err := as[0].AwaitEvents(-1); err != nil {
			t.Fatal(err)
		}
		if err := as[0].Receive(); err != nil {
			t.Fatal(err)
		}
		// ... and so do events, however often it is called.
		for i := 0; i < 3; i++ {
			if err := as[0].AwaitEvents(-1); err != nil {
				t.Fatal(err)
			}
		}
		if s := process.Sleeps(as[0]); s != 0 {
			t.Errorf("worker parked %d times with work pending", s)
		}
		releaseAll(t, pullAll(t, chs[0].Puller))
	})

	t.Run("timeout", func(t *testing.T) {
		as := newGroup(t, 2)
		const timeout = 20 * time.Millisecond
		for i := 0; i < 3; i++ {
			start := time.Now()
			if err := as[0].AwaitEvents(timeout); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < timeout {
				t.Errorf("AwaitEvents(%v) returned after %v", timeout, d)
			}
		}
	})

	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const peers = 2
		allocs := make(chan *process.Allocator, peers)
		awaitErrs := make([]error, peers)
		err := make(chan error, 1)
		go func() {
			err <- process.Run(ctx, peers, func(a *process.Allocator) error {
				allocs <- a
				for {
					if e := a.AwaitEvents(-1); e != nil {
						awaitErrs[a.Index()] = e
						return e
					}
				}
			})
		}()
		for i := 0; i < peers; i++ {
			waitAsleep(<-allocs, 0)
		}
		cancel()
		runErr := <-err
		for i, e := range append(awaitErrs, runErr) {
			if !errors.Is(e, process.ErrPoisoned) || !errors.Is(e, context.Canceled) {
				t.Errorf("error %d: %v, want ErrPoisoned and context.Canceled", i, e)
			}
		}
		var pe *process.PoisonError
		if !errors.As(runErr, &pe) || pe.Worker != -1 {
			t.Errorf("Run: %v, want a PoisonError from outside the group", runErr)
		}
	})
}

// TestClose checks the end of a run: four producers push their records and
// close; the receiver reads until Finished, which stays false while any
// record is unread, and then it has every record exactly once, each
// producer's in order.
func TestClose(t *testing.T) {
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			watchdog(t)
			const producers = 4
			records := scale(10000, 100)
			total := producers * records
			var got int
			err := process.Run(context.Background(), producers+1,
				func(a *process.Allocator) error {
					ch, err := process.Allocate(a, 1, process.Uint64{})
					if err != nil {
						return err
					}
					if a.Index() < producers {
						for i := 0; i < records; i++ {
							v := uint64(a.Index())<<32 | uint64(i)
							if err := ch.Push(producers, v); err != nil {
								return fmt.Errorf("push %d: %w", i, err)
							}
						}
						return a.Close(context.Background())
					}
					n, err := readUntilFinished(a, ch, producers)
					got = n
					return err
				}, process.WithPublish(mode))
			if err != nil {
				t.Fatal(err)
			}
			if got != total {
				t.Errorf("received %d records, want %d", got, total)
			}
		})
	}
}

// readUntilFinished closes a's sending side and reads ch until a is
// Finished, checking that each producer's records arrive in order and that
// Finished is false while a record is unread. It returns the records read.
func readUntilFinished(a *process.Allocator, ch *process.Channel[uint64],
	producers int) (int, error) {
	if err := a.Close(context.Background()); err != nil {
		return 0, err
	}
	next := make([]uint64, producers)
	n := 0
	var events []uint64
	for !a.Finished() {
		if err := a.Receive(); err != nil {
			return n, err
		}
		for {
			if ch.Puller.Len() > 0 && a.Finished() {
				return n, fmt.Errorf("Finished with %d records unread", ch.Puller.Len())
			}
			m, ok, err := ch.Puller.Pull()
			if err != nil {
				return n, err
			}
			if !ok {
				break
			}
			p, i := int(m.Value>>32), m.Value&(1<<32-1)
			if p >= producers || i != next[p] || m.Header().Source != uint64(p) {
				return n, fmt.Errorf("record %d of producer %d (source %d), want record %d",
					i, p, m.Header().Source, next[min(p, producers-1)])
			}
			next[p]++
			n++
			if err := m.Release(); err != nil {
				return n, err
			}
		}
		events = a.DrainEvents(events[:0])
		if err := a.AwaitEvents(-1); err != nil {
			return n, err
		}
	}
	if err := a.Receive(); err != nil {
		return n, err
	}
	if ch.Puller.Len() != 0 || a.Stats().Queued != 0 {
		return n, fmt.Errorf("records left after Finished")
	}
	return n, nil
}

// TestPoison checks that a failing worker poisons the group: Run reports the
// root cause, every other worker's next call fails with ErrPoisoned, and
// workers parked without a timeout wake. A clean run never poisons.
func TestPoison(t *testing.T) {
	cause := errors.New("worker 0 gave up")
	cases := []struct {
		name string
		fail func(a *process.Allocator) error // run by worker 0 once the others sleep
		// check inspects Run's error.
		check func(t *testing.T, err error)
	}{{
		name: "panic",
		fail: func(*process.Allocator) error { panic("boom") },
		check: func(t *testing.T, err error) {
			var pe *process.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Run: %v, want a *PanicError", err)
			}
			if pe.Worker != 0 || pe.Value != "boom" || len(pe.Stack) == 0 {
				t.Errorf("PanicError: worker %d, value %v, %d bytes of stack",
					pe.Worker, pe.Value, len(pe.Stack))
			}
		},
	}, {
		name: "panic-error",
		fail: func(*process.Allocator) error { panic(cause) },
		check: func(t *testing.T, err error) {
			var pe *process.PanicError
			if !errors.As(err, &pe) || !errors.Is(err, cause) {
				t.Fatalf("Run: %v, want a *PanicError wrapping the cause", err)
			}
		},
	}, {
		name: "Poison",
		fail: func(a *process.Allocator) error {
			a.Poison(cause)
			a.Poison(errors.New("a later cause, ignored"))
			if err := a.Receive(); !errors.Is(err, process.ErrPoisoned) ||
				!errors.Is(err, cause) {
				return fmt.Errorf("Receive after Poison: %v", err)
			}
			return nil
		},
		check: func(t *testing.T, err error) {
			var pe *process.PoisonError
			if !errors.Is(err, process.ErrPoisoned) || !errors.Is(err, cause) ||
				!errors.As(err, &pe) || pe.Worker != 0 {
				t.Fatalf("Run: %v, want a PoisonError of worker 0 with the cause", err)
			}
		},
	}, {
		name: "error",
		fail: func(*process.Allocator) error { return cause },
		check: func(t *testing.T, err error) {
			if !errors.Is(err, cause) {
				t.Fatalf("Run: %v, want the cause", err)
			}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			watchdog(t)
			const peers = 3
			parked := make(chan *process.Allocator, peers-1)
			var mu sync.Mutex
			var echoes []error
			err := process.Run(context.Background(), peers, func(a *process.Allocator) error {
				ch, err := process.Allocate(a, 1, process.Uint64{})
				if err != nil {
					return err
				}
				if a.Index() == 0 {
					for i := 1; i < peers; i++ {
						waitAsleep(<-parked, 0)
					}
					return tc.fail(a)
				}
				parked <- a
				werr := a.AwaitEvents(-1)
				errs := []error{werr, a.Receive(), a.Release(), ch.Push(0, 1),
					a.AwaitEvents(time.Hour), a.Close(context.Background())}
				_, _, perr := ch.Puller.Pull()
				_, aerr := process.Allocate(a, 2, process.Uint64{})
				errs = append(errs, perr, aerr)
				mu.Lock()
				echoes = append(echoes, errs...)
				mu.Unlock()
				return werr
			})
			tc.check(t, err)
			if len(echoes) == 0 {
				t.Fatalf("no worker reported")
			}
			for i, e := range echoes {
				if !errors.Is(e, process.ErrPoisoned) {
					t.Errorf("call %d of a peer: %v, want ErrPoisoned", i, e)
				}
			}
		})
	}

	t.Run("clean", func(t *testing.T) {
		watchdog(t)
		const peers = 3
		err := process.Run(context.Background(), peers, func(a *process.Allocator) error {
			ch, err := process.Allocate(a, 1, process.Uint64{})
			if err != nil {
				return err
			}
			for i := 0; i < 100; i++ {
				for to := 0; to < peers; to++ {
					if err := ch.Push(to, uint64(a.Index())<<32|uint64(i)); err != nil {
						return err
					}
				}
			}
			n, err := readUntilFinished(a, ch, peers)
			if err != nil {
				return err
			}
			if n != 100*peers {
				return fmt.Errorf("worker %d read %d records, want %d", a.Index(), n, 100*peers)
			}
			// Finishing poisons nothing: calls still work.
			if err := a.Receive(); err != nil {
				return err
			}
			return a.AwaitEvents(0)
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// errAfterPoison is a context whose Err poisons the group at its first call
// and ends the wait after limit calls, so that a test can poison the group
// at a known point inside Close's wait for room and still end a Close that
// does not notice.
type errAfterPoison struct {
	context.Context
	poison func()
	calls  int
	limit  int
}

func (c *errAfterPoison) Err() error {
	c.calls++
	if c.calls == 1 {
		c.poison()
	}
	if c.calls > c.limit {
		return context.DeadlineExceeded
	}
	return nil
}

// TestClosePoisonedWhileWaiting checks that Close, waiting for room in a
// full ring after another target was found gone, notices that the group was
// poisoned and returns ErrPoisoned instead of waiting on.
func TestClosePoisonedWhileWaiting(t *testing.T) {
	watchdog(t)
	as := newGroup(t, 3, process.WithRingSize(2), process.WithPublish(process.Batched))
	chs := allocate(t, as, 1, process.Uint64{})
	for _, target := range []int{1, 2} {
		for i := uint64(0); i < 3; i++ {
			pushOne(t, chs[0], as[0], target, i)
		}
	}
	if s := as[0].Stats(); s.Peers[1].Backlog == 0 || s.Peers[2].Backlog == 0 {
		t.Fatalf("backlogs %d and %d, want both non-zero", s.Peers[1].Backlog,
			s.Peers[2].Backlog)
	}
	as[2].Shutdown()

	cause := errors.New("worker 1 failed")
	ctx := &errAfterPoison{Context: context.Background(), limit: 1000,
		poison: func() { as[1].Poison(cause) }}
	err := as[0].Close(ctx)
	if ctx.calls == 0 {
		t.Fatalf("Close never waited: %v", err)
	}
	if !errors.Is(err, process.ErrPoisoned) || !errors.Is(err, cause) {
		t.Errorf("Close after poisoning: %v (ctx.Err called %d times), want ErrPoisoned",
			err, ctx.calls)
	}
}

// TestCloseTogether has every worker back up its sends behind full rings and
// then close at the same moment, and go on receiving until Finished, as the
// worker loop does. Each Close waits for room in its peers' rings, so it must
// take in its own ring while it waits, or no worker ever finishes. Every
// message is delivered exactly once, in order. Batched workers fill the
// rings with a publication per message; eager ones, whose messages travel
// by stream, with the stream ends and starts around a broadcast every other
// message, so that Close also has stream ends waiting in backlogs.
func TestCloseTogether(t *testing.T) {
	for _, mode := range []process.Publish{process.Batched, process.Eager} {
		t.Run(mode.String(), func(t *testing.T) { closeTogether(t, mode) })
	}
}

// closeTogether is TestCloseTogether in one publishing mode.
func closeTogether(t *testing.T, mode process.Publish) {
	watchdog(t)
	const peers = 5
	n := scale(2000, 200)
	as := newGroup(t, peers, process.WithRingSize(2), process.WithPublish(mode))
	chs := allocate(t, as, 1, process.Uint64{})
	for w := range as {
		for i := 0; i < n; i++ {
			if mode == process.Eager && i%2 == 0 {
				if err := chs[w].Broadcast(uint64(i)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			for target := range as {
				pushOne(t, chs[w], as[w], target, uint64(i))
			}
		}
		if s := as[w].Stats(); s.Peers[(w+1)%peers].Backlog == 0 {
			t.Fatalf("worker %d has no backlog; the test needs full rings", w)
		}
	}
	fns := make([]func(), peers)
	for w := range as {
		fns[w] = func() {
			a := as[w]
			if err := a.Close(context.Background()); err != nil {
				t.Errorf("worker %d: Close: %v", w, err)
				return
			}
			next := make([]uint64, peers)
			for !a.Finished() {
				if err := a.Receive(); err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				for {
					m, ok, err := chs[w].Puller.Pull()
					if err != nil || !ok {
						break
					}
					if src := m.Header().Source; m.Value != next[src] {
						t.Errorf("worker %d got %d from %d, want %d", w, m.Value, src, next[src])
					} else {
						next[src]++
					}
					_ = m.Release()
				}
				a.DrainEvents(nil)
				_ = a.AwaitEvents(-1)
			}
			for src, got := range next {
				if got != uint64(n) {
					t.Errorf("worker %d received %d messages from %d, want %d", w, got, src, n)
				}
			}
		}
	}
	runConcurrently(t, fns...)
}

// TestRunWorkerReturnsEarly has one worker return at once while its peers
// flood it through a two-slot ring: the peers' closes wait for room in its
// ring, so Run must keep draining that worker's ring after its function has
// returned, until every worker has closed.
func TestRunWorkerReturnsEarly(t *testing.T) {
	watchdog(t)
	n := scale(5000, 500)
	err := process.Run(context.Background(), 3, func(a *process.Allocator) error {
		ch, err := process.Allocate(a, 1, process.Uint64{})
		if err != nil || a.Index() == 0 {
			return err
		}
		for i := 0; i < n; i++ {
			if err := ch.Push(0, uint64(i)); err != nil {
				return err
			}
		}
		return nil
	}, process.WithRingSize(2))
	if err != nil {
		t.Fatal(err)
	}
}
