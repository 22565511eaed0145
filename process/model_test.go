package process_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

// seedFlag fixes the seed of the randomized tests, so that a failure can be
// replayed.
var seedFlag = flag.Uint64("zcomm.seed", 0,
	"seed for the randomized tests; 0 picks one from the clock, and any other value "+
		"runs each randomized case once with it")

// randomSeed returns the seed a randomized test runs with: the one given
// by -zcomm.seed, or one taken from the clock.
func randomSeed() uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	return uint64(time.Now().UnixNano())
}

// rerun returns the command that runs t again with seed, for a failure
// message: a failure that names no seed cannot be replayed.
func rerun(t *testing.T, seed uint64) string {
	elems := strings.Split(t.Name(), "/")
	for i, e := range elems {
		elems[i] = "^" + regexp.QuoteMeta(e) + "$"
	}
	return fmt.Sprintf("seed %d; rerun with: go test -run '%s' ./process/ -zcomm.seed=%d",
		seed, strings.Join(elems, "/"), seed)
}

// modelCase is one configuration of the randomized model.
type modelCase struct {
	mode        process.Publish
	peers, ring int
	buf, budget int // a budget of 0: the default
	// staged sets the staged limit; with it, odd workers allocate their
	// second channel only a third of the way through.
	staged     int
	victim     bool // one worker shuts down at a random point
	failAllocs bool // the refill refuses every fifth buffer
	maxSize    int  // the largest payload; most are 24 to 63 bytes
	ops        int
}

// name returns the subtest name of c.
func (c modelCase) name() string {
	s := fmt.Sprintf("%dpeers-ring%d-budget%d", c.peers, c.ring, c.budget)
	if c.staged > 0 {
		s += fmt.Sprintf("-staged%d", c.staged)
	}
	if c.victim {
		s += "-victim"
	}
	if c.failAllocs {
		s += "-failing-refill"
	}
	return s
}

// flakyRefill is a counting heap refill that refuses every k'th Alloc when
// k > 0.
type flakyRefill struct {
	countingRefill
	k, n int
}

// Alloc refuses every k'th call and hands out a counted heap buffer
// otherwise.
func (f *flakyRefill) Alloc(n int) ([]byte, error) {
	f.mu.Lock()
	f.n++
	fail := f.k > 0 && f.n%f.k == 0
	f.mu.Unlock()
	if fail {
		return nil, errors.New("refill: out of buffers (on purpose)")
	}
	return f.countingRefill.Alloc(n)
}

// heldMsg is a received message the model holds unreleased, with a copy of
// its bytes as they were when it was pulled.
type heldMsg struct {
	m    process.Message[[]byte]
	want []byte
}

// pendingMsg is a pushed message that the model counts as published only at
// the sender's next Release, broadcast or Close: a batched push, or an eager
// push to the sender itself. One for a worker that has shut down is lost.
type pendingMsg struct {
	ch int
	g  uint64
}

// modelChans is the number of channels of the model; the second is the one
// allocated late.
const modelChans = 2

// model is the state of one run of runModel: a group whose workers are all
// driven from the test goroutine, and the record of what each one sent and
// received.
type model struct {
	t      *testing.T
	c      modelCase
	seed   uint64
	rng    *rand.Rand
	refill *flakyRefill
	as     []*process.Allocator
	chs    [][]*process.Channel[[]byte] // [w][ch]; nil until w allocates it
	late   []bool                       // w allocates its second channel late
	next   [][]uint64                   // [w][ch]: the tag of w's next message
	// sent[src][ch][dst] holds the tags of the messages src published to
	// dst, in order; pending[src][dst] those pushed but not yet published.
	sent    [][][][]uint64
	pending [][][]pendingMsg
	recv    [][][][]uint64 // recv[dst][src][ch]: the tags dst pulled, in order
	held    [][]heldMsg
	closed  []bool
	dead    int // the worker shut down, or -1
}

// fail ends the run with a message that names the seed.
func (m *model) fail(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf(format+"\n%s", append(args, rerun(m.t, m.seed))...)
}

// releaseHeld releases w's held messages in random order: all of them, or
// each with an even chance, stopping at the first kept. Each must read as
// it did when it was pulled.
func (m *model) releaseHeld(w int, all bool) {
	m.t.Helper()
	for len(m.held[w]) > 0 && (all || m.rng.IntN(2) == 0) {
		i := m.rng.IntN(len(m.held[w]))
		h := m.held[w][i]
		if string(h.m.Value) != string(h.want) {
			m.fail("worker %d: a held message of %d bytes changed before its release", w,
				len(h.want))
		}
		if err := h.m.Release(); err != nil {
			m.fail("worker %d: Release: %v", w, err)
		}
		last := len(m.held[w]) - 1
		m.held[w][i] = m.held[w][last]
		m.held[w] = m.held[w][:last]
	}
}

