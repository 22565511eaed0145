package ring_test

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/zcomm-go/zcomm/buzzer"
	"github.com/zcomm-go/zcomm/ring"
)

// scaled returns full, divided by 10 under -short, and by 40 under -short
// with the race detector, which slows these tests several times over. Without
// -short the sizes are full, with the race detector or without.
func scaled(full int) int {
	if testing.Short() {
		full /= 10
		if raceEnabled {
			full /= 4
		}
	}
	return full
}

// maxRecord is the longest stress record; lengths cycle 0..maxRecord.
const maxRecord = 200

// mix64 is SplitMix64's finaliser: every output bit depends on every input
// bit, so a record's bytes change with its producer, sequence and position.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// recordByte is byte k of the record with sequence seq from producer p.
func recordByte(p, seq, k int) byte {
	w := mix64(uint64(p)<<56 ^ uint64(seq)<<8 ^ uint64(k/8))
	return byte(w >> (8 * (k % 8)))
}

// makeRecord returns the record with sequence seq from producer p. It is
// seq%(maxRecord+1) bytes long; from 16 bytes on, it starts with p and seq as
// big-endian u64s, and every other byte is recordByte.
func makeRecord(p, seq int) []byte {
	b := make([]byte, seq%(maxRecord+1))
	for k := range b {
		b[k] = recordByte(p, seq, k)
	}
	if len(b) >= 16 {
		binary.BigEndian.PutUint64(b[0:], uint64(p))
		binary.BigEndian.PutUint64(b[8:], uint64(seq))
	}
	return b
}

// checkRecord reports whether b is exactly the record with sequence seq from
// producer p.
func checkRecord(b []byte, p, seq int) bool {
	if len(b) != seq%(maxRecord+1) {
		return false
	}
	k := 0
	if len(b) >= 16 {
		if binary.BigEndian.Uint64(b[0:]) != uint64(p) ||
			binary.BigEndian.Uint64(b[8:]) != uint64(seq) {
			return false
		}
		k = 16
	}
	for ; k < len(b); k++ {
		if b[k] != recordByte(p, seq, k) {
			return false
		}
	}
	return true
}

// pushRetry pushes v, yielding and retrying while the ring is full. It
// returns nil once the ring took v, the push error otherwise, or nil without
// pushing if abort is set.
func pushRetry[T any](r *ring.Ring[T], p int, v T, abort *atomic.Bool) error {
	for {
		err := r.Push(p, v)
		if !errors.Is(err, ring.ErrFull) {
			return err
		}
		if abort.Load() {
			return nil
		}
		runtime.Gosched()
	}
}

// TestStress runs three producers that push variable-length records into one
// ring while the consumer checks that every record arrives exactly once, in
// order per producer, with every byte intact.
func TestStress(t *testing.T) {
	const producers = 3
	perProducer := scaled(1_000_000)
	tests := []struct {
		name  string
		slots int
		start uint64
		count int
	}{
		{"64 slots", 64, 0, perProducer},
		{"4 slots across the wrap", 4, math.MaxUint64 - 2*1000, perProducer / 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stress(t, tc.slots, tc.start, producers, tc.count)
		})
	}
}

// stress runs producers goroutines that each push count records into a ring
// of slots slots starting at position start, and a consumer that checks them.
func stress(t *testing.T, slots int, start uint64, producers, count int) {
	r := mustNewAt[[]byte](t, slots, start)
	var abort atomic.Bool
	var fns []func()
	for p := 0; p < producers; p++ {
		fns = append(fns, func() {
			for seq := 0; seq < count && !abort.Load(); seq++ {
				if err := pushRetry(r, p, makeRecord(p, seq), &abort); err != nil {
					t.Errorf("producer %d: Push %d: %v", p, seq, err)
					abort.Store(true)
					return
				}
			}
		})
	}
	next := make([]int, producers)
	fns = append(fns, func() {
		dst := make([]ring.Entry[[]byte], 0, r.Cap())
		for got := 0; got < producers*count && !abort.Load(); {
			dst = r.Drain(dst[:0])
			if len(dst) == 0 {
				runtime.Gosched()
				continue
			}
			for _, e := range dst {
				p := e.Producer
				if p < 0 || p >= producers {
					t.Errorf("entry %d from unknown producer %d", got, p)
					abort.Store(true)
					return
				}
				if !checkRecord(e.Value, p, next[p]) {
					t.Errorf("producer %d: record %d is wrong (a loss, a duplicate, "+
						"reordering or a torn write): %d bytes %x",
						p, next[p], len(e.Value), e.Value[:min(len(e.Value), 32)])
					abort.Store(true)
					return
				}
				next[p]++
				got++
			}
		}
	})
	startWatchdog(t).run(fns...)
	if t.Failed() {
		return
	}
	for p, n := range next {
		if n != count {
			t.Errorf("producer %d: received %d records, want %d", p, n, count)
		}
	}
	if r.Len() != 0 || r.Ready() {
		t.Errorf("after the run: Len %d Ready %t", r.Len(), r.Ready())
	}
	for i, v := range ring.SlotValues(r) {
		if v != nil {
			t.Errorf("after the run: slot %d still holds %d bytes", i, len(v))
		}
	}
}

