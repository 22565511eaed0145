package process

import (
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/slab"
)

// Channel is one worker's end of a channel: a pusher to every worker (itself
// included) and the puller of what every worker pushed to it.
type Channel[T any] struct {
	// ID is the channel's identifier, the same on every worker.
	ID uint64
	// Pushers holds one pusher per worker, indexed by the target's index.
	Pushers []*Pusher[T]
	// Puller yields the messages other workers pushed to this one.
	Puller *Puller[T]

	a     *Allocator
	codec Codec[T]
	bseq  uint64 // seqno of the next broadcast
}

// Allocate returns this worker's end of channel id, carrying values of T
// encoded by codec. Ids must be allocated in strictly increasing order on each
// allocator; a lower or repeated id is an error wrapping ErrChannelOrder.
// Messages that arrived for id before this call are waiting in the puller.
func Allocate[T any](a *Allocator, id uint64, codec Codec[T]) (*Channel[T], error) {
	if err := a.usable(); err != nil {
		return nil, err
	}
	if a.hasBound && id <= a.bound {
		return nil, fmt.Errorf("%w: channel %d requested after channel %d",
			ErrChannelOrder, id, a.bound)
	}
	a.bound, a.hasBound = id, true
	if a.staged > 0 {
		a.dropStagedBelow(id)
	}

	c := &Channel[T]{ID: id, a: a, codec: codec, Pushers: make([]*Pusher[T], a.peers)}
	for t := range c.Pushers {
		c.Pushers[t] = &Pusher[T]{
			a:     a,
			o:     &a.out[t],
			t:     t,
			codec: codec,
			hdr: header.Header{
				Channel:     id,
				Source:      uint64(a.index),
				TargetLower: uint64(t),
				TargetUpper: uint64(t) + 1,
			},
		}
	}
	in := a.inboxes[id]
	if in == nil {
		in = &inbox{id: id}
		a.inboxes[id] = in
	}
	in.allocated = true
	a.staged -= in.staged
	in.staged = 0
	c.Puller = &Puller[T]{a: a, in: in, codec: codec}
	return c, nil
}

// Push sends v to worker target. It is shorthand for c.Pushers[target].Push.
func (c *Channel[T]) Push(target int, v T) error { return c.Pushers[target].Push(v) }

// Owner returns the worker that owns key among peers workers: the xxhash of
// the key modulo peers. Exchange sends by this rule, so a worker can tell
// which keys are its own.
func Owner(key []byte, peers int) int { return int(xxhash.Sum64(key) % uint64(peers)) }

// OwnerString is Owner for a string key, without copying it.
func OwnerString(key string, peers int) int {
	return int(xxhash.Sum64String(key) % uint64(peers))
}

// Exchange sends v to the worker that owns key (see Owner), so that values
// with equal keys always reach the same worker.
func (c *Channel[T]) Exchange(key []byte, v T) error {
	return c.Pushers[Owner(key, c.a.peers)].Push(v)
}

// ExchangeString is Exchange for a string key.
func (c *Channel[T]) ExchangeString(key string, v T) error {
	return c.Pushers[OwnerString(key, c.a.peers)].Push(v)
}