// receive has w receive and pull every channel it allocated, recording
// and checking each message, and holding some of them.
func (m *model) receive(w int) {
	m.t.Helper()
	if w == m.dead {
		return
	}
	err := m.as[w].Receive()
	if err != nil && !(m.late[w] && errors.Is(err, process.ErrStagedLimit)) {
		m.fail("worker %d: Receive: %v", w, err)
	}
	for ci, ch := range m.chs[w] {
		if ch == nil {
			continue
		}
		for {
			msg, ok, err := ch.Puller.Pull()
			if err != nil {
				m.fail("worker %d: Pull: %v", w, err)
			}
			if !ok {
				break
			}
			src, mch, g, err := checkPayload(msg.Value)
			if err != nil || mch != ci || src != int(msg.Header().Source) {
				m.fail("worker %d: a message from worker %d on channel index %d reads "+
					"source %d, channel index %d (%v)", w, msg.Header().Source, ci, src, mch,
					err)
			}
			m.recv[w][src][ci] = append(m.recv[w][src][ci], g)
			if m.rng.IntN(3) == 0 && len(m.held[w]) < 6 {
				m.held[w] = append(m.held[w], heldMsg{msg, append([]byte(nil), msg.Value...)})
			} else if err := msg.Release(); err != nil {
				m.fail("worker %d: Release: %v", w, err)
			}
		}
	}
	m.as[w].DrainEvents(nil)
}

// publish records w's pending messages as published, but those to the
// worker shut down: they are lost with it.
func (m *model) publish(w int) {
	for d := range m.c.peers {
		if d != m.dead {
			for _, p := range m.pending[w][d] {
				m.sent[w][p.ch][d] = append(m.sent[w][p.ch][d], p.g)
			}
		}
		m.pending[w][d] = nil
	}
}

// pushed reports whether err, returned by a push to target (or by a
// broadcast, when target is -1), means the message was handed over. Any
// error the configuration allows means it was not; any other ends the run.
func (m *model) pushed(err error, target int) bool {
	m.t.Helper()
	switch {
	case err == nil:
		return true
	case errors.Is(err, process.ErrBackpressure):
	case errors.Is(err, process.ErrPeerGone) && m.dead >= 0 && (target == m.dead || target < 0):
	case m.c.failAllocs && !errors.Is(err, process.ErrPoisoned):
	default:
		m.fail("unexpected error %v (target %d, worker %d shut down)", err, target, m.dead)
	}
	return false
}

// closeNow has w close with a context that has already ended, so that Close
// publishes what it can without waiting, and reports whether w is closed.
func (m *model) closeNow(w int) bool {
	m.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := m.as[w].Close(ctx)
	m.publish(w) // what Close could not hand over waits in the backlog, in order
	switch {
	case err == nil, errors.Is(err, process.ErrPeerGone) && m.dead >= 0:
		m.closed[w] = true
	case errors.Is(err, context.Canceled):
	default:
		m.fail("worker %d: Close: %v", w, err)
	}
	return m.closed[w]
}

// step performs one random operation of a random worker: a push, a
// broadcast, a Release, a receive, releases of held messages, a Close that
// cannot wait, the shutdown of the victim, or a poll of AwaitEvents.
func (m *model) step(op int) {
	m.t.Helper()
	c, rng := m.c, m.rng
	if op == c.ops/3 {
		for w := range m.as {
			if m.late[w] && w != m.dead {
				ch, err := process.Allocate(m.as[w], modelChans, process.Bytes{})
				if err != nil {
					m.fail("worker %d: Allocate: %v", w, err)
				}
				m.chs[w][1] = ch
			}
		}
	}
	w := rng.IntN(c.peers)
	if w == m.dead {
		return
	}
	ci := rng.IntN(modelChans)
	if m.chs[w][ci] == nil {
		ci = 0
	}
	switch r := rng.IntN(100); {
	case r < 55 && !m.closed[w]:
		tgt := rng.IntN(c.peers)
		size := 24 + rng.IntN(40)
		if rng.IntN(10) == 0 {
			size = 24 + rng.IntN(c.maxSize)
		}
		g := m.next[w][ci]
		if !m.pushed(m.chs[w][ci].Push(tgt, payloadOf(w, ci, g, size)), tgt) {
			return
		}
		m.next[w][ci]++
		switch {
		case tgt == m.dead:
			// accepted, but nobody will take it
		case c.mode == process.Eager && tgt != w:
			m.sent[w][ci][tgt] = append(m.sent[w][ci][tgt], g)
		default:
			m.pending[w][tgt] = append(m.pending[w][tgt], pendingMsg{ci, g})
		}
	case r < 62 && !m.closed[w]:
		g := m.next[w][ci]
		err := m.chs[w][ci].Broadcast(payloadOf(w, ci, g, 24+rng.IntN(60)))
		if err != nil && !(errors.Is(err, process.ErrPeerGone) && m.dead >= 0) {
			m.pushed(err, -1)
			return
		}
		m.publish(w) // a broadcast publishes everything pushed before it
		for d := range c.peers {
			if d != m.dead {
				m.sent[w][ci][d] = append(m.sent[w][ci][d], g)
			}
		}
		m.next[w][ci]++
	case r < 70:
		err := m.as[w].Release()
		if err != nil && !(errors.Is(err, process.ErrPeerGone) && m.dead >= 0) {
			m.fail("worker %d: Release: %v", w, err)
		}
		m.publish(w)
	case r < 90:
		m.receive(w)
		m.releaseHeld(w, false)
	case r < 93:
		m.releaseHeld(w, true)
	case r < 95 && !m.closed[w] && op > c.ops/2:
		m.closeNow(w)
	case r < 96 && c.victim && m.dead < 0 && op > c.ops/4:
		// What it pushed was handed over, as far as anyone can tell.
		m.dead = w
		for d := range c.peers {
			for _, p := range m.pending[w][d] {
				m.sent[w][p.ch][d] = append(m.sent[w][p.ch][d], p.g)
			}
			m.pending[w][d] = nil
		}
		m.releaseHeld(w, true)
		m.as[w].Shutdown()
	default:
		if err := m.as[w].AwaitEvents(0); err != nil {
			m.fail("worker %d: AwaitEvents: %v", w, err)
		}
	}
}

