package original

import (
	"fmt"
	"time"

	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/slab"
)

// frameOverhead is the bytes a frame adds to its payload.
const frameOverhead = header.Size

// inbox holds the received messages of one channel, allocated or not yet.
type inbox struct {
	id        uint64
	q         fifo[slab.View]
	allocated bool // a puller exists (or existed)
	closed    bool // the puller was closed; forget the channel at the next Receive
}

// frameRef locates one frame within a received view.
type frameRef struct {
	off, n  int
	channel uint64
}

// Allocator is one worker's endpoint: it allocates channels, publishes what
// the worker pushed, receives what peers pushed, and parks the worker when
// there is nothing to do. An Allocator, and every Channel it made, belongs to
// one goroutine; only Message.Release may be called elsewhere.
type Allocator struct {
	g     *group
	cfg   *config
	index int
	peers int

	out    []*slab.Writer // out[t] holds what this worker writes for worker t
	closed bool           // Close was called: no more pushes
	freed  bool           // Shutdown was called

	spare    []slab.View // the slice Receive swaps into a queue it drains
	frames   []frameRef
	inboxes  map[uint64]*inbox
	forget   []*inbox // closed pullers, forgotten at the next Receive
	bound    uint64   // highest channel id allocated, if hasBound
	hasBound bool
	events   []uint64
	queued   int // messages held in inboxes

	timer *time.Timer // AwaitEvents' reusable timeout
	stats Stats
}

func newAllocator(g *group, index int) (*Allocator, error) {
	a := &Allocator{
		g:       g,
		cfg:     &g.cfg,
		index:   index,
		peers:   g.peers,
		out:     make([]*slab.Writer, g.peers),
		inboxes: make(map[uint64]*inbox),
		timer:   newTimer(),
	}
	for t := range a.out {
		w, err := slab.NewWriter(g.cfg.slab)
		if err != nil {
			for _, w := range a.out[:t] {
				w.Close()
			}
			return nil, fmt.Errorf("original: %w", err)
		}
		a.out[t] = w
	}
	return a, nil
}

// Index returns this worker's index, in [0, Peers()).
func (a *Allocator) Index() int { return a.index }

// Peers returns the number of workers in the group.
func (a *Allocator) Peers() int { return a.peers }

// Publish returns the publishing mode.
func (a *Allocator) Publish() Publish { return a.cfg.publish }

// ---- sending ---------------------------------------------------------------

// publish hands everything written for target t to t's queue from this
// worker, and wakes t if that queue was empty. On a push refused because t
// shut down, the view is released and the error returned.
func (a *Allocator) publish(t int) error {
	v, ok := a.out[t].Extract()
	if !ok {
		return nil
	}
	wasEmpty, err := a.g.queue(t, a.index).push(v)
	if err != nil {
		_ = v.Release()
		a.stats.PeerGone++
		return fmt.Errorf("%w: worker %d", err, t)
	}
	a.stats.Published++
	if wasEmpty {
		// Timely's Buzzer: every empty -> non-empty transition wakes the
		// receiver, asleep or not. The push above released the queue's
		// mutex, so the receiver that takes this token finds the view.
		a.g.signal(t)
		a.stats.Wakes++
	}
	return nil
}