// TestBuzzerHandoff runs a producer against a consumer that sleeps on a
// buzzer whenever its two-slot ring is empty. It checks that no wake-up is
// lost: the consumer receives every record and the test finishes. The
// buzzer spins before it parks where the consumer has a core to itself,
// which may catch every wake, so one case turns spinning off to make sure
// the consumer really parks.
func TestBuzzerHandoff(t *testing.T) {
	count := scaled(1_000_000)
	for _, tc := range []struct {
		name string
		cfg  buzzer.Config
		div  int // every futex sleep and wake is a system call: fewer records
	}{
		{"auto", buzzer.Config{Mode: buzzer.Auto, Sleepers: 1}, 1},
		{"goroutine-no-spin", buzzer.Config{Mode: buzzer.Goroutine, Spin: -1}, 1},
		{"futex", buzzer.Config{Mode: buzzer.Futex, Sleepers: 1}, 10},
		{"futex-no-spin", buzzer.Config{Mode: buzzer.Futex, Spin: -1}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			count := count / tc.div
			r := mustNew[int](t, 2)
			b := buzzer.New(tc.cfg)
			var abort atomic.Bool
			producer := func() {
				for i := 0; i < count && !abort.Load(); i++ {
					if err := pushRetry(r, 0, i, &abort); err != nil {
						t.Errorf("Push %d: %v", i, err)
						abort.Store(true)
						b.Wake()
						return
					}
					b.Wake()
					if i%1000 == 999 {
						// Pause so that the consumer finds the ring empty and
						// goes to sleep.
						for j := 0; j < 100; j++ {
							runtime.Gosched()
						}
					}
				}
			}
			consumer := func() {
				dst := make([]ring.Entry[int], 0, r.Cap())
				for next := 0; next < count && !abort.Load(); {
					if dst = r.Drain(dst[:0]); len(dst) > 0 {
						for _, e := range dst {
							if e.Value != next {
								t.Errorf("received %d, want %d", e.Value, next)
								abort.Store(true)
								return
							}
							next++
						}
						continue
					}
					b.Prepare()
					if r.Ready() || abort.Load() {
						b.Cancel()
						continue
					}
					b.Sleep(-1)
				}
			}
			startWatchdog(t).run(producer, consumer)
			s := b.Stats()
			t.Logf("%d records; buzzer %v: %d sleeps, %d wake-ups, %d signals",
				count, b.Mode(), s.Sleeps, s.Wakeups, s.Signals)
		})
	}
}

