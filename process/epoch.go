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
// oldest is, at one atomic add per pull and one per release.
type epoch struct {
	// start is when the epoch's first message was pulled. Written by the
	// worker before any message of the epoch exists; read by the worker.
	start time.Time
	// live counts the epoch's pulled messages not yet released. The worker
	// adds at each pull; Message.Release subtracts, on any goroutine.
	live atomic.Int64
}

// epochs is a worker's list of epochs that may still have live messages.
// Worker only.
type epochs struct {
	cur   *epoch
	pulls int      // pulls in cur
	list  []*epoch // oldest first; cur is last
	spare []*epoch // reclaimed, ready for reuse
}

// pulled accounts for one pulled message and returns its epoch.
func (e *epochs) pulled() *epoch {
	if e.cur == nil || e.pulls >= epochPulls {
		e.next()
	}
	e.pulls++
	e.cur.live.Add(1)
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
	ep.start = time.Now()
	e.cur, e.pulls = ep, 0
	e.list = append(e.list, ep)
}

// reclaim moves epochs with no live message to the spare list, keeping the
// order of the rest. An epoch is reclaimed only once no unreleased message
// refers to it, so its reuse cannot disturb a count.
func (e *epochs) reclaim() {
	kept := e.list[:0]
	for _, ep := range e.list {
		if ep != e.cur && ep.live.Load() == 0 {
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
		if k := ep.live.Load(); k > 0 {
			if n == 0 {
				oldest = ep.start
			}
			n += k
		}
	}
	return n, oldest
}
