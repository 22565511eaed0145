package process

import (
	"sync/atomic"
	"time"
)

// epochPulls is how many pulls an epoch spans at most. An epoch also ends
// when its worker really sleeps, so a quiet worker's epochs stay short in
// time, and a busy worker reads the clock once per epochPulls messages.
const epochPulls = 1024

// epoch groups the messages a worker pulled over a short stretch, so that
// Stats can tell how many received messages are unreleased and how old the
// oldest is, at one atomic add per release and none per pull.
type epoch struct {
	// start is when the epoch's first message was pulled. Written by the
	// worker before any message of the epoch exists; read by the worker.
	start time.Time
	// pulls counts the epoch's pulled messages. Written and read by the
	// worker only, so a pull costs no atomic operation.
	pulls int64
	// released counts the epoch's messages released, by Message.Release on
	// any goroutine. The worker reads it; pulls-released are live.
	released atomic.Int64
}

// live returns the epoch's messages pulled and not released. Worker only.
func (ep *epoch) live() int64 { return ep.pulls - ep.released.Load() }

// epochs is a worker's list of epochs that may still have live messages.
// Worker only.
type epochs struct {
	cur   *epoch
	list  []*epoch // oldest first; cur is last
	spare []*epoch // reclaimed, ready for reuse
}

// pulled accounts for one pulled message and returns its epoch.
func (e *epochs) pulled() *epoch {
	if e.cur == nil || e.cur.pulls >= epochPulls {
		e.next()
	}
	e.cur.pulls++
	return e.cur
}

// end closes the current epoch; the next pull opens a new one.
func (e *epochs) end() { e.cur = nil }

// next opens a new epoch, reclaiming finished ones first.
func (e *epochs) next() {
	e.reclaim()
	var ep *epoch
	if k := len(e.spare); k > 0 {
		ep, e.spare = e.spare[k-1], e.spare[:k-1]
	} else {
		ep = new(epoch)
	}
	// Every message of a reclaimed epoch was released, so nothing refers
	// to it any more and its counters can start again.
	ep.start, ep.pulls = time.Now(), 0
	ep.released.Store(0)
	e.cur = ep
	e.list = append(e.list, ep)
}

// reclaim moves epochs with no live message to the spare list, keeping the
// order of the rest. An epoch is reclaimed only once no unreleased message
// refers to it, so its reuse cannot disturb a count.
func (e *epochs) reclaim() {
	kept := e.list[:0]
	for _, ep := range e.list {
		if ep != e.cur && ep.live() == 0 {
			e.spare = append(e.spare, ep)
		} else {
			kept = append(kept, ep)
		}
	}
	clear(e.list[len(kept):])
	e.list = kept
}

// outstanding returns the number of unreleased messages and the time the
// oldest of them was pulled (zero if none).
func (e *epochs) outstanding() (n int64, oldest time.Time) {
	for _, ep := range e.list {
		if k := ep.live(); k > 0 {
			if n == 0 {
				oldest = ep.start
			}
			n += k
		}
	}
	return n, oldest
}
