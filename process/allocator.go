package process

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/zcomm-go/zcomm/buzzer"
	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/ring"
	"github.com/zcomm-go/zcomm/slab"
)

// Errors returned by the allocator and its channels. Each is wrapped with
// the details that caused it; test for them with errors.Is.
var (
	// ErrPoisoned means some worker of the group failed (or the group's
	// context ended): every call of every worker returns an error wrapping it,
	// a *PoisonError that names the cause.
	ErrPoisoned = errors.New("process: poisoned")
	// ErrBackpressure means the sender's budget for the target is spent:
	// receive, release, and push again.
	ErrBackpressure = errors.New("process: backpressure")
	// ErrClosed means the allocator (or the puller) was closed.
	ErrClosed = errors.New("process: closed")
	// ErrChannelOrder means a channel id was not above every id allocated
	// before on this allocator.
	ErrChannelOrder = errors.New("process: channel ids must increase")
	// ErrBadFrame means a received buffer held a frame that does not parse;
	// the rest of that buffer was dropped.
	ErrBadFrame = errors.New("process: bad frame")
	// ErrStagedLimit means messages for a channel not yet allocated were
	// dropped because the staged bytes reached their limit.
	ErrStagedLimit = errors.New("process: staged limit reached")
	// ErrPeerGone means a message could not be delivered because its target
	// worker has shut down.
	ErrPeerGone = errors.New("process: peer has shut down")
	// ErrTooLarge means a payload exceeds the maximum payload size.
	ErrTooLarge = errors.New("process: payload too large")
)

// frameOverhead is the bytes a frame adds to its payload.
const frameOverhead = header.Size

// backlogPoll bounds a sleep in AwaitEvents while this worker holds views
// that did not fit in a peer's ring, or was refused for backpressure: a peer
// does not wake senders when it makes room or releases, so the sender looks
// again this often.
const backlogPoll = 100 * time.Microsecond

// BackpressureError is the error a push returns when the sender's budget
// towards a target is spent. It wraps ErrBackpressure. The allocator reuses
// one per target, so that a sender refused again and again while it waits
// allocates nothing: its fields are valid until the next push to the same
// target.
type BackpressureError struct {
	// Worker is the sending worker and Target the receiving one; Target is
	// -1 for a broadcast.
	Worker, Target int
	// InFlight is the bytes written to the target and not yet released by
	// it; Budget is the limit.
	InFlight, Budget int
}

// Error describes the refusal.
func (e *BackpressureError) Error() string {
	if e.Target < 0 {
		return fmt.Sprintf("process: backpressure: worker %d has %d broadcast bytes unreleased, "+
			"budget %d", e.Worker, e.InFlight, e.Budget)
	}
	return fmt.Sprintf("process: backpressure: worker %d has %d bytes unreleased at worker %d, "+
		"budget %d", e.Worker, e.InFlight, e.Target, e.Budget)
}

// Unwrap returns ErrBackpressure.
func (e *BackpressureError) Unwrap() error { return ErrBackpressure }

// outbound is the sending side towards one target worker.
type outbound struct {
	w       *slab.Writer
	backlog queue[slab.View] // views the target's ring had no room for, in order
	refused BackpressureError

	// The eager stream to the target (see stream): its cursor, the number
	// of streams opened so far, and whether one is open, its start pushed
	// and no end since.
	cur       *cursor
	streams   uint32
	streaming bool

	bytesSent, messagesSent uint64
}

// inbox holds the received messages of one channel, allocated or not yet.
type inbox struct {
	id        uint64
	q         queue[received]
	n         int  // messages in q, over all its runs
	allocated bool // a puller exists (or existed)
	closed    bool // the puller was closed; forget the channel at the next Receive
	staged    int  // bytes held while not allocated, counted in Allocator.staged
}

// inStream is the receiving end of an eager peer's stream (see stream).
type inStream struct {
	v    slab.View // empty, at the stream's start, holding its reference; zero if none is open
	next int       // offset in v's buffer up to which frames were taken
	n    uint32    // streams the peer opened so far, counting this one
	cur  *cursor
}

// received is a run of messages waiting in an inbox: n consecutive frames of
// one channel from one received view, and the worker whose ring entry carried
// them, which names the sender in errors (the header's source field is the
// sender's claim, not a fact). The view holds no reference of its own: the
// buffer holds one for each of the n frames, which Pull hands out one message
// at a time. Queueing runs rather than messages makes routing a batch of
// messages one queue operation.
type received struct {
	v    slab.View
	n    int
	from int
}

// localRun is a view this worker published to itself, made of refs views
// joined, and so holding refs references.
type localRun struct {
	v    slab.View
	refs int
}

// releaseRefs gives up k references held by v, which holds no reference of
// its own (a view made by Join, or one whose frames were dropped).
func releaseRefs(v slab.View, k int) {
	for range k {
		_ = v.Slice(0, 0).Release()
	}
}

// frameSize returns the size of the frame at the front of b, which split
// has checked.
func frameSize(b []byte) int {
	n, _ := header.PeekLength(b)
	return frameOverhead + int(n)
}

// next takes the first message of the run r, which must hold at least one,
// and returns it with its frame's bytes. It reports whether r is now empty,
// and then has set r to the zero run.
func (r *received) next() (slab.View, []byte, bool) {
	b := r.v.Bytes()
	if r.n == 1 {
		v := r.v
		*r = received{}
		return v, b, true
	}
	size := frameSize(b)
	v, rest := r.v.Cut(size)
	r.v = rest
	r.n--
	return v, b[:size], false
}