// finish closes every worker still open and receives until all are
// Finished (or, with a worker shut down, for a while: the others then
// cannot finish).
func (m *model) finish() {
	m.t.Helper()
	for round := 0; ; round++ {
		if round > 100000 {
			m.fail("closing did not end after %d rounds: closed %v", round, m.closed)
		}
		all := true
		for w := range m.as {
			if w != m.dead && !m.closed[w] && !m.closeNow(w) {
				all = false
			}
		}
		for w := range m.as {
			m.receive(w)
			m.releaseHeld(w, true)
		}
		if all {
			break
		}
	}
	if m.dead >= 0 {
		for range 50 {
			for w := range m.as {
				m.receive(w)
				m.releaseHeld(w, true)
			}
		}
		return
	}
	for round := 0; ; round++ {
		done := true
		for w := range m.as {
			m.receive(w)
			m.releaseHeld(w, true)
			if !m.as[w].Finished() {
				done = false
			}
		}
		if done {
			return
		}
		if round > 1000 {
			for w, a := range m.as {
				m.t.Logf("worker %d: Finished %v, stats %+v", w, a.Finished(), a.Stats())
			}
			m.fail("not Finished after %d rounds", round)
		}
	}
}

// isSubsequence reports whether sub is s with some elements left out.
func isSubsequence(sub, s []uint64) bool {
	for _, v := range sub {
		i := slices.Index(s, v)
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
	return true
}

// check compares what each worker pulled with what was published to it,
// checks that no view was released twice or left outstanding, and, once
// every allocator is shut down, that every buffer went back to the refill.
func (m *model) check() {
	m.t.Helper()
	for d := range m.as {
		if d == m.dead {
			continue
		}
		var dropped uint64
		for s := range m.as {
			for ci := range modelChans {
				got, want := m.recv[d][s][ci], m.sent[s][ci][d]
				switch {
				case s == m.dead:
					// What arrived before it shut down.
					if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
						m.fail("from worker %d, shut down, to %d on channel index %d: "+
							"got %v, want a prefix of %v", s, d, ci, got, want)
					}
				case m.late[d] && ci == 1:
					// Staged until d allocated the channel, some of it
					// dropped at the staged limit.
					if !isSubsequence(got, want) {
						m.fail("from worker %d to %d on channel index %d, allocated late:\n"+
							" got %v\nwant a subsequence of %v", s, d, ci, got, want)
					}
					dropped += uint64(len(want) - len(got))
				case !slices.Equal(got, want):
					m.fail("from worker %d to %d on channel index %d:\n got %v\nwant %v",
						s, d, ci, got, want)
				}
			}
		}
		if n := m.as[d].Stats().Drops.StagedLimit; n != dropped {
			m.fail("worker %d counts %d messages dropped at the staged limit, "+
				"%d are missing", d, n, dropped)
		}
	}
	for w, a := range m.as {
		s := a.Stats().Slab
		if s.OverReleases != 0 || s.DoubleReleases != 0 {
			m.fail("worker %d: %d over-releases, %d double releases", w, s.OverReleases,
				s.DoubleReleases)
		}
		if m.dead < 0 && s.OutstandingViews != 0 {
			m.fail("worker %d: %d outstanding views after everything was received and "+
				"released", w, s.OutstandingViews)
		}
	}
	for _, a := range m.as {
		a.Shutdown()
	}
	m.refill.mu.Lock()
	defer m.refill.mu.Unlock()
	if m.refill.allocs != m.refill.free {
		m.fail("%d buffers allocated, %d freed", m.refill.allocs, m.refill.free)
	}
}

