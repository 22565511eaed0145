package process_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

// payloadOf builds a payload of size bytes (at least 24) that names its
// sender src, its channel index ch and its tag g (the sender's count of
// messages on that channel so far), followed by filler derived from the
// three, so that a receiver can tell where a message came from and whether
// any byte of it changed.
func payloadOf(src, ch int, g uint64, size int) []byte {
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b[0:], uint64(src))
	binary.LittleEndian.PutUint64(b[8:], uint64(ch))
	binary.LittleEndian.PutUint64(b[16:], g)
	x := byte(src*31 + ch*7 + int(g))
	for i := 24; i < size; i++ {
		b[i] = x + byte(i)
	}
	return b
}

// checkPayload verifies a payload built by payloadOf, filler included, and
// returns the sender, channel index and tag it names.
func checkPayload(b []byte) (src, ch int, g uint64, err error) {
	if len(b) < 24 {
		return 0, 0, 0, fmt.Errorf("payload of %d bytes, want at least 24", len(b))
	}
	src = int(binary.LittleEndian.Uint64(b[0:]))
	ch = int(binary.LittleEndian.Uint64(b[8:]))
	g = binary.LittleEndian.Uint64(b[16:])
	x := byte(src*31 + ch*7 + int(g))
	for i := 24; i < len(b); i++ {
		if b[i] != x+byte(i) {
			return src, ch, g, fmt.Errorf("message %d of worker %d on channel index %d: "+
				"byte %d is %#x, want %#x", g, src, ch, i, b[i], x+byte(i))
		}
	}
	return src, ch, g, nil
}

// stressCase is one configuration of the randomized stress.
type stressCase struct {
	name        string
	mode        process.Publish
	peers, ring int
	buf, budget int  // 0: the defaults
	maxSize     int  // the largest payload; most are 24 to 63 bytes
	bcastPct    int  // percent of sends that are broadcasts
	selfPct     int  // percent of pushes that go to the sender itself
	hold        int  // messages a worker holds unreleased at most
	ops         int  // sends per worker
	stagedLate  bool // odd workers allocate the second channel halfway through
	// lockstep marks a budget below a frame: a push to a target waits until
	// the target has released the last one, so the case makes a quarter of
	// the sends to take no longer than the others.
	lockstep bool
}

// sentCounts records, for every sender, channel index and target, how many
// messages the sender handed over and the sum of their tags. A sender adds
// to it before it closes, and a target reads it once it is Finished, which
// happens only after every sender has closed.
type sentCounts struct {
	n, sum [][][]atomic.Uint64 // [src][ch][target]
}

// newSentCounts returns zero counts for peers workers and chans channels.
func newSentCounts(peers, chans int) *sentCounts {
	c := &sentCounts{n: make([][][]atomic.Uint64, peers), sum: make([][][]atomic.Uint64, peers)}
	for i := range peers {
		c.n[i] = make([][]atomic.Uint64, chans)
		c.sum[i] = make([][]atomic.Uint64, chans)
		for j := range chans {
			c.n[i][j] = make([]atomic.Uint64, peers)
			c.sum[i][j] = make([]atomic.Uint64, peers)
		}
	}
	return c
}

// add records one message with tag g from src on channel index ch to target.
func (c *sentCounts) add(src, ch, target int, g uint64) {
	c.n[src][ch][target].Add(1)
	c.sum[src][ch][target].Add(g)
}