// release gives up the references of every message left in r, and returns
// how many there were.
func (r *received) release() int {
	n := r.n
	for r.n > 0 {
		v, _, _ := r.next()
		_ = v.Release()
	}
	return n
}

// frameRun locates a run of n frames of one channel within a received view:
// bytes [off, end).
type frameRun struct {
	off, end, n int
	channel     uint64
}

// Allocator is one worker's endpoint: it allocates channels, publishes what
// the worker pushed, receives what peers pushed, and parks the worker when
// there is nothing to do.
//
// An Allocator, and every Pusher and Puller it made, belongs to the goroutine
// that built it; only Message.Release may be called elsewhere.
type Allocator struct {
	g      *group
	cfg    *config
	index  int
	peers  int
	ring   *ring.Ring[slab.View]
	buzzer *buzzer.Buzzer

	out     []outbound
	own     *slab.Writer // out[index].w, one load away, for Finished to stay inlinable
	bcast   *slab.Writer
	brefuse BackpressureError // the broadcast writer's reusable refusal
	// pressured is set when a push is refused for backpressure and cleared
	// by the next push that succeeds; while it is set, AwaitEvents polls.
	pressured bool
	closed    bool
	freed     bool

	drained   []ring.Entry[slab.View]
	in        []inStream // in[p]: the stream from peer p
	live      []int      // peers whose stream is open, in no order
	runs      []frameRun
	ends      []int      // where each ring entry joined into one view ends
	local     []localRun // published to this worker by itself, not yet received
	inboxes   map[uint64]*inbox
	last      *inbox   // the inbox route found last, or nil: runs come in streaks
	forget    []*inbox // closed pullers, forgotten at the next Receive
	bound     uint64   // highest channel id allocated, if hasBound
	hasBound  bool
	events    []uint64
	queued    int   // messages held in inboxes
	staged    int   // bytes held for channels not yet allocated
	seenClose int64 // group.closed when Receive last looked

	received []peerReceived
	drops    DropStats
	epochs   epochs // pulled messages not yet released
	deferred error  // a receive error met inside Close, for the next Receive
}

type peerReceived struct{ bytes, messages uint64 }

func newAllocator(g *group, index int) (*Allocator, error) {
	a := &Allocator{
		g:        g,
		cfg:      &g.cfg,
		index:    index,
		peers:    g.peers,
		ring:     g.rings[index],
		buzzer:   g.buzzers[index],
		out:      make([]outbound, g.peers),
		drained:  make([]ring.Entry[slab.View], 0, g.cfg.ringSize),
		inboxes:  make(map[uint64]*inbox),
		received: make([]peerReceived, g.peers),
		in:       make([]inStream, g.peers),
	}
	for p := range a.in {
		a.in[p].cur = &g.cursors[p*g.peers+index]
		a.out[p].cur = &g.cursors[index*g.peers+p]
	}
	for t := range a.out {
		w, err := slab.NewWriter(g.cfg.slab)
		if err != nil {
			return nil, fmt.Errorf("process: %w", err)
		}
		a.out[t].w = w
	}
	a.own = a.out[index].w
	w, err := slab.NewWriter(g.cfg.slab)
	if err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	a.bcast = w
	return a, nil
}

// Index returns this worker's index, in [0, Peers()).
func (a *Allocator) Index() int { return a.index }

// Peers returns the number of workers in the group.
func (a *Allocator) Peers() int { return a.peers }

// Publish returns the publishing mode.
func (a *Allocator) Publish() Publish { return a.cfg.publish }

// usable reports why the allocator cannot send or receive, if it cannot.
// Every push and pull asks, so the common answer is small enough to inline:
// one load of the shared poison word, which nobody writes until the group
// fails, and one of a field of the worker's own.
func (a *Allocator) usable() error {
	if a.g.poison.Load() == nil && !a.freed {
		return nil
	}
	return a.unusable()
}

// unusable is usable's answer once the group is poisoned or this worker was
// shut down.
func (a *Allocator) unusable() error {
	if err := a.g.poisoned(); err != nil {
		return err
	}
	return fmt.Errorf("%w: worker %d was shut down", ErrClosed, a.index)
}

// ---- sending ---------------------------------------------------------------

// reserve returns room for a frame of n payload bytes towards target t,
// after checking the budget and, in batched mode, publishing a full buffer.
func (a *Allocator) reserve(o *outbound, t, n int) ([]byte, error) {
	// The common case in one test, every check of reserveSlow that could
	// refuse or need work passing at once: usable, open, a payload within
	// the maximum, the cheap bound on the budget, room in the buffer.
	if a.g.poison.Load() == nil && !a.freed && !a.closed && uint(n) <= uint(a.cfg.maxPayload) &&
		o.w.Outstanding()+n+frameOverhead <= a.cfg.budget {
		if buf, ok := o.w.TryReserve(n + frameOverhead); ok {
			if a.pressured {
				a.pressured = false
			}
			return buf, nil
		}
	}
	return a.reserveSlow(o, t, n)
}