// runModel drives every worker of a group of c.peers from the test
// goroutine with c.ops random operations drawn from seed, then closes them
// all and receives until they are Finished. On one goroutine the outcome
// of every operation is known, so the model checks exactly what each worker
// received against what was published to it, in order.
func runModel(t *testing.T, c modelCase, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	m := &model{t: t, c: c, seed: seed, rng: rng, refill: &flakyRefill{}, dead: -1}
	if c.failAllocs {
		m.refill.k = 5
	}
	opts := []process.Option{process.WithPublish(c.mode), process.WithRingSize(c.ring),
		process.WithSlab(slab.Config{BufferSize: c.buf, Refill: m.refill,
			Idle: rng.IntN(3) - 1})}
	if c.budget > 0 {
		opts = append(opts, process.WithBudget(c.budget))
	}
	if c.staged > 0 {
		opts = append(opts, process.WithStagedLimit(c.staged))
	}
	bs, err := process.NewBuilders(c.peers, opts...)
	if err != nil {
		m.fail("NewBuilders: %v", err)
	}
	m.as = make([]*process.Allocator, c.peers)
	for i, b := range bs {
		if m.as[i], err = b.Build(); err != nil {
			m.fail("Build of worker %d: %v", i, err)
		}
	}
	defer func() {
		for _, a := range m.as {
			if a != nil {
				a.Shutdown()
			}
		}
	}()
	m.chs = make([][]*process.Channel[[]byte], c.peers)
	m.late = make([]bool, c.peers)
	m.next = make([][]uint64, c.peers)
	m.sent = make([][][][]uint64, c.peers)
	m.pending = make([][][]pendingMsg, c.peers)
	m.recv = make([][][][]uint64, c.peers)
	m.held = make([][]heldMsg, c.peers)
	m.closed = make([]bool, c.peers)
	for w := range c.peers {
		m.late[w] = c.staged > 0 && w%2 == 1
		m.chs[w] = make([]*process.Channel[[]byte], modelChans)
		for ci := range modelChans {
			if ci == 1 && m.late[w] {
				continue
			}
			ch, err := process.Allocate(m.as[w], uint64(ci+1), process.Bytes{})
			if err != nil {
				m.fail("worker %d: Allocate: %v", w, err)
			}
			m.chs[w][ci] = ch
		}
		m.next[w] = make([]uint64, modelChans)
		m.sent[w] = make([][][]uint64, modelChans)
		for ci := range modelChans {
			m.sent[w][ci] = make([][]uint64, c.peers)
		}
		m.pending[w] = make([][]pendingMsg, c.peers)
		m.recv[w] = make([][][]uint64, c.peers)
		for s := range c.peers {
			m.recv[w][s] = make([][]uint64, modelChans)
		}
	}
	for op := range c.ops {
		m.step(op)
	}
	m.finish()
	m.check()
}

// TestRandomModel runs the single-goroutine model over many seeds in every
// configuration, in both publish modes: rings of two slots, 4 KiB buffers
// with frames up to twice that, budgets down to one byte, a worker that
// shuts down in the middle, a refill that fails, and channels allocated
// late against a small staged limit. Idle buffers kept (none, the default,
// one) vary with the seed.
func TestRandomModel(t *testing.T) {
	seeds := scale(150, 20)
	if raceEnabled {
		seeds /= 5
	}
	base := randomSeed()
	if *seedFlag != 0 {
		seeds = 1
	}
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		for _, c := range []modelCase{
			{peers: 2, ring: 2, buf: 4096, maxSize: 3000},
			{peers: 3, ring: 2, buf: 4096, budget: 400, maxSize: 600},
			{peers: 4, ring: 4, buf: 4096, budget: 100, maxSize: 300},
			{peers: 3, ring: 2, buf: 4096, maxSize: 9000},
			{peers: 3, ring: 2, buf: 4096, budget: 1500, maxSize: 5000, victim: true},
			{peers: 3, ring: 2, buf: 4096, budget: 1500, maxSize: 5000, failAllocs: true},
			{peers: 3, ring: 2, buf: 4096, staged: 200, maxSize: 100},
			{peers: 2, ring: 2, buf: 4096, budget: 1, maxSize: 100},
		} {
			c.mode = mode
			c.ops = 1500
			t.Run(mode.String()+"/"+c.name(), func(t *testing.T) {
				watchdog(t)
				for i := range seeds {
					runModel(t, c, base+uint64(i))
				}
			})
		}
	}
}