// Release publishes everything pushed since the last publication, to every
// target. In eager mode there is nothing left to publish.
func (a *Allocator) Release() error {
	if a.freed {
		return fmt.Errorf("%w: worker %d was shut down", ErrClosed, a.index)
	}
	var first error
	for t, w := range a.out {
		if w.Pending() == 0 {
			continue
		}
		if err := a.publish(t); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ---- receiving -------------------------------------------------------------

// Receive takes everything peers have published to this worker from each of
// its P queues in turn, splits it into messages, records the channel of each
// in the events list, and queues each for its channel's puller. Messages for
// channels not yet allocated are kept for their puller; messages for
// channels whose puller was closed are dropped and counted.
//
// A buffer holding a frame that does not parse is reported with an error
// wrapping ErrBadFrame that names the sending worker and the offset; the
// frames before it are delivered, the rest of it is dropped and counted, and
// the other buffers are received as usual. The first such error is returned
// after everything else was received.
func (a *Allocator) Receive() error {
	if a.freed {
		return fmt.Errorf("%w: worker %d was shut down", ErrClosed, a.index)
	}
	for i, in := range a.forget {
		a.dropInbox(in)
		a.forget[i] = nil
	}
	a.forget = a.forget[:0]

	var first error
	for s := 0; s < a.peers; s++ {
		views := a.g.queue(a.index, s).take(a.spare)
		for i, v := range views {
			if err := a.split(s, v); err != nil && first == nil {
				first = err
			}
			views[i] = slab.View{}
		}
		a.spare = views[:0]
	}
	return first
}

// split divides one received view, from worker peer, into frames and routes
// each. The view's reference passes to its first frame, and one more is
// acquired for each further frame, as in process.
func (a *Allocator) split(peer int, v slab.View) error {
	data := v.Bytes()
	frames := a.frames[:0]
	var err error
	off := 0
	for off < len(data) {
		h, derr := header.Decode(data[off:])
		if derr != nil {
			err = fmt.Errorf("%w: from worker %d at offset %d of %d: %w",
				ErrBadFrame, peer, off, len(data), derr)
			break
		}
		n, cerr := h.Check(len(data)-off, uint64(a.cfg.maxPayload), uint64(a.index),
			uint64(a.peers))
		if cerr != nil {
			err = fmt.Errorf("%w: from worker %d at offset %d of %d: %w",
				ErrBadFrame, peer, off, len(data), cerr)
			break
		}
		frames = append(frames, frameRef{off: off, n: n, channel: h.Channel})
		off += n
	}
	a.frames = frames
	if err != nil {
		a.stats.BadFrames++
		a.stats.BadFrameBytes += uint64(len(data) - off)
	}
	if len(frames) == 0 {
		_ = v.Release()
		return err
	}
	v.Acquire(len(frames) - 1)
	for _, f := range frames {
		a.stats.Received++
		if rerr := a.route(f.channel, v.Slice(f.off, f.n)); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// route records an event for channel id and hands the frame to its inbox,
// creating one for a channel not yet allocated, or drops it.
func (a *Allocator) route(id uint64, f slab.View) error {
	a.events = append(a.events, id)
	in := a.inboxes[id]
	if in == nil {
		if a.hasBound && id <= a.bound {
			// The channel was allocated and has since been forgotten.
			a.stats.ClosedChannel++
			return f.Release()
		}
		in = &inbox{id: id}
		a.inboxes[id] = in
	}
	if in.closed {
		a.stats.ClosedChannel++
		return f.Release()
	}
	in.q.push(f)
	a.queued++
	return nil
}

// dropInbox forgets a channel, releasing what it still held.
func (a *Allocator) dropInbox(in *inbox) {
	for in.q.len() > 0 {
		v, _ := in.q.pop()
		_ = v.Release()
		a.queued--
		a.stats.ClosedChannel++
	}
	delete(a.inboxes, in.id)
}

// HasEvents reports whether the events list is non-empty.
func (a *Allocator) HasEvents() bool { return len(a.events) > 0 }

// DrainEvents appends the channel ids that saw activity since the last call
// (one per message received, one per puller that ran dry after delivering)
// to dst, clears the list, and returns the extended slice.
func (a *Allocator) DrainEvents(dst []uint64) []uint64 {
	dst = append(dst, a.events...)
	a.events = a.events[:0]
	return dst
}

// AwaitEvents parks the worker while it has no events, until a peer's push
// turns one of its queues from empty to non-empty, a peer closes, or timeout
// passes (a negative timeout waits without limit). As timely's does, it
// sleeps without looking at the queues: a wake token left by a push since the
// last sleep makes it return at once. It returns at once if there are events
// or the worker is Finished. It does not receive: call Receive afterwards.
func (a *Allocator) AwaitEvents(timeout time.Duration) error {
	if a.freed {
		return fmt.Errorf("%w: worker %d was shut down", ErrClosed, a.index)
	}
	if len(a.events) > 0 || timeout == 0 || a.Finished() {
		return nil
	}
	a.stats.Sleeps++
	wake := a.g.wake[a.index]
	if timeout < 0 {
		<-wake
		return nil
	}
	a.timer.Reset(timeout)
	select {
	case <-wake:
	case <-a.timer.C:
	}
	a.timer.Stop()
	return nil
}

// ---- closing ---------------------------------------------------------------

// Close ends this worker's sending side: it publishes everything it has
// pushed, then tells every peer it is done and wakes each. Receiving still
// works after Close, so a worker can read until Finished. Later pushes fail
// with ErrClosed. Calling Close again does nothing. An error names a peer
// that shut down before it could receive what was for it.
func (a *Allocator) Close() error {
	if a.closed || a.freed {
		return nil
	}
	err := a.Release()
	a.closed = true
	a.g.closed.Add(1)
	for r := 0; r < a.peers; r++ {
		a.g.signal(r)
	}
	a.stats.Wakes += uint64(a.peers)
	return err
}

// Finished reports whether every worker of the group, this one included, has
// closed its sending side and this worker has received and pulled
// everything: nothing is left in its queues or its channels.
func (a *Allocator) Finished() bool {
	// Each worker publishes everything before it counts itself closed, so
	// once the count is complete an empty queue stays empty.
	if a.g.closed.Load() != int64(a.peers) || a.queued != 0 {
		return false
	}
	for s := 0; s < a.peers; s++ {
		if !a.g.queue(a.index, s).empty() {
			return false
		}
	}
	return true
}

// Shutdown releases everything this worker holds: views still in its
// queues and its channels, and its writers' buffers (a buffer that a peer
// still holds a view of is freed when that view is released). Peers' later
// pushes to this worker fail with ErrPeerGone. Call it once the worker is
// done, after Close. Calling it again does nothing.
func (a *Allocator) Shutdown() {
	if a.freed {
		return
	}
	a.freed = true
	for s := 0; s < a.peers; s++ {
		for _, v := range a.g.queue(a.index, s).shut() {
			_ = v.Release()
		}
	}
	for _, in := range a.inboxes {
		a.dropInbox(in)
	}
	for _, w := range a.out {
		w.Close()
	}
}

// ---- statistics ------------------------------------------------------------

// Stats counts one worker's activity.
type Stats struct {
	// Published counts views this worker handed to a peer's queue, merged
	// or not.
	Published uint64
	// Wakes counts the wake signals this worker sent: one for every push
	// that found a peer's queue empty, and one per peer at Close.
	Wakes uint64
	// Sleeps counts calls to AwaitEvents that waited.
	Sleeps uint64
	// Received counts messages this worker received.
	Received uint64
	// ClosedChannel counts messages dropped because their channel's puller
	// was closed.
	ClosedChannel uint64
	// BadFrames counts received buffers cut short by a frame that did not
	// parse, and BadFrameBytes the bytes dropped with them.
	BadFrames, BadFrameBytes uint64
	// PeerGone counts publications refused because their target shut down.
	PeerGone uint64
}

// Stats returns a snapshot of the worker's counters.
func (a *Allocator) Stats() Stats { return a.stats }