// reserveSlow is reserve when something must be refused, published or
// looked at closely.
func (a *Allocator) reserveSlow(o *outbound, t, n int) ([]byte, error) {
	if err := a.usable(); err != nil {
		return nil, err
	}
	if a.closed {
		return nil, fmt.Errorf("%w: worker %d closed its sending side", ErrClosed, a.index)
	}
	if err := a.checkSize(n); err != nil {
		return nil, err
	}
	size := n + frameOverhead
	// The budget counts every byte written for t and not yet released by
	// it: those published (in flight) and those still pending publication.
	// The exact count loads a word the receiver keeps writing, so it is
	// taken only when the cheap upper bound says the budget may be spent.
	if o.w.Outstanding()+size > a.cfg.budget {
		if err := a.checkBudget(o, t, size); err != nil {
			return nil, err
		}
	}
	a.pressured = false
	if o.streaming && o.w.Available() < size {
		// The buffer is full: end the stream where it is, and the next
		// publication opens one in the buffer the writer goes on with. When
		// the target has taken and released everything, the stream's start
		// and end are the buffer's only views and it reads nothing more of
		// it, so the writer may start the buffer over in place.
		settled := a.settle(o, t)
		a.endStream(o, t)
		if settled {
			o.w.Quiet(2)
		}
		if err := a.flush(t); err != nil {
			return nil, err
		}
	}
	if o.w.Available() < size && o.w.Pending() > 0 {
		a.publish(t) // the buffer is full: publish it, whatever the mode
	}
	buf, err := o.w.Reserve(size)
	if err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	return buf, nil
}

// checkSize refuses a payload size that a codec gave and a frame cannot
// carry.
func (a *Allocator) checkSize(n int) error {
	if n < 0 {
		return fmt.Errorf("process: the codec gave a negative payload size, %d", n)
	}
	if n > a.cfg.maxPayload {
		return fmt.Errorf("%w: %d bytes, maximum %d", ErrTooLarge, n, a.cfg.maxPayload)
	}
	return nil
}

// checkBudget refuses a frame of size bytes for target t if the bytes
// written for t and not yet released, counted exactly, leave no room for it.
func (a *Allocator) checkBudget(o *outbound, t, size int) error {
	used := o.w.InFlight() + o.w.Pending()
	if used > 0 && used+size > a.cfg.budget {
		o.w.Reclaim()
		if used = a.inFlight(o, t); used > 0 && used+size > a.cfg.budget {
			o.refused = BackpressureError{Worker: a.index, Target: t, InFlight: used,
				Budget: a.cfg.budget}
			a.pressured = true
			if o.streaming {
				// End the stream, so that the target's next Receive gives
				// the buffer back: a sender that stays refused cannot
				// restart its buffer in place while the stream holds it.
				a.endStream(o, t)
				if err := a.flush(t); err != nil {
					return err // the target is gone: that, not the budget, is the news
				}
			}
			return &o.refused
		}
	}
	return nil
}

// inFlight returns the bytes written for target t and not yet released by
// it, as the budget counts them: published or pending publication.
func (a *Allocator) inFlight(o *outbound, t int) int {
	a.settle(o, t)
	return o.w.InFlight() + o.w.Pending()
}

// settle lets the writer towards target t count the bytes of an open
// stream as released once t has taken every frame announced and released
// them all, so that the stream's own view does not keep them counted, and
// reports whether it did: the stream's start is then the buffer's only
// view. Settling is bookkeeping only; nothing is freed or reused by it.
func (a *Allocator) settle(o *outbound, t int) bool {
	// taken before the count: a target that stored taken had acquired its
	// frames' references, so the count loaded next includes them. The ring
	// after the count: a target that shut down released the stream's view
	// after closing its ring, and the one view counted could then be a
	// message it still holds.
	return o.streaming && o.cur.taken.Load() == o.cur.pos.Load() && o.w.Settle(1) &&
		!a.g.rings[t].Refusing()
}

// commit finishes a frame written into the last reservation for target t.
//
// In eager mode a frame for a peer is published at once, through the stream
// to it (see stream). A frame for this worker itself is not: only this
// worker reads it, and only when it calls Receive, which publishes it first.
// That is as soon as it could be read either way, and it spares each such
// message a view of its own, with the atomic operation on the buffer's count
// that a view costs.
func (a *Allocator) commit(o *outbound, t, size int) error {
	o.w.Commit(size)
	o.bytesSent += uint64(size - frameOverhead)
	o.messagesSent++
	if a.cfg.publish == Eager && t != a.index {
		return a.stream(o, t)
	}
	return nil
}

// stream publishes what was committed for peer t in eager mode.
//
// An eager sender does not push a view per message into the target's ring:
// it keeps a stream open in its current buffer and, after each commit,
// stores in the pair's cursor how far the stream's frames reach, then wakes
// the target. The target's Receive takes the frames up to the cursor itself,
// with one reference for all of them, and the line the sender writes per
// message is the cursor's alone: no ring slot, no tail, no reference count.
//
// The ring carries a stream's two ends, as empty views of its buffer that
// each hold a reference: the start, whose reference becomes the stream's and
// keeps the buffer from being reused while the target may read it, and the
// end, which says where the stream's frames stop. Ends and starts alternate,
// so the target tells them apart by whether it has the stream open. A stream
// ends before the writer changes buffers, before a broadcast (whose view must
// come after every frame pushed before it, and the cursor's frames are not
// in the ring), on a refusal for backpressure, and at Close; the next
// publication opens the next one. Cursor positions name their stream, so the
// target ignores those of a stream whose start it has not reached yet.
func (a *Allocator) stream(o *outbound, t int) error {
	if !o.streaming || o.backlog.len() > 0 || a.g.rings[t].Refusing() {
		return a.streamSlow(o, t)
	}
	o.cur.pos.Store(at(o.streams, o.w.Advance()))
	a.g.buzzers[t].Wake() // after the store: see AwaitEvents
	return nil
}

