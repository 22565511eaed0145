package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// peers is the number of workers in every benchmark.
const peers = 2

// batchLen is the number of pushes a worker makes between two Releases (and
// two receives). In batched mode it is what one publication carries, less
// when a slab fills first.
const batchLen = 64

// slabSize is the size of the buffers zcomm writes into, and so the most
// bytes one batched publication holds.
const slabSize = 1 << 20

// awaitTimeout bounds one park at the end of a run, while a worker waits for
// the last messages; a wake-up normally ends it much sooner.
const awaitTimeout = 10 * time.Millisecond

// sizes are the payload sizes every benchmark runs with.
var sizes = []struct {
	name string
	n    int
}{
	{"8B", 8},
	{"64B", 64},
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// errAborted is what a worker returns when it stops because its peer failed.
var errAborted = errors.New("e2e: stopped because a peer failed")

// putTag writes the tag of message i of worker sender into the first 8
// bytes of p, which every payload has.
func putTag(p []byte, sender, i int) {
	binary.LittleEndian.PutUint64(p, uint64(sender)<<32|uint64(uint32(i)))
}

// tally is what one worker received. Only that worker touches it.
type tally struct {
	count int
	sum   uint64 // of the tags, so that every payload is read
	// seen[s][i] counts receptions of message i of worker s; nil unless the
	// run is checked.
	seen [][]uint8
}

// newTallies returns one tally per worker, ready to record every message of
// n per sender when check is set.
func newTallies(n int, check bool) []tally {
	ts := make([]tally, peers)
	if check {
		for w := range ts {
			ts[w].seen = make([][]uint8, peers)
			for s := range ts[w].seen {
				ts[w].seen[s] = make([]uint8, n)
			}
		}
	}
	return ts
}

// add records one received payload.
func (t *tally) add(p []byte) {
	tag := binary.LittleEndian.Uint64(p)
	t.count++
	t.sum += tag
	if t.seen != nil {
		if s, i := tag>>32, uint64(uint32(tag)); s < uint64(len(t.seen)) &&
			i < uint64(len(t.seen[s])) {
			t.seen[s][i]++
		}
	}
}

// expected returns how many messages worker w receives in an all-to-all run
// where every worker sends message i to worker i%peers.
func expected(w, n int) int { return peers * ((n - w + peers - 1) / peers) }

// verify checks a checked all-to-all run: worker w received message i of
// every sender exactly once when i%peers == w, and never otherwise.
func verify(ts []tally, n int) error {
	var errs []error
	for w := range ts {
		if got, want := ts[w].count, expected(w, n); got != want {
			errs = append(errs, fmt.Errorf("worker %d received %d messages, want %d",
				w, got, want))
		}
		for s, seen := range ts[w].seen {
			bad := 0
			for i, c := range seen {
				want := uint8(0)
				if i%peers == w {
					want = 1
				}
				if c != want {
					if bad < 3 {
						errs = append(errs, fmt.Errorf(
							"worker %d received message %d of worker %d %d times, want %d",
							w, i, s, c, want))
					}
					bad++
				}
			}
			if bad > 3 {
				errs = append(errs, fmt.Errorf("worker %d: %d more wrong counts from worker %d",
					w, bad-3, s))
			}
		}
	}
	return errors.Join(errs...)
}

// runWorkers runs fn for workers 0 and 1 on goroutines of their own and
// waits for both. The first to fail sets abort, which the other's waiting
// loops watch, and calls onFail (if any) so that the peer's calls fail too.
func runWorkers(fn func(w int, abort *atomic.Bool) error, onFail func(w int, err error)) error {
	var abort atomic.Bool
	errs := make([]error, peers)
	var wg sync.WaitGroup
	for w := 0; w < peers; w++ {
		wg.Go(func() {
			if err := fn(w, &abort); err != nil {
				errs[w] = fmt.Errorf("worker %d: %w", w, err)
				abort.Store(true)
				if onFail != nil {
					onFail(w, err)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
