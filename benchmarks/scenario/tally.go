package scenario

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// TagSize is the smallest payload a scenario sends: every payload starts
// with an 8-byte tag naming its sender and its index.
const TagSize = 8

// tag returns the tag of message i of worker sender.
func tag(sender, i int) uint64 { return uint64(sender)<<32 | uint64(uint32(i)) }

// putTag writes the tag of message i of worker sender into the first
// TagSize bytes of p.
func putTag(p []byte, sender, i int) { binary.LittleEndian.PutUint64(p, tag(sender, i)) }

// Tally is what one worker received. Only that worker touches it while a
// run lasts.
type Tally struct {
	// Count is the number of messages received.
	Count int
	// Sum adds up their tags, so that every payload is read.
	Sum uint64
	// seen[s][i] counts receptions of message i of worker s; nil unless the
	// run is checked.
	seen [][]uint8
}

// newTallies returns one tally per worker, ready to record every one of n
// messages per sender when check is set.
func newTallies(workers, n int, check bool) []Tally {
	ts := make([]Tally, workers)
	if check {
		for w := range ts {
			ts[w].seen = make([][]uint8, workers)
			for s := range ts[w].seen {
				ts[w].seen[s] = make([]uint8, n)
			}
		}
	}
	return ts
}

// add records one received payload.
func (t *Tally) add(p []byte) { t.addTag(binary.LittleEndian.Uint64(p)) }

// addTag records one received message by its tag.
func (t *Tally) addTag(tag uint64) {
	t.Count++
	t.Sum += tag
	if t.seen != nil {
		if s, i := tag>>32, uint64(uint32(tag)); s < uint64(len(t.seen)) &&
			i < uint64(len(t.seen[s])) {
			t.seen[s][i]++
		}
	}
}

// Expected returns how many messages worker w receives in an all-to-all
// exchange among workers workers that each send n messages, message i to
// worker i%workers.
func Expected(w, workers, n int) int { return workers * ((n - w + workers - 1) / workers) }

// VerifyAllToAll checks the tallies of an all-to-all run of n messages per
// worker: every worker received as many messages as Expected says, and, if
// the run was checked, message i of every sender exactly once at worker
// i%len(ts) and nowhere else.
func VerifyAllToAll(ts []Tally, n int) error {
	return verify(ts, func(w int) int { return Expected(w, len(ts), n) },
		func(w, s, i int) bool { return i%len(ts) == w })
}

// VerifyPingPong checks the tallies of a ping-pong run of n round trips:
// each of the two workers received n messages and, if the run was checked,
// round trip i of the other worker exactly once.
func VerifyPingPong(ts []Tally, n int) error {
	if len(ts) != 2 {
		return fmt.Errorf("scenario: %d tallies from a ping-pong run, want 2", len(ts))
	}
	return verify(ts, func(int) int { return n }, func(w, s, i int) bool { return s != w })
}

// verify checks that worker w received count(w) messages and, in a checked
// run, message i of worker s once when wanted(w, s, i) holds and never
// otherwise.
func verify(ts []Tally, count func(w int) int, wanted func(w, s, i int) bool) error {
	var errs []error
	for w := range ts {
		if want := count(w); ts[w].Count != want {
			errs = append(errs, fmt.Errorf("worker %d received %d messages, want %d",
				w, ts[w].Count, want))
		}
		for s, seen := range ts[w].seen {
			bad := 0
			for i, c := range seen {
				want := uint8(0)
				if wanted(w, s, i) {
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