// streamSlow is stream when a stream must be opened, when views wait in the
// backlog, or when the target stopped taking pushes.
func (a *Allocator) streamSlow(o *outbound, t int) error {
	if a.g.rings[t].Refusing() {
		if err := a.usable(); err != nil {
			return err // poisoned: the frames are not delivered
		}
		// The target shut down: it will never read what was committed.
		o.w.Advance()
		o.streaming = false
		if err := a.flush(t); err != nil {
			return err // released the backlog and counted the refusal
		}
		a.drops.PeerGone++
		return fmt.Errorf("%w: worker %d", ErrPeerGone, t)
	}
	if !o.streaming {
		// The start points where the frames just committed begin; the
		// cursor names the new stream before flush pushes the start.
		start, _ := o.w.Point() // a frame was just committed: there is a buffer
		o.streams++
		o.streaming = true
		a.enqueue(t, start)
	}
	o.cur.pos.Store(at(o.streams, o.w.Advance()))
	err := a.flush(t)
	a.g.buzzers[t].Wake()
	return err
}

// endStream ends the open stream to target t, if there is one, by queueing
// its end, which the caller flushes.
func (a *Allocator) endStream(o *outbound, t int) {
	if !o.streaming {
		return
	}
	o.streaming = false
	end, _ := o.w.Point()
	a.enqueue(t, end)
}

// ownPending reports whether this worker has, in eager mode, pushed to
// itself what it has not yet received: frames committed but not yet
// published, or published and not yet received.
func (a *Allocator) ownPending() bool {
	return len(a.local) > 0 || (a.cfg.publish == Eager && a.own.Pending() > 0)
}

// publish makes everything written for target t visible to it, as far as
// its ring has room, and wakes it if anything landed.
func (a *Allocator) publish(t int) error {
	o := &a.out[t]
	if t == a.index || o.backlog.len() > 0 {
		return a.publishSlow(t)
	}
	v, ok := o.w.Extract()
	if !ok {
		return nil
	}
	// The common case: nothing is waiting ahead of v, and the ring has
	// room. The push is visible before Wake loads the state word.
	if a.g.rings[t].Push(a.index, v) == nil {
		a.g.buzzers[t].Wake()
		return nil
	}
	a.enqueue(t, v)
	return a.flush(t)
}

// publishSlow is publish to this worker itself, or behind a backlog.
func (a *Allocator) publishSlow(t int) error {
	o := &a.out[t]
	v, ok := o.w.Extract()
	if ok && t == a.index && o.backlog.len() == 0 {
		a.keep(v)
		return nil
	}
	if ok {
		a.enqueue(t, v)
	}
	return a.flush(t)
}

// enqueue appends v to target t's backlog, merging it with the last view
// there when they are contiguous.
func (a *Allocator) enqueue(t int, v slab.View) {
	o := &a.out[t]
	if o.backlog.len() > 0 && v.Len() > 0 && o.backlog.back().Len() > 0 {
		// An empty view is a stream's start or end and stays apart.
		if m, ok := o.backlog.back().Merge(v); ok {
			*o.backlog.back() = m
			return
		}
	}
	o.backlog.push(v)
}

// keep holds v, which this worker published to itself, for its next
// Receive. A worker's messages to itself never pass through its ring, where
// they would contend with its peers' pushes for the ring's tail. Consecutive
// views of one buffer are joined as they come, so that eager messages to
// oneself take no more room than a batch.
func (a *Allocator) keep(v slab.View) {
	if n := len(a.local); n > 0 {
		if j, ok := a.local[n-1].v.Join(v); ok {
			a.local[n-1].v = j
			a.local[n-1].refs++
			return
		}
	}
	a.local = append(a.local, localRun{v: v, refs: 1})
}

// flush pushes target t's backlog into its ring until the ring is full, and
// wakes the target if anything was pushed. Ownership of each pushed view
// passes to the ring; a view refused for good (the target shut down) is
// released, and reported if it carried messages.
func (a *Allocator) flush(t int) error {
	o := &a.out[t]
	if t == a.index {
		for o.backlog.len() > 0 {
			v, _ := o.backlog.pop()
			a.keep(v)
		}
		return nil
	}
	r := a.g.rings[t]
	pushed := false
	var err error
	for o.backlog.len() > 0 {
		perr := r.Push(a.index, *o.backlog.front())
		if perr == nil {
			o.backlog.pop()
			pushed = true
			continue
		}
		if errors.Is(perr, ring.ErrFull) {
			break
		}
		if perr = a.usable(); perr != nil {
			err = perr // poisoned: keep the views for Shutdown to release
			break
		}
		lost := false
		for o.backlog.len() > 0 {
			v, _ := o.backlog.pop()
			lost = lost || v.Len() > 0 // a stream's start or end carries no message
			_ = v.Release()
		}
		if lost {
			a.drops.PeerGone++
			err = fmt.Errorf("%w: worker %d", ErrPeerGone, t)
		}
	}
	if pushed {
		// The views are visible in the ring before this load of the target's
		// state word (the push's store is sequentially consistent), so a
		// target that announced sleep is woken, and one that did not will
		// see them when it looks again.
		a.g.buzzers[t].Wake()
	}
	return err
}