// stressWorker runs one worker of the randomized stress, with its random
// choices drawn from seed. It sends c.ops messages of random sizes on two
// channels, pushed to random targets (itself among them) or broadcast,
// receives every so often, holds up to c.hold received messages and
// releases them out of order, and meets backpressure by releasing,
// publishing, receiving and waiting. Then it closes and receives until
// Finished. It checks that messages from each sender arrive in order and
// unchanged, that held messages stay unchanged until released, and at the
// end that it received exactly what every sender sent it, and that nothing
// was dropped or released twice.
func stressWorker(a *process.Allocator, c stressCase, sent *sentCounts, seed uint64) error {
	const chans = 2
	rng := rand.New(rand.NewPCG(seed, uint64(a.Index())))
	me := a.Index()
	chs := make([]*process.Channel[[]byte], chans)
	var err error
	if chs[0], err = process.Allocate(a, 1, process.Bytes{}); err != nil {
		return err
	}
	late := c.stagedLate && me%2 == 1
	if !late {
		if chs[1], err = process.Allocate(a, 2, process.Bytes{}); err != nil {
			return err
		}
	}
	g := make([]uint64, chans)         // the tag of this worker's next message, per channel
	last := make([][]int64, a.Peers()) // the last tag received, per sender and channel
	got := make([][]uint64, a.Peers())
	gotSum := make([][]uint64, a.Peers())
	for p := range last {
		last[p] = []int64{-1, -1}
		got[p] = make([]uint64, chans)
		gotSum[p] = make([]uint64, chans)
	}
	var held []process.Message[[]byte]
	var heldCopy [][]byte // what each held message read when it was pulled

	// releaseSome releases held messages in random order: all of them, or
	// each with a chance of one in three, stopping at the first kept.
	releaseSome := func(all bool) error {
		for len(held) > 0 && (all || rng.IntN(3) == 0) {
			i := rng.IntN(len(held))
			if string(held[i].Value) != string(heldCopy[i]) {
				return fmt.Errorf("worker %d: a held message of %d bytes changed before "+
					"its release", me, len(heldCopy[i]))
			}
			if err := held[i].Release(); err != nil {
				return err
			}
			last := len(held) - 1
			held[i], heldCopy[i] = held[last], heldCopy[last]
			held, heldCopy = held[:last], heldCopy[:last]
		}
		return nil
	}
	// pull takes everything waiting on channel index ci and checks it.
	pull := func(ci int) error {
		ch := chs[ci]
		if ch == nil {
			return nil
		}
		for {
			m, ok, err := ch.Puller.Pull()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			src, mch, mg, err := checkPayload(m.Value)
			if err != nil {
				return fmt.Errorf("worker %d: %w", me, err)
			}
			if mch != ci || src != int(m.Header().Source) {
				return fmt.Errorf("worker %d: a message of worker %d on channel index %d "+
					"arrived on channel index %d from worker %d", me, src, mch, ci,
					m.Header().Source)
			}
			if int64(mg) <= last[src][ci] {
				return fmt.Errorf("worker %d: from worker %d on channel index %d, "+
					"message %d after %d (duplicated or reordered)", me, src, ci, mg,
					last[src][ci])
			}
			last[src][ci] = int64(mg)
			got[src][ci]++
			gotSum[src][ci] += mg
			if len(held) < c.hold && rng.IntN(2) == 0 {
				held = append(held, m)
				heldCopy = append(heldCopy, append([]byte(nil), m.Value...))
				continue
			}
			if err := m.Release(); err != nil {
				return err
			}
		}
	}
	// receive receives, pulls both channels and releases some held messages.
	receive := func() error {
		if err := a.Receive(); err != nil {
			return err
		}
		for ci := range chans {
			if err := pull(ci); err != nil {
				return err
			}
		}
		a.DrainEvents(nil)
		return releaseSome(false)
	}
	// send calls f until it is not refused for backpressure. Between tries
	// the worker gives back everything it holds, publishes what it pushed
	// (its peers may be waiting for it to make room, too) and receives.
	send := func(f func() error) error {
		for {
			err := f()
			if !errors.Is(err, process.ErrBackpressure) {
				return err
			}
			if err := releaseSome(true); err != nil {
				return err
			}
			if err := a.Release(); err != nil {
				return err
			}
			if err := receive(); err != nil {
				return err
			}
			if err := releaseSome(true); err != nil {
				return err
			}
			if err := a.AwaitEvents(200 * time.Microsecond); err != nil {
				return err
			}
		}
	}
	size := func() int {
		if rng.IntN(10) == 0 {
			return 24 + rng.IntN(c.maxSize-24+1)
		}
		return 24 + rng.IntN(40)
	}
	for op := range c.ops {
		if late && op == c.ops/2 {
			if chs[1], err = process.Allocate(a, 2, process.Bytes{}); err != nil {
				return err
			}
		}
		ci := rng.IntN(chans)
		if chs[ci] == nil {
			ci = 0 // this worker has not allocated the second channel yet
		}
		v := payloadOf(me, ci, g[ci], size())
		if rng.IntN(100) < c.bcastPct {
			if err := send(func() error { return chs[ci].Broadcast(v) }); err != nil {
				return fmt.Errorf("worker %d: broadcast: %w", me, err)
			}
			for t := range a.Peers() {
				sent.add(me, ci, t, g[ci])
			}
		} else {
			t := rng.IntN(a.Peers())
			if rng.IntN(100) < c.selfPct {
				t = me
			}
			p := chs[ci].Pushers[t]
			if err := send(func() error { return p.Push(v) }); err != nil {
				return fmt.Errorf("worker %d: push to %d: %w", me, t, err)
			}
			sent.add(me, ci, t, g[ci])
		}
		g[ci]++
		if c.mode == process.Batched && rng.IntN(4) == 0 {
			if err := a.Release(); err != nil {
				return err
			}
		}
		if rng.IntN(4) == 0 {
			if err := receive(); err != nil {
				return err
			}
		}
	}
	if err := releaseSome(true); err != nil {
		return err
	}
	if err := a.Close(context.Background()); err != nil {
		return fmt.Errorf("worker %d: close: %w", me, err)
	}
	for !a.Finished() {
		if err := receive(); err != nil {
			return err
		}
		if err := releaseSome(true); err != nil {
			return err
		}
		if a.Finished() {
			break
		}
		if err := a.AwaitEvents(-1); err != nil {
			return err
		}
	}
	if err := releaseSome(true); err != nil {
		return err
	}
	for src := range a.Peers() {
		for ci := range chans {
			want := sent.n[src][ci][me].Load()
			wantSum := sent.sum[src][ci][me].Load()
			if got[src][ci] != want || gotSum[src][ci] != wantSum {
				return fmt.Errorf("worker %d Finished with %d messages (tags summing to %d) "+
					"from worker %d on channel index %d, want %d (summing to %d)",
					me, got[src][ci], gotSum[src][ci], src, ci, want, wantSum)
			}
		}
	}
	s := a.Stats()
	if s.Slab.OverReleases != 0 || s.Slab.DoubleReleases != 0 {
		return fmt.Errorf("worker %d: %d over-releases, %d double releases", me,
			s.Slab.OverReleases, s.Slab.DoubleReleases)
	}
	if s.Drops != (process.DropStats{}) {
		return fmt.Errorf("worker %d dropped messages: %+v", me, s.Drops)
	}
	for p, ps := range s.Peers {
		if ps.Streaming {
			return fmt.Errorf("worker %d: stream to %d open after Close", me, p)
		}
	}
	return nil
}

