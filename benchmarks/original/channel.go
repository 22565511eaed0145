package original

import (
	"fmt"

	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/slab"
)

// Channel is one worker's end of a channel: it pushes byte payloads to every
// worker (itself included) and holds the puller of what every worker pushed
// to it.
type Channel struct {
	// ID is the channel's identifier, the same on every worker.
	ID uint64
	// Puller yields the messages other workers pushed to this one.
	Puller *Puller

	a    *Allocator
	hdrs []header.Header // hdrs[t] is the template towards worker t
}

// Allocate returns this worker's end of channel id. Ids must be allocated in
// strictly increasing order on each allocator; a lower or repeated id is an
// error wrapping ErrChannelOrder. Messages that arrived for id before this
// call are waiting in the puller; those staged for lower ids, which can
// never be allocated now, are dropped.
func Allocate(a *Allocator, id uint64) (*Channel, error) {
	if a.freed {
		return nil, fmt.Errorf("%w: worker %d was shut down", ErrClosed, a.index)
	}
	if a.hasBound && id <= a.bound {
		return nil, fmt.Errorf("%w: channel %d requested after channel %d",
			ErrChannelOrder, id, a.bound)
	}
	a.bound, a.hasBound = id, true
	for cid, in := range a.inboxes {
		if cid < id && !in.allocated {
			a.dropInbox(in)
		}
	}

	c := &Channel{ID: id, a: a, hdrs: make([]header.Header, a.peers)}
	for t := range c.hdrs {
		c.hdrs[t] = header.Header{
			Channel:     id,
			Source:      uint64(a.index),
			TargetLower: uint64(t),
			TargetUpper: uint64(t) + 1,
		}
	}
	in := a.inboxes[id]
	if in == nil {
		in = &inbox{id: id}
		a.inboxes[id] = in
	}
	in.allocated = true
	c.Puller = &Puller{a: a, in: in}
	return c, nil
}

// Push writes payload, behind a header with the next sequence number towards
// target, into this worker's slab for target: one copy. In eager mode the
// message reaches the target's queue at once; in batched mode at the next
// Release, or when the buffer fills. Push never blocks and never refuses for
// lack of room: the queues are unbounded. It fails with ErrTooLarge for a
// payload above the maximum, ErrClosed after Close, and ErrPeerGone when the
// target has shut down.
func (c *Channel) Push(target int, payload []byte) error {
	a := c.a
	if a.closed || a.freed {
		return fmt.Errorf("%w: worker %d closed its sending side", ErrClosed, a.index)
	}
	n := len(payload)
	if n > a.cfg.maxPayload {
		return fmt.Errorf("%w: %d bytes, maximum %d", ErrTooLarge, n, a.cfg.maxPayload)
	}
	size := n + frameOverhead
	w := a.out[target]
	if w.Available() < size && w.Pending() > 0 {
		// The buffer is full: hand it over, whatever the mode, as timely's
		// SendEndpoint does before it asks for room.
		if err := a.publish(target); err != nil {
			return err
		}
	}
	buf, err := w.Reserve(size)
	if err != nil {
		return fmt.Errorf("original: %w", err)
	}
	h := &c.hdrs[target]
	h.Length = uint64(n)
	h.Put(buf)
	h.Seqno++
	copy(buf[frameOverhead:], payload)
	w.Commit(size)
	if a.cfg.publish == Eager {
		return a.publish(target)
	}
	return nil
}

// Close closes the channel's puller (see Puller.Close).
func (c *Channel) Close() { c.Puller.Close() }

// Message is one received message. Its payload lies in the sender's slab
// and is valid until Release. Release every message exactly once; until
// then the sender cannot reuse its memory.
type Message struct {
	// Header is the frame's header as the sender wrote it.
	Header header.Header

	view slab.View
}

// Payload returns the message's payload bytes, valid until Release.
func (m *Message) Payload() []byte { return m.view.Bytes()[frameOverhead:] }

// Release gives the message's memory back to its sender. It may be called
// from any goroutine.
func (m *Message) Release() error { return m.view.Release() }

// Puller yields the messages other workers pushed to one worker on one
// channel, in the order each sender pushed them.
type Puller struct {
	a         *Allocator
	in        *inbox
	delivered bool // returned a message since the puller last ran dry
}

// Pull returns the next received message and true, or false when none is
// waiting or the puller was closed. A puller that runs dry after delivering
// messages records its channel in the events list.
func (p *Puller) Pull() (Message, bool) {
	if p.in.closed {
		return Message{}, false
	}
	v, ok := p.in.q.pop()
	if !ok {
		if p.delivered {
			p.delivered = false
			p.a.events = append(p.a.events, p.in.id)
		}
		return Message{}, false
	}
	p.a.queued--
	p.delivered = true
	h, _ := header.Decode(v.Bytes()) // checked when received
	return Message{Header: h, view: v}, true
}

// Len returns the number of messages waiting in the puller.
func (p *Puller) Len() int { return p.in.q.len() }

// Close closes the puller: the messages it still holds, and any that arrive
// for its channel later, are dropped (counted in Stats) and released at the
// next Receive.
func (p *Puller) Close() {
	if p.in.closed {
		return
	}
	p.in.closed = true
	p.a.forget = append(p.a.forget, p.in)
}