// Release publishes everything pushed since the last publication, to every
// target, and retries views that earlier found a ring full.
func (a *Allocator) Release() error {
	if err := a.usable(); err != nil {
		return err
	}
	var first error
	for t := range a.out {
		o := &a.out[t]
		if o.w.Pending() == 0 && o.backlog.len() == 0 {
			continue
		}
		if err := a.publish(t); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// backlogged reports whether any view waits for room in a peer's ring.
func (a *Allocator) backlogged() bool {
	for t := range a.out {
		if a.out[t].backlog.len() > 0 {
			return true
		}
	}
	return false
}

// ---- receiving -------------------------------------------------------------

// Receive takes everything peers have published to this worker, splits it
// into messages, records the channel of each in the events list, and queues
// each for its channel's puller. Messages for channels not yet allocated are
// kept for their puller; messages for channels whose puller was closed are
// dropped and counted.
//
// A buffer holding a frame that does not parse is reported with an error
// wrapping ErrBadFrame that names the sending worker and the offset; the
// frames before it are delivered, the rest of it is dropped and counted, and
// the other buffers are received as usual. The first such error is returned
// after everything else was received.
func (a *Allocator) Receive() error {
	if err := a.usable(); err != nil {
		return err
	}
	for i, in := range a.forget {
		a.dropInbox(in)
		a.forget[i] = nil
	}
	a.forget = a.forget[:0]

	// Load the close count before draining: a peer's pushes precede its
	// close, so everything it sent before closing is in this drain.
	a.seenClose = a.g.closed.Load()
	a.drained = a.ring.Drain(a.drained[:0])
	first := a.deferred
	a.deferred = nil
	for i := 0; i < len(a.drained); {
		// Consecutive entries of one producer that continue one another in
		// one buffer are its consecutive publications (a batched sender's
		// that found the ring behind, or broadcasts): split them as one
		// view, so that their messages form runs as one batch's do. Joining
		// moves references and costs no atomic operation. An empty entry is
		// a stream's start or end (see stream), and is never joined.
		peer, v := a.drained[i].Producer, a.drained[i].Value
		a.drained[i] = ring.Entry[slab.View]{}
		if v.Len() == 0 {
			i++
			if err := a.control(peer, v); err != nil && first == nil {
				first = err
			}
			continue
		}
		a.ends = append(a.ends[:0], v.Len())
		for i++; i < len(a.drained) && a.drained[i].Producer == peer &&
			a.drained[i].Value.Len() > 0; i++ {
			joined, ok := v.Join(a.drained[i].Value)
			if !ok {
				break
			}
			v = joined
			a.ends = append(a.ends, v.Len())
			a.drained[i] = ring.Entry[slab.View]{}
		}
		if err := a.split(peer, v, a.ends, len(a.ends)); err != nil && first == nil {
			first = err
		}
	}
	for _, p := range a.live {
		if err := a.catchUp(p); err != nil && first == nil {
			first = err
		}
	}
	if a.cfg.publish == Eager && a.own.Pending() > 0 {
		_ = a.publish(a.index) // see commit; publishing to oneself cannot fail
	}
	for i, l := range a.local {
		a.ends = append(a.ends[:0], l.v.Len())
		if err := a.split(a.index, l.v, a.ends, l.refs); err != nil && first == nil {
			first = err
		}
		a.local[i] = localRun{}
	}
	a.local = a.local[:0]
	return first
}

// control handles an empty view from peer's stream (see stream): the start
// of a stream when none is open, its end otherwise.
func (a *Allocator) control(peer int, c slab.View) error {
	s := &a.in[peer]
	if s.v.IsZero() {
		s.v, s.next = c, c.Offset()
		s.n++
		a.live = append(a.live, peer)
		return nil
	}
	var err error
	if end := c.Offset(); c.SameBuffer(s.v) && end >= s.next {
		err = a.take(peer, s, end)
	} else {
		err = fmt.Errorf("%w: from worker %d: a stream ends at offset %d of another buffer "+
			"or before offset %d, where it had reached", ErrBadFrame, peer, end, s.next)
	}
	_ = c.Release()
	a.closeStream(peer)
	return err
}

// catchUp takes the frames that peer's open stream announced since the last
// look, if its cursor is on this stream.
func (a *Allocator) catchUp(peer int) error {
	s := &a.in[peer]
	pos := s.cur.pos.Load()
	if uint32(pos>>32) != s.n {
		return nil // a later stream, whose start this worker has not drained yet
	}
	return a.take(peer, s, int(uint32(pos)))
}

// take splits and routes the frames of stream s from where it had reached
// to offset end.
func (a *Allocator) take(peer int, s *inStream, end int) error {
	if end <= s.next {
		return nil
	}
	w := s.v.Span(s.next, end-s.next)
	s.next = end
	a.ends = append(a.ends[:0], w.Len())
	err := a.split(peer, w, a.ends, 0)
	s.cur.taken.Store(at(s.n, end)) // after split took the frames' references: see settle
	return err
}

// closeStream gives up peer's open stream.
func (a *Allocator) closeStream(peer int) {
	s := &a.in[peer]
	_ = s.v.Release()
	s.v = slab.View{}
	for i, p := range a.live {
		if p == peer {
			last := len(a.live) - 1
			a.live[i] = a.live[last]
			a.live = a.live[:last]
			break
		}
	}
}

// streamsReady reports whether an open stream announced frames not yet
// taken.
func (a *Allocator) streamsReady() bool {
	for _, p := range a.live {
		s := &a.in[p]
		if pos := s.cur.pos.Load(); uint32(pos>>32) == s.n && int(uint32(pos)) > s.next {
			return true
		}
	}
	return false
}

// split divides one received view, which holds refs references, into frames
// and routes them in runs. The view is one or more entries joined, the i'th
// ending at ends[i]. A frame never spans two entries, and a frame that does
// not parse drops the rest of its entry only. Each frame needs a reference:
// the view's pass to the first frames and the rest are acquired together, so
// splitting costs at most one atomic operation per view, not one per message.
//
// Runs are gathered while parsing, so a batch of one channel costs one
// comparison per frame beyond its header, and no list of frames.
func (a *Allocator) split(peer int, v slab.View, ends []int, refs int) error {
	data := v.Bytes()
	maxLen, reader, peers := uint64(a.cfg.maxPayload), uint64(a.index), uint64(a.peers)
	var h header.Header
	if refs <= 1 && len(ends) == 1 {
		// One frame, as every round trip's is: the view's reference, or
		// one acquired for a stream's frame, is the message's, and there
		// are no runs to gather.
		if n, err := h.ReadFrame(data, maxLen, reader, peers); err == nil && n == len(data) {
			if refs == 0 {
				v.Acquire(1)
			}
			pr := &a.received[peer]
			pr.messages++
			pr.bytes += uint64(n - frameOverhead)
			return a.route(h.Channel, received{v: v, n: 1, from: peer})
		}
	}
	runs := a.runs[:0]
	frames := 0
	var err error
	start := 0
	for _, end := range ends {
		for off := start; off < end; {
			n, derr := h.ReadFrame(data[off:end], maxLen, reader, peers)
			if derr != nil {
				if err == nil {
					err = fmt.Errorf("%w: from worker %d at offset %d of %d: %w",
						ErrBadFrame, peer, off-start, end-start, derr)
				}
				a.drops.BadFrames++
				a.drops.BadFrameBytes += uint64(end - off)
				break
			}
			// A run is the longest stretch of contiguous frames of one
			// channel: a dropped stretch ends one.
			if k := len(runs) - 1; k >= 0 && runs[k].channel == h.Channel && runs[k].end == off {
				runs[k].end += n
				runs[k].n++
			} else {
				runs = append(runs, frameRun{off: off, end: off + n, n: 1, channel: h.Channel})
			}
			frames++
			off += n
		}
		start = end
	}
	a.runs = runs
	if extra := refs - frames; extra > 0 {
		// Frames were dropped: give up the references they would have had.
		releaseRefs(v, extra)
	} else {
		v.Acquire(-extra)
	}
	if frames == 0 {
		return err
	}
	pr := &a.received[peer]
	pr.messages += uint64(frames)
	for _, run := range runs {
		pr.bytes += uint64(run.end - run.off - run.n*frameOverhead)
		r := received{v: v.Slice(run.off, run.end-run.off), n: run.n, from: peer}
		if rerr := a.route(run.channel, r); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// route records an event for each message of run r, of channel id, and
// hands the run to the channel's inbox, creating one for a channel not yet
// allocated, or drops it.
func (a *Allocator) route(id uint64, r received) error {
	k := len(a.events)
	a.events = slices.Grow(a.events, r.n)[:k+r.n]
	for i := range a.events[k:] {
		a.events[k+i] = id
	}
	in := a.last
	if in == nil || in.id != id {
		in = a.inboxes[id]
		a.last = in
	}
	if in != nil && in.allocated && !in.closed {
		a.enqueueRun(in, r)
		return nil
	}
	if (in == nil && a.hasBound && id <= a.bound) || (in != nil && in.closed) {
		// The channel was allocated and has since been closed or forgotten.
		a.drops.ClosedChannel += uint64(r.release())
		return nil
	}
	// Not yet allocated: stage each message against the limit, checked
	// before an inbox is made, so that messages refused for a stream of new
	// ids leave nothing behind.
	var err error
	for r.n > 0 {
		f, _, _ := r.next()
		if a.staged+f.Len() > a.cfg.stagedLimit {
			a.drops.StagedLimit++
			_ = f.Release()
			if err == nil {
				err = fmt.Errorf("%w: %d bytes staged, limit %d, dropping a message of channel %d",
					ErrStagedLimit, a.staged, a.cfg.stagedLimit, id)
			}
			continue
		}
		if in == nil {
			in = &inbox{id: id}
			a.inboxes[id] = in
		}
		in.staged += f.Len()
		a.staged += f.Len()
		a.enqueueRun(in, received{v: f, n: 1, from: r.from})
	}
	return err
}

// enqueueRun appends r to in's queue.
func (a *Allocator) enqueueRun(in *inbox, r received) {
	in.q.push(r)
	in.n += r.n
	a.queued += r.n
}

// dropInbox forgets a channel whose puller was closed, releasing what it
// still held.
func (a *Allocator) dropInbox(in *inbox) {
	a.drops.ClosedChannel += uint64(a.releaseQueued(in))
	delete(a.inboxes, in.id)
	if a.last == in {
		a.last = nil
	}
}

// releaseQueued releases every message queued in in, and returns how many
// there were.
func (a *Allocator) releaseQueued(in *inbox) int {
	n := 0
	for in.q.len() > 0 {
		r, _ := in.q.pop()
		n += r.release()
	}
	in.n = 0
	a.queued -= n
	return n
}

// dropStagedBelow drops the messages staged for unallocated channels below
// id: ids only increase, so those channels can never be allocated now.
func (a *Allocator) dropStagedBelow(id uint64) {
	for cid, in := range a.inboxes {
		if cid < id && !in.allocated {
			a.staged -= in.staged
			in.staged = 0
			a.dropInbox(in)
		}
	}
}

// HasEvents reports whether the events list is non-empty.
func (a *Allocator) HasEvents() bool { return len(a.events) > 0 }

// DrainEvents appends the channel ids that saw activity since the last call
// (one per message received, one per puller that ran dry after delivering) to
// dst, clears the list, and returns the extended slice.
func (a *Allocator) DrainEvents(dst []uint64) []uint64 {
	dst = append(dst, a.events...)
	a.events = a.events[:0]
	return dst
}

// AwaitEvents parks the worker while it has no events, until a peer's push
// lands in its ring, a peer closes, the group is poisoned or its context
// ends, or timeout passes (a negative timeout waits without limit). It
// returns at once if there are events, unread pushes, a close that Receive
// has not seen, or if the worker is Finished. It does not receive: call
// Receive afterwards.
func (a *Allocator) AwaitEvents(timeout time.Duration) error {
	if err := a.usable(); err != nil {
		return err
	}
	if len(a.events) > 0 || a.Finished() {
		return nil
	}
	if a.backlogged() {
		_ = a.Release()
	}
	if a.ownPending() || a.g.closed.Load() != a.seenClose || a.g.poisoned() != nil {
		return a.usable() // nothing to wait for: Receive has work, or must look
	}
	// Nothing wakes a sender when a peer makes room in its ring or releases
	// its bytes, so a sender waiting for either looks again this often.
	// TODO(wake-on-release): wake the sender from the release that empties
	// a buffer of its (a hook in slab's drop, once per buffer) instead of
	// polling.
	if (a.backlogged() || a.pressured) && (timeout < 0 || timeout > backlogPoll) {
		timeout = backlogPoll
	}
	// A reply often comes within microseconds. Look for one for as long as
	// the buzzer would spin before announcing sleep, so that a push landing
	// in that time is seen as soon as a busy poller would see it, and its
	// sender finds nobody to wake. The buzzer spins only when this worker
	// has a core to itself.
	if timeout != 0 {
		for i := range a.buzzer.Spins() {
			if a.ring.Ready() || a.streamsReady() {
				return a.usable()
			}
			if i&63 == 63 {
				runtime.Gosched()
			}
		}
	}
	// A sender stores its stream's cursor before it loads this worker's
	// state word to wake it, and Prepare stores that word before the
	// cursors are loaded here: one of the two sees the other.
	a.buzzer.Prepare()
	if a.ring.Ready() || a.streamsReady() || a.ownPending() || a.g.closed.Load() != a.seenClose ||
		a.g.poisoned() != nil {
		a.buzzer.Cancel()
	} else {
		a.epochs.end() // messages pulled after a sleep start a new epoch
		a.buzzer.Sleep(timeout)
	}
	return a.usable()
}

// ---- closing ---------------------------------------------------------------

// Close ends this worker's sending side: it publishes everything it has
// pushed, waiting for room in full rings while ctx allows, then tells every
// peer it is done. While it waits it receives, as Receive does, so that
// workers closing at the same time do not wait for each other forever; the
// messages stay queued for their pullers. Receiving still works after Close,
// so a worker can read until Finished. Later pushes fail with ErrClosed.
// Calling Close again does nothing.
func (a *Allocator) Close(ctx context.Context) error {
	if a.closed {
		return nil
	}
	if err := a.usable(); err != nil {
		return err
	}
	for t := range a.out {
		a.endStream(&a.out[t], t) // Release below pushes the ends
	}
	var gone error // a peer that shut down loses what was for it; go on
	for {
		err := a.Release()
		if err == nil {
			err = a.usable()
		}
		if err != nil && !errors.Is(err, ErrPeerGone) {
			return err
		}
		if gone == nil {
			gone = err
		}
		if !a.backlogged() {
			break
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("process: worker %d closing with views unpublished: %w",
				a.index, err)
		}
		// Take in what peers sent while waiting: they may be closing too,
		// waiting for room in this worker's ring, and none would make
		// progress if every closing worker only waited. What arrives stays
		// queued for the pullers; an error is kept for the next Receive.
		if err := a.Receive(); err != nil && a.deferred == nil {
			if errors.Is(err, ErrPoisoned) {
				return err
			}
			a.deferred = err
		}
		runtime.Gosched()
	}
	a.closed = true
	a.g.closed.Add(1)
	a.g.wakeAll()
	return gone
}

// drainUntilAllClosed takes in and releases, unread, whatever peers send
// until every worker has closed: a worker whose function has returned must
// still make room in its ring, or a peer that closes later would wait for it
// forever. It returns early if the group is poisoned.
func (a *Allocator) drainUntilAllClosed() {
	for a.g.closed.Load() < int64(a.peers) {
		if err := a.Receive(); errors.Is(err, ErrPoisoned) {
			return
		}
		for _, in := range a.inboxes {
			a.drops.Abandoned += uint64(a.releaseQueued(in))
			a.staged -= in.staged
			in.staged = 0
		}
		a.events = a.events[:0]
		if err := a.AwaitEvents(-1); err != nil {
			return
		}
	}
}

// Finished reports whether every worker of the group, this one included, has
// closed its sending side and this worker has received and pulled
// everything: nothing is left in its ring or its channels.
func (a *Allocator) Finished() bool {
	// Each worker pushes everything before it counts itself closed, the
	// ends of its streams included, so once the count is complete an empty
	// ring stays empty and every stream was taken to its end. Its own
	// writer holds nothing unpublished after Close but what an eager worker
	// wrote for itself (see commit), so the check need not ask which mode
	// it is in. The counts are never negative: their or is zero when all
	// are, in one test, which keeps Finished inlinable.
	return a.g.closed.Load() == int64(a.peers) && a.ring.Len() == 0 &&
		a.queued|len(a.local)|len(a.live) == 0 && a.own.Pending() == 0
}

// Poison marks the whole group as failed with cause: every later call of
// every worker returns a *PoisonError wrapping ErrPoisoned and cause, and
// parked workers wake. A clean Close never poisons. Any goroutine may call
// Poison; only the first cause is kept.
func (a *Allocator) Poison(cause error) { a.g.poisonWith(a.index, cause) }

// Shutdown releases everything this worker holds: views still in its ring,
// in its channels and in its backlogs, and its writers' buffers (a buffer
// that a peer still holds a view of is freed when that view is released).
// Peers' later pushes to this worker fail with ErrPeerGone. Call it once the
// worker is done, after Close; Run calls it for every worker when all have
// returned. Calling it again does nothing.
func (a *Allocator) Shutdown() {
	if a.freed {
		return
	}
	a.freed = true
	a.drained = a.ring.Close(a.drained[:0])
	for i := range a.drained {
		_ = a.drained[i].Value.Release()
		a.drained[i] = ring.Entry[slab.View]{}
	}
	for i, l := range a.local {
		releaseRefs(l.v, l.refs)
		a.local[i] = localRun{}
	}
	a.local = a.local[:0]
	for len(a.live) > 0 {
		a.closeStream(a.live[0])
	}
	for _, in := range a.inboxes {
		a.dropInbox(in)
	}
	for t := range a.out {
		o := &a.out[t]
		for o.backlog.len() > 0 {
			v, _ := o.backlog.pop()
			_ = v.Release()
		}
		o.w.Close()
	}
	a.bcast.Close()
}

// ---- statistics ------------------------------------------------------------

// DropStats counts messages dropped by cause.
type DropStats struct {
	// ClosedChannel counts messages for channels whose puller was closed.
	ClosedChannel uint64
	// StagedLimit counts messages for unallocated channels dropped at the
	// staged limit.
	StagedLimit uint64
	// BadFrames counts received buffers cut short by a frame that did not
	// parse, and BadFrameBytes the bytes dropped with them.
	BadFrames, BadFrameBytes uint64
	// PeerGone counts publications refused because their target shut down.
	PeerGone uint64
	// Abandoned counts messages that arrived after the worker's function
	// in Run returned, released unread.
	Abandoned uint64
}

// PeerStats describes the traffic between this worker and one peer.
type PeerStats struct {
	// BytesSent and MessagesSent count payload bytes and messages pushed to
	// the peer.
	BytesSent, MessagesSent uint64
	// BytesReceived and MessagesReceived count payload bytes and messages
	// received from the peer.
	BytesReceived, MessagesReceived uint64
	// Backlog is the number of views waiting for room in the peer's ring.
	Backlog int
	// Streaming reports whether an eager stream to the peer is open. Each
	// stream's start and end are views of the buffer it was in, and count
	// in OutstandingViews until the peer has taken the end (and, for the
	// start, from when it was pushed, whether or not the peer has drained
	// it yet).
	Streaming bool
	// InFlight is the bytes written for the peer that it has not released,
	// as the budget counts them: published or still pending publication.
	InFlight int
}

// Stats is a snapshot of one worker's counters.
type Stats struct {
	// Peers holds one entry per worker, this one included.
	Peers []PeerStats
	// Drops counts dropped messages by cause.
	Drops DropStats
	// Queued is the number of received messages not yet pulled; Staged the
	// bytes of those held for channels not yet allocated.
	Queued, Staged int
	// Unreleased is the number of messages this worker pulled and has not
	// released; OldestUnreleased is how long ago the oldest of them was
	// pulled (measured to within one epoch: at most 1024 pulls, and never
	// across a sleep). A reader that never releases shows here, and in its
	// senders' backpressure.
	Unreleased       int64
	OldestUnreleased time.Duration
	// Slab sums the memory statistics of this worker's writers.
	Slab slab.Stats
	// Buzzer counts this worker's sleeps and wake-ups.
	Buzzer buzzer.Stats
}

// Stats returns a snapshot of the worker's counters.
func (a *Allocator) Stats() Stats {
	s := Stats{
		Peers:  make([]PeerStats, a.peers),
		Drops:  a.drops,
		Queued: a.queued,
		Staged: a.staged,
		Buzzer: a.buzzer.Stats(),
	}
	var oldest time.Time
	if s.Unreleased, oldest = a.epochs.outstanding(); s.Unreleased > 0 {
		s.OldestUnreleased = time.Since(oldest)
	}
	add := func(w *slab.Writer) {
		ws := w.Stats()
		s.Slab.BuffersMapped += ws.BuffersMapped
		s.Slab.BytesMapped += ws.BytesMapped
		s.Slab.HighWaterBytes += ws.HighWaterBytes
		s.Slab.BuffersAllocated += ws.BuffersAllocated
		s.Slab.BuffersReused += ws.BuffersReused
		s.Slab.BytesInFlight += ws.BytesInFlight
		s.Slab.OutstandingViews += ws.OutstandingViews
		s.Slab.OverReleases += ws.OverReleases
		s.Slab.DoubleReleases += ws.DoubleReleases
		s.Slab.FreeErrors += ws.FreeErrors
	}
	for t := range a.out {
		o := &a.out[t]
		s.Peers[t] = PeerStats{
			BytesSent:        o.bytesSent,
			MessagesSent:     o.messagesSent,
			BytesReceived:    a.received[t].bytes,
			MessagesReceived: a.received[t].messages,
			Backlog:          o.backlog.len(),
			Streaming:        o.streaming,
			InFlight:         a.inFlight(o, t),
		}
		add(o.w)
	}
	add(a.bcast)
	return s
}