// Broadcast sends v to every worker, this one included. The payload is
// encoded once, in one frame whose target range covers every worker, and each
// worker receives a view of the same bytes. A broadcast first publishes what
// was pushed to each worker before it, so that each receiver sees this
// worker's messages in the order they were sent; in batched mode it therefore
// ends the current batch.
func (c *Channel[T]) Broadcast(v T) error {
	a := c.a
	if err := a.usable(); err != nil {
		return err
	}
	if a.closed {
		return fmt.Errorf("%w: worker %d closed its sending side", ErrClosed, a.index)
	}
	n := c.codec.Size(v)
	if err := a.checkSize(n); err != nil {
		return err
	}
	size := n + frameOverhead
	if used := a.bcast.InFlight(); used > 0 && used+size > a.cfg.budget {
		a.bcast.Reclaim()
		if used = a.bcast.InFlight(); used > 0 && used+size > a.cfg.budget {
			a.brefuse = BackpressureError{Worker: a.index, Target: -1, InFlight: used,
				Budget: a.cfg.budget}
			a.pressured = true
			return &a.brefuse
		}
	}
	buf, err := a.bcast.Reserve(size)
	if err != nil {
		return fmt.Errorf("process: %w", err)
	}
	h := header.Header{
		Channel:     c.ID,
		Source:      uint64(a.index),
		TargetLower: 0,
		TargetUpper: uint64(a.peers),
		Length:      uint64(n),
		Seqno:       c.bseq,
	}
	h.Put(buf)
	c.codec.Encode(buf[frameOverhead:], v)
	a.bcast.Commit(size)
	c.bseq++
	view, _ := a.bcast.Extract()

	var first error
	for t := range a.out {
		o := &a.out[t]
		a.endStream(o, t) // the broadcast comes after the stream's frames
		if fv, ok := o.w.Extract(); ok {
			a.enqueue(t, fv)
		}
		share := view
		if t < a.peers-1 {
			share = view.Retain()
		}
		a.enqueue(t, share)
		o.bytesSent += uint64(n)
		o.messagesSent++
		if err := a.flush(t); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close closes the channel's puller (see Puller.Close).
func (c *Channel[T]) Close() { c.Puller.Close() }

// Pusher sends values of T to one worker on one channel.
type Pusher[T any] struct {
	a     *Allocator
	o     *outbound
	t     int
	codec Codec[T]
	hdr   header.Header // template: channel, source and target are fixed
}

// Target returns the index of the worker this pusher sends to.
func (p *Pusher[T]) Target() int { return p.t }

// Push encodes v into the sender's slab for the target, behind a header with
// this pusher's next sequence number. In eager mode the message is visible at
// once; in batched mode at the next Release, or when the buffer fills.
// Zero-length payloads are ordinary messages.
//
// Push never blocks. It fails with a *BackpressureError, which wraps
// ErrBackpressure, when the budget towards the target is spent (receive,
// release, retry), ErrTooLarge
// for a payload above the maximum, ErrClosed after Close, and ErrPoisoned
// once the group is poisoned; a failed push sent nothing.
func (p *Pusher[T]) Push(v T) error {
	slowdown()
	n := p.codec.Size(v)
	buf, err := p.a.reserve(p.o, p.t, n)
	if err != nil {
		return err
	}
	p.hdr.Length = uint64(n)
	p.hdr.Put(buf)
	p.hdr.Seqno++
	p.codec.Encode(buf[frameOverhead:], v)
	return p.a.commit(p.o, p.t, len(buf))
}

// Message is one received message. Its Value may alias the sender's slab
// memory (the Bytes codec does so): it is valid until Release. Release every
// message exactly once; until then the sender cannot reuse its memory.
type Message[T any] struct {
	// Value is the decoded payload.
	Value T

	view slab.View
	ep   *epoch
}

// Header returns the frame's header as the sender wrote it. It is read from
// the frame on each call, so that pulling a message costs nothing for the
// header when the caller does not ask for it. Valid until Release.
func (m *Message[T]) Header() (h header.Header) {
	_ = h.Read(m.view.Bytes()) // checked when received
	return h
}

// Payload returns the message's raw payload bytes, valid until Release.
func (m *Message[T]) Payload() []byte {
	if b := m.view.Bytes(); len(b) >= frameOverhead {
		return b[frameOverhead:]
	}
	return nil // a zero or released message
}

// Release gives the message's memory back to its sender. It may be called
// from any goroutine. Release clears m, so calling it again on the same
// value does nothing; releasing a copy of a released message is an error,
// always detected in checked builds and in every build once the sender's
// buffer has no view left.
func (m *Message[T]) Release() error {
	if err := m.view.Release(); err != nil {
		return err
	}
	if m.ep != nil {
		m.ep.released.Add(1)
	}
	m.view, m.ep = slab.View{}, nil
	return nil
}

// Puller yields the messages other workers pushed to one worker on one
// channel, in the order each sender pushed them.
type Puller[T any] struct {
	a         *Allocator
	in        *inbox
	codec     Codec[T]
	delivered bool // returned a message since the puller last ran dry
}

// Pull returns the next received message and true, or false when none is
// waiting. A puller that runs dry after delivering messages records its
// channel in the events list. A payload the codec cannot decode is released
// and reported as an error wrapping ErrDecode; the next Pull continues with
// the message after it.
//
// A loop that pulls many messages is faster with PullInto.
func (p *Puller[T]) Pull() (m Message[T], ok bool, err error) {
	ok, err = p.PullInto(&m)
	return m, ok, err
}

// PullInto is Pull writing the message into *m, which it overwrites only
// when it returns true: m must not hold a message still to be released.
//
// It exists for speed. A Message is larger than the registers Go returns
// values in, so the caller of Pull copies it out of memory that Pull has
// just written field by field, and the processor cannot forward those
// narrow stores to the copy's wide loads: the copy waits for them to reach
// the cache, for a tenth of the cost of a small message in a tight receive
// loop. PullInto writes the caller's Message in place, once.
func (p *Puller[T]) PullInto(m *Message[T]) (bool, error) {
	if err := p.a.usable(); err != nil {
		return false, err
	}
	if p.in.closed {
		return false, fmt.Errorf("%w: puller of channel %d", ErrClosed, p.in.id)
	}
	in := p.in
	if in.n == 0 {
		if p.delivered {
			p.delivered = false
			p.a.events = append(p.a.events, in.id)
		}
		return false, nil
	}
	r := in.q.front()
	from := r.from
	v, b, empty := r.next()
	if empty {
		in.q.skip() // next cleared the run
	}
	in.n--
	p.a.queued--
	p.delivered = true
	val, err := p.codec.Decode(b[frameOverhead:])
	if err != nil {
		h, _ := header.Decode(b) // checked when received
		_ = v.Release()
		if !errors.Is(err, ErrDecode) {
			err = fmt.Errorf("%w: %w", ErrDecode, err)
		}
		return false, fmt.Errorf("process: channel %d, message %d from worker %d: %w",
			h.Channel, h.Seqno, from, err)
	}
	// Field by field: a composite literal would be built on the stack and
	// copied, with the stall PullInto exists to avoid.
	m.Value, m.view, m.ep = val, v, p.a.epochs.pulled()
	return true, nil
}

// Len returns the number of messages waiting in the puller.
func (p *Puller[T]) Len() int { return p.in.n }

// Close closes the puller: the messages it still holds, and any that arrive
// for its channel later, are dropped (counted in Stats) and released at the
// next Receive. Pull then fails with ErrClosed.
func (p *Puller[T]) Close() {
	if p.in.closed {
		return
	}
	p.in.closed = true
	p.a.forget = append(p.a.forget, p.in)
}
