package original

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zcomm-go/zcomm/slab"
)

// Publish selects when pushed messages reach their receiver's queue.
type Publish uint8

const (
	// Eager hands every push to the receiver's queue at once, as timely's
	// allocator does.
	Eager Publish = iota
	// Batched hands pushes over at Release, or when the sender's buffer
	// fills.
	Batched
)

// String returns the mode's name.
func (p Publish) String() string {
	switch p {
	case Eager:
		return "eager"
	case Batched:
		return "batched"
	}
	return fmt.Sprintf("Publish(%d)", uint8(p))
}

// DefaultMaxPayload bounds one message's payload: 64 MiB, as in process.
const DefaultMaxPayload = 64 << 20

// Errors returned by the allocator and its channels. Each is wrapped with
// the details that caused it; test for them with errors.Is.
var (
	// ErrClosed means the allocator's sending side, or a puller, was closed,
	// or the allocator was shut down.
	ErrClosed = errors.New("original: closed")
	// ErrChannelOrder means a channel id was not above every id allocated
	// before on this allocator.
	ErrChannelOrder = errors.New("original: channel ids must increase")
	// ErrBadFrame means a received buffer held a frame that does not parse;
	// the rest of that buffer was dropped.
	ErrBadFrame = errors.New("original: bad frame")
	// ErrTooLarge means a payload exceeds the maximum payload size.
	ErrTooLarge = errors.New("original: payload too large")
	// ErrPeerGone means a message could not be delivered because its target
	// worker has shut down.
	ErrPeerGone = errors.New("original: peer has shut down")
)

// config is the set of options, shared by every worker of a group.
type config struct {
	publish    Publish
	maxPayload int
	slab       slab.Config
}

// Option changes one setting of a group of workers.
type Option func(*config) error

// WithPublish selects eager or batched publishing. The default is Eager.
func WithPublish(p Publish) Option {
	return func(c *config) error {
		if p != Eager && p != Batched {
			return fmt.Errorf("original: unknown publish mode %d", p)
		}
		c.publish = p
		return nil
	}
}

// WithMaxPayload bounds one message's payload. A frame that declares more is
// a bad frame to its receiver, and a push of more is refused.
func WithMaxPayload(bytes int) Option {
	return func(c *config) error {
		if bytes < 0 {
			return fmt.Errorf("original: max payload %d: want a non-negative size", bytes)
		}
		c.maxPayload = bytes
		return nil
	}
}

// WithSlab sets the configuration of every writer. The maximum reservation
// is raised, if needed, to hold the largest frame.
func WithSlab(s slab.Config) Option {
	return func(c *config) error {
		c.slab = s
		return nil
	}
}

// mergeQueue is timely's MergeQueue: an unbounded FIFO of views from one
// sender to one receiver, guarded by a mutex. The sender appends (merging
// into the last view when the new one continues it); the receiver takes
// everything at once. The padding keeps queues that different pairs of
// workers lock off each other's cache lines.
type mergeQueue struct {
	_ [64]byte

	mu    sync.Mutex
	views []slab.View // oldest first; guarded by mu
	gone  bool        // the receiver shut down; guarded by mu

	_ [64]byte
}

// push appends v, merging it into the last view when contiguous, and
// reports whether the queue was empty before, that is, whether the receiver
// must be woken. It refuses v, leaving it with the caller, once the receiver
// has shut down.
func (q *mergeQueue) push(v slab.View) (wasEmpty bool, err error) {
	q.mu.Lock()
	if q.gone {
		q.mu.Unlock()
		return false, ErrPeerGone
	}
	k := len(q.views)
	if k > 0 {
		if m, ok := q.views[k-1].Merge(v); ok {
			q.views[k-1] = m
			q.mu.Unlock()
			return false, nil
		}
	}
	q.views = append(q.views, v)
	q.mu.Unlock()
	return k == 0, nil
}

// take returns every view in the queue, in order, and leaves the queue with
// spare, an empty slice whose capacity it reuses. Swapping the two slices
// keeps the critical section to a few stores and allocates nothing once both
// slices have grown.
func (q *mergeQueue) take(spare []slab.View) []slab.View {
	q.mu.Lock()
	views := q.views
	if len(views) == 0 {
		q.mu.Unlock()
		return spare
	}
	q.views = spare
	q.mu.Unlock()
	return views
}

// empty reports whether the queue holds no view.
func (q *mergeQueue) empty() bool {
	q.mu.Lock()
	n := len(q.views)
	q.mu.Unlock()
	return n == 0
}

// shut marks the queue gone and returns what it held, for the caller to
// release.
func (q *mergeQueue) shut() []slab.View {
	q.mu.Lock()
	q.gone = true
	views := q.views
	q.views = nil
	q.mu.Unlock()
	return views
}

// group is the state the workers of one process share: the P*P queues, the
// wake channels, and the close count.
type group struct {
	peers int
	cfg   config

	// queues[r*peers+s] carries views from worker s to worker r.
	queues []*mergeQueue
	// wake[r] holds at most one token for worker r. A sender puts one there,
	// without blocking, every time one of r's queues goes from empty to
	// non-empty; r takes it in AwaitEvents. The channel operations order the
	// sender's push before r's wake-up, and the token persists, so no wake-up
	// is lost.
	wake []chan struct{}

	// closed counts workers that called Close. A worker adds one after it
	// has pushed everything it will ever push.
	closed atomic.Int64
}

// queue returns the queue that carries views from sender to receiver.
func (g *group) queue(receiver, sender int) *mergeQueue {
	return g.queues[receiver*g.peers+sender]
}

// signal puts a token in worker r's wake channel unless one is there.
func (g *group) signal(r int) {
	select {
	case g.wake[r] <- struct{}{}:
	default:
	}
}

// NewGroup returns one Allocator for each of peers workers, sharing their
// queues and wake channels. Hand each allocator to the goroutine that will
// own it.
func NewGroup(peers int, opts ...Option) ([]*Allocator, error) {
	if peers < 1 {
		return nil, fmt.Errorf("original: %d workers: want at least one", peers)
	}
	cfg := config{publish: Eager, maxPayload: DefaultMaxPayload}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	maxReserve := cfg.slab.MaxReserve
	if maxReserve == 0 {
		maxReserve = slab.DefaultMaxReserve
	}
	if need := cfg.maxPayload + frameOverhead; maxReserve < need {
		cfg.slab.MaxReserve = need
	}
	g := &group{
		peers:  peers,
		cfg:    cfg,
		queues: make([]*mergeQueue, peers*peers),
		wake:   make([]chan struct{}, peers),
	}
	for i := range g.queues {
		g.queues[i] = new(mergeQueue)
	}
	for i := range g.wake {
		g.wake[i] = make(chan struct{}, 1)
	}
	as := make([]*Allocator, peers)
	for i := range as {
		a, err := newAllocator(g, i)
		if err != nil {
			for _, b := range as[:i] {
				b.Shutdown()
			}
			return nil, err
		}
		as[i] = a
	}
	return as, nil
}

// newTimer returns a stopped timer for AwaitEvents to reset.
func newTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}