// TestCloseRace closes the ring at a random moment while producers push and
// the consumer drains, and sometimes poisons it too. Every record must end up
// exactly once as drained, handed back by Close, or refused.
func TestCloseRace(t *testing.T) {
	rounds := 1000
	if testing.Short() {
		rounds = 100
	}
	seed := rand.Uint64()
	t.Logf("seed %#x", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	wd := startWatchdog(t)
	var total fates
	for round := 0; round < rounds && !t.Failed(); round++ {
		f := closeRound(t, wd, rng, round)
		total.drained += f.drained
		total.handedBack += f.handedBack
		total.refused += f.refused
		if f.poisoned {
			total.poisonedRounds++
		}
	}
	t.Logf("%d rounds: %d records drained, %d handed back, %d refused; %d rounds poisoned",
		rounds, total.drained, total.handedBack, total.refused, total.poisonedRounds)
}

// fates counts what became of the records of close rounds.
type fates struct {
	drained, handedBack, refused int
	poisoned                     bool
	poisonedRounds               int
}

// record is a closeRound record: producer p's record number seq.
type record struct{ p, seq int }

// closeRound runs one round of TestCloseRace with sizes and timing drawn
// from rng, checks the fate of every record and returns the counts.
func closeRound(t *testing.T, wd *watchdog, rng *rand.Rand, round int) fates {
	slots := 2 << rng.IntN(4)
	producers := 1 + rng.IntN(3)
	count := 20 + rng.IntN(300)
	start := uint64(0)
	if rng.IntN(2) == 0 {
		start = rng.Uint64()
	}
	poisoner := -1 // the producer that poisons the ring, if any
	if rng.IntN(4) == 0 {
		poisoner = rng.IntN(producers)
	}
	r := mustNewAt[record](t, slots, start)

	// accepted[p] counts the pushes the ring took; firstRefused[p] is the
	// first record it refused (count if none); refused[p] counts refusals.
	accepted := make([]int, producers)
	firstRefused := make([]int, producers)
	refused := make([]int, producers)
	var abort atomic.Bool
	var fns []func()
	for p := 0; p < producers; p++ {
		prng := rand.New(rand.NewPCG(rng.Uint64(), uint64(p)))
		poisonAt := -1
		if p == poisoner {
			poisonAt = prng.IntN(count)
		}
		fns = append(fns, func() {
			for i := prng.IntN(20); i > 0; i-- {
				runtime.Gosched()
			}
			firstRefused[p] = count
			poisoned := false
			for seq := 0; seq < count; seq++ {
				if seq == poisonAt {
					r.Poison()
					poisoned = true
				}
				err := pushRetry(r, p, record{p, seq}, &abort)
				switch {
				case err == nil && abort.Load():
					return
				case err == nil && refused[p] > 0:
					t.Errorf("round %d: producer %d: record %d accepted after "+
						"record %d was refused", round, p, seq, firstRefused[p])
					return
				case err == nil:
					accepted[p]++
				case errors.Is(err, ring.ErrPoisoned),
					errors.Is(err, ring.ErrClosed) && !poisoned:
					if refused[p] == 0 {
						firstRefused[p] = seq
					}
					refused[p]++
				default:
					t.Errorf("round %d: producer %d: Push %d: %v (poisoned %t)",
						round, p, seq, err, poisoned)
					abort.Store(true)
					return
				}
				if prng.IntN(8) == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	var drained, handedBack []ring.Entry[record]
	fns = append(fns, func() {
		crng := rand.New(rand.NewPCG(rng.Uint64(), 99))
		for i := crng.IntN(count / 2); i > 0; i-- {
			drained = r.Drain(drained)
			runtime.Gosched()
		}
		handedBack = r.Close(nil)
		if !r.Closed() || r.Len() != 0 {
			t.Errorf("round %d: after Close: Closed %t Len %d", round, r.Closed(), r.Len())
		}
	})
	wd.run(fns...)
	if t.Failed() {
		return fates{}
	}

	// Drained entries, then handed-back ones, must give each producer's
	// accepted records in order, each once.
	next := make([]int, producers)
	for _, part := range []struct {
		name    string
		entries []ring.Entry[record]
	}{{"drained", drained}, {"handed back", handedBack}} {
		for _, e := range part.entries {
			p := e.Value.p
			if e.Producer != p || p < 0 || p >= producers {
				t.Fatalf("round %d: %s entry %+v has the wrong producer", round, part.name, e)
			}
			if e.Value.seq != next[p] {
				t.Fatalf("round %d: %s record %d of producer %d, want %d "+
					"(lost, duplicated or reordered)",
					round, part.name, e.Value.seq, p, next[p])
			}
			next[p]++
		}
	}
	for p := 0; p < producers; p++ {
		if next[p] != accepted[p] || firstRefused[p] != accepted[p] ||
			accepted[p]+refused[p] != count {
			t.Fatalf("round %d: producer %d: %d accepted, %d received, first refused %d, "+
				"%d refused, of %d", round, p, accepted[p], next[p], firstRefused[p],
				refused[p], count)
		}
	}
	if err := r.Push(0, record{}); err == nil {
		t.Fatalf("round %d: Push after Close succeeded", round)
	}
	f := fates{drained: len(drained), handedBack: len(handedBack), poisoned: poisoner >= 0}
	for _, n := range refused {
		f.refused += n
	}
	return f
}