// stressCases returns the configurations of the randomized stress, each in
// both publish modes: rings down to two slots, buffers small enough that
// large frames change buffers all the time, budgets down to one byte (below
// a single frame, so that every push waits for the last to be released),
// eight peers, and a channel allocated late by half the workers.
func stressCases() []stressCase {
	var cs []stressCase
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		for _, c := range []stressCase{
			{name: "plain", peers: 3, ring: 1024, maxSize: 200, bcastPct: 5, selfPct: 20,
				hold: 4},
			{name: "tiny-ring", peers: 4, ring: 2, maxSize: 200, bcastPct: 10, selfPct: 10,
				hold: 3},
			{name: "small-buffers", peers: 3, ring: 4, buf: 4096, maxSize: 10000, bcastPct: 5,
				selfPct: 10, hold: 4},
			{name: "small-budget", peers: 3, ring: 2, buf: 4096, budget: 300, maxSize: 500,
				bcastPct: 5, selfPct: 10, hold: 2},
			{name: "budget-below-a-frame", peers: 2, ring: 2, buf: 4096, budget: 60,
				maxSize: 300, bcastPct: 3, selfPct: 10, hold: 1, lockstep: true},
			{name: "frames-above-a-buffer", peers: 3, ring: 8, buf: 4096, maxSize: 20000,
				bcastPct: 5, selfPct: 10, hold: 2},
			{name: "pushes-to-others", peers: 2, ring: 2, buf: 4096, budget: 2000,
				maxSize: 100},
			{name: "eight-peers", peers: 8, ring: 2, buf: 4096, maxSize: 300, bcastPct: 3,
				selfPct: 5, hold: 2},
			{name: "budget-of-one-byte", peers: 2, ring: 2, buf: 4096, budget: 1,
				maxSize: 100, bcastPct: 2, selfPct: 10, lockstep: true},
			{name: "allocated-late", peers: 3, ring: 4, buf: 4096, maxSize: 200, selfPct: 10,
				hold: 2, stagedLate: true},
		} {
			c.mode = mode
			c.name = mode.String() + "/" + c.name
			cs = append(cs, c)
		}
	}
	return cs
}

// TestRandomStress runs stressWorker under Run in every configuration of
// stressCases: concurrent workers whose streams start and end at random
// points, on broadcasts, buffer changes, refusals and full rings, while
// their receivers hold messages out of order. Every message must arrive
// once, in order and unchanged, and every buffer taken from the refill must
// be given back once Run returns.
func TestRandomStress(t *testing.T) {
	watchdog(t)
	ops := scale(6000, 300)
	if raceEnabled {
		ops /= 3
	}
	for _, c := range stressCases() {
		t.Run(c.name, func(t *testing.T) {
			c.ops = ops
			if c.lockstep {
				c.ops /= 4
			}
			seed := randomSeed()
			refill := &countingRefill{}
			opts := []process.Option{process.WithPublish(c.mode), process.WithRingSize(c.ring),
				process.WithSlab(slab.Config{BufferSize: c.buf, Refill: refill})}
			if c.budget > 0 {
				opts = append(opts, process.WithBudget(c.budget))
			}
			sent := newSentCounts(c.peers, 2)
			err := process.Run(context.Background(), c.peers, func(a *process.Allocator) error {
				return stressWorker(a, c, sent, seed)
			}, opts...)
			if err != nil {
				t.Fatalf("%v\n%s (the seed fixes each worker's choices, "+
					"not how the workers interleave)", err, rerun(t, seed))
			}
			refill.mu.Lock()
			defer refill.mu.Unlock()
			if refill.allocs != refill.free || refill.bytes != 0 {
				t.Errorf("%d buffers allocated, %d freed, %d bytes not given back\n%s",
					refill.allocs, refill.free, refill.bytes, rerun(t, seed))
			}
		})
	}
}
