package process

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/zcomm-go/zcomm/buzzer"
	"github.com/zcomm-go/zcomm/internal/unsafeutil"
	"github.com/zcomm-go/zcomm/ring"
	"github.com/zcomm-go/zcomm/slab"
)

// group is the state the workers of one process share: each worker's ring
// and buzzer, and the close and poison flags.
type group struct {
	peers int
	cfg   config

	rings   []*ring.Ring[slab.View] // rings[j] carries views to worker j
	buzzers []*buzzer.Buzzer        // buzzers[j] parks worker j
	cursors []cursor                // cursors[i*peers+j]: worker i's stream to worker j

	_ unsafeutil.Pad

	// closed counts workers that called Close. A worker adds one after it
	// has pushed everything it will ever push, so a reader that loads
	// closed == peers and then finds its ring empty knows nothing is left.
	closed atomic.Int64
	// poison is set once, by the first call to poison, and read by every
	// call of every worker.
	poison atomic.Pointer[PoisonError]

	_ unsafeutil.Pad
}

// cursor holds the positions of an eager sender's stream to one receiver:
// the stream's number in the high 32 bits (streams opened so far, wrapping)
// and an offset in the stream's buffer in the low 32.
type cursor struct {
	_ unsafeutil.Pad
	// pos is where the stream's handed-out frames end. The sender stores it
	// after every eager commit, after writing the frame; the receiver loads
	// it at every Receive and before it sleeps, and takes the frames up to
	// the offset when the number is that of the stream it has open.
	pos atomic.Uint64
	_   unsafeutil.Pad
	// taken is where the receiver has taken the stream's frames up to,
	// stored after it took references for them. The sender loads it only
	// off the message path (when its budget looks spent, when the buffer
	// fills, for Stats): once taken equals pos and the stream's own view is
	// the only one of the buffer left, every byte it handed out there has
	// been released.
	taken atomic.Uint64
	_     unsafeutil.Pad
}

// at packs a stream number and an offset into a cursor position.
func at(stream uint32, off int) uint64 { return uint64(stream)<<32 | uint64(uint32(off)) }

// PoisonError is the error every call of every worker returns after some
// worker failed. It wraps ErrPoisoned and the cause.
type PoisonError struct {
	// Worker is the index of the worker that poisoned the group, or -1 when
	// the group was poisoned from outside (a cancelled context).
	Worker int
	// Cause is what went wrong.
	Cause error
}

// Error describes the poisoning.
func (e *PoisonError) Error() string {
	if e.Worker < 0 {
		return fmt.Sprintf("process: workers stopped: %v", e.Cause)
	}
	return fmt.Sprintf("process: poisoned by worker %d: %v", e.Worker, e.Cause)
}

// Unwrap returns ErrPoisoned and the cause, so that errors.Is matches both.
func (e *PoisonError) Unwrap() []error { return []error{ErrPoisoned, e.Cause} }

// PanicError is the error Run reports for a worker that panicked.
type PanicError struct {
	// Worker is the index of the worker that panicked.
	Worker int
	// Value is the value passed to panic.
	Value any
	// Stack is the worker's stack when it panicked.
	Stack []byte
}

// Error describes the panic.
func (e *PanicError) Error() string {
	return fmt.Sprintf("process: worker %d panicked: %v", e.Worker, e.Value)
}

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// poisonWith records the first cause, poisons every ring and wakes every
// worker. Later calls change nothing.
func (g *group) poisonWith(worker int, cause error) {
	if cause == nil {
		cause = errors.New("no cause given")
	}
	if !g.poison.CompareAndSwap(nil, &PoisonError{Worker: worker, Cause: cause}) {
		return
	}
	for _, r := range g.rings {
		r.Poison()
	}
	g.wakeAll()
}

// poisoned returns the group's PoisonError, or nil.
func (g *group) poisoned() error {
	if p := g.poison.Load(); p != nil {
		return p
	}
	return nil
}

func (g *group) wakeAll() {
	for _, b := range g.buzzers {
		b.Wake()
	}
}

// Builder makes the allocator of one worker. Builders are made for every
// worker at once by NewBuilders, and each is turned into its allocator by
// Build on the goroutine that will use the allocator.
type Builder struct {
	g     *group
	index int
	built atomic.Bool
}

// NewBuilders returns one Builder for each of peers workers, sharing their
// rings and buzzers.
func NewBuilders(peers int, opts ...Option) ([]*Builder, error) {
	if peers < 1 {
		return nil, fmt.Errorf("process: %d workers: want at least one", peers)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if need := cfg.maxPayload + frameOverhead; cfg.slab.MaxReserve < need {
		cfg.slab.MaxReserve = need
	}
	cfg.buzzer.Sleepers = peers
	g := &group{peers: peers, cfg: cfg, cursors: make([]cursor, peers*peers)}
	for i := 0; i < peers; i++ {
		r, err := ring.New[slab.View](cfg.ringSize)
		if err != nil {
			return nil, fmt.Errorf("process: %w", err)
		}
		g.rings = append(g.rings, r)
		g.buzzers = append(g.buzzers, buzzer.New(cfg.buzzer))
	}
	bs := make([]*Builder, peers)
	for i := range bs {
		bs[i] = &Builder{g: g, index: i}
	}
	return bs, nil
}

// Index returns the index of the worker this builder is for.
func (b *Builder) Index() int { return b.index }

// Build returns the worker's allocator. Call it on the goroutine that will
// own the allocator, once.
func (b *Builder) Build() (*Allocator, error) {
	if !b.built.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("process: builder of worker %d was already built", b.index)
	}
	return newAllocator(b.g, b.index)
}
