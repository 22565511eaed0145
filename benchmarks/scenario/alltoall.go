package scenario

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zcomm-go/zcomm/benchmarks/original"
	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/process"
)

// AllToAll configures one all-to-all exchange.
type AllToAll struct {
	// Workers is the number of workers, W, at least 1.
	Workers int
	// Size is the payload size in bytes, at least TagSize.
	Size int
	// Messages is the number of messages each worker sends, at least 1.
	// Message i of worker w goes to worker i%Workers.
	Messages int
	// Check makes every worker record each message it receives, for
	// VerifyAllToAll. It costs memory (Workers*Workers*Messages bytes) and
	// time, so leave it off when measuring.
	Check bool
	// CountMallocs fills in Result.Mallocs.
	CountMallocs bool
	// Ready, if not nil, is called once setup is done, just before the
	// workers start.
	Ready func()
}

func (c *AllToAll) validate() error {
	switch {
	case c.Workers < 1:
		return fmt.Errorf("scenario: %d workers: want at least 1", c.Workers)
	case c.Size < TagSize:
		return fmt.Errorf("scenario: payload size %d: want at least %d", c.Size, TagSize)
	case c.Messages < 1:
		return fmt.Errorf("scenario: %d messages: want at least 1", c.Messages)
	}
	return nil
}

// AllToAllFunc runs one all-to-all exchange over some transport.
type AllToAllFunc func(c AllToAll) (Result, error)

// AllToAllPeer is a named all-to-all transport.
type AllToAllPeer struct {
	// Name names the transport in reports, e.g. "zcomm-batched".
	Name string
	// Run runs one all-to-all over it.
	Run AllToAllFunc
}

// AllToAllPeers lists every all-to-all transport, in the order reports show
// them.
var AllToAllPeers = []AllToAllPeer{
	{"zcomm-batched", ZcommAllToAll(process.Batched)},
	{"zcomm-eager", ZcommAllToAll(process.Eager)},
	{"original-batched", OriginalAllToAll(original.Batched)},
	{"original-eager", OriginalAllToAll(original.Eager)},
	{"chan-per-msg", ChanPerMsgAllToAll},
	{"chan-batch", ChanBatchAllToAll},
}

// allToAllResult returns the result of an exchange whose workers received
// into ts, before its elapsed time is filled in.
func allToAllResult(c *AllToAll, ts []Tally) Result {
	n := c.Workers * c.Messages
	return Result{Messages: n, Bytes: int64(n) * int64(c.Size), Tallies: ts}
}

// ---- zcomm -----------------------------------------------------------------

// ZcommAllToAll returns the all-to-all exchange over zcomm's process package
// in the given publishing mode, with opts applied after it. A worker whose
// push meets backpressure publishes, receives and retries.
func ZcommAllToAll(mode process.Publish, opts ...process.Option) AllToAllFunc {
	opts = append([]process.Option{process.WithPublish(mode)}, opts...)
	return func(c AllToAll) (Result, error) {
		if err := c.validate(); err != nil {
			return Result{}, err
		}
		g, err := newZcommGroup(c.Workers, opts)
		if err != nil {
			return Result{}, err
		}
		defer g.shutdown()
		ts := newTallies(c.Workers, c.Messages, c.Check)
		res := allToAllResult(&c, ts)
		sw := start(c.Ready, c.CountMallocs)
		err = g.run(func(a *process.Allocator, abort *atomic.Bool) error {
			return zcommWorker(a, c.Size, c.Messages, &ts[a.Index()], abort)
		})
		sw.stop(&res)
		return res, err
	}
}

// zcommReceiver receives and releases everything a zcomm worker has been
// sent on one channel.
type zcommReceiver struct {
	a   *process.Allocator
	ch  *process.Channel[[]byte]
	tal *Tally
	evs []uint64
}

// drain receives, pulls, reads and releases every waiting message.
func (r *zcommReceiver) drain() error {
	if err := r.a.Receive(); err != nil {
		return err
	}
	var m process.Message[[]byte]
	for {
		ok, err := r.ch.Puller.PullInto(&m)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		r.tal.add(m.Value)
		if err := m.Release(); err != nil {
			return err
		}
	}
	r.evs = r.a.DrainEvents(r.evs[:0])
	return nil
}

// zcommWorker is one worker of the zcomm all-to-all exchange.
func zcommWorker(a *process.Allocator, size, n int, tal *Tally, abort *atomic.Bool) error {
	ch, err := process.Allocate(a, 1, process.Bytes{})
	if err != nil {
		return err
	}
	r := &zcommReceiver{a: a, ch: ch, tal: tal}
	me, peers := a.Index(), a.Peers()
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		putTag(payload, me, i)
		for {
			err := ch.Push(i%peers, payload)
			if err == nil {
				break
			}
			if !errors.Is(err, process.ErrBackpressure) {
				return err
			}
			// The target holds too much of ours: give it a chance to
			// release, and release what we hold of its.
			if err := a.Release(); err != nil {
				return err
			}
			if err := r.drain(); err != nil {
				return err
			}
			if abort.Load() {
				return errAborted
			}
			runtime.Gosched()
		}
		if (i+1)%BatchLen == 0 {
			if err := a.Release(); err != nil {
				return err
			}
			if err := r.drain(); err != nil {
				return err
			}
		}
	}
	if err := a.Close(context.Background()); err != nil {
		return err
	}
	return receiveUntilFinished(a.Finished, r.drain, a.AwaitEvents, abort)
}

// receiveUntilFinished is the end of a worker that has closed its sending
// side, for either allocator: it drains and parks until finished says every
// worker closed and nothing is left, or a peer failed.
func receiveUntilFinished(finished func() bool, drain func() error,
	await func(time.Duration) error, abort *atomic.Bool) error {
	for !finished() {
		if err := drain(); err != nil {
			return err
		}
		if abort.Load() {
			return errAborted
		}
		if err := await(awaitTimeout); err != nil {
			return err
		}
	}
	return nil
}

// ---- the original design ---------------------------------------------------

// OriginalAllToAll returns the all-to-all exchange over package original in
// the given publishing mode. Its queues are unbounded, so a push never needs
// a retry, and a sender that outruns its receivers grows their queues.
func OriginalAllToAll(mode original.Publish) AllToAllFunc {
	return func(c AllToAll) (Result, error) {
		if err := c.validate(); err != nil {
			return Result{}, err
		}
		allocs, err := original.NewGroup(c.Workers, original.WithPublish(mode))
		if err != nil {
			return Result{}, err
		}
		defer func() {
			for _, a := range allocs {
				a.Shutdown()
			}
		}()
		ts := newTallies(c.Workers, c.Messages, c.Check)
		res := allToAllResult(&c, ts)
		sw := start(c.Ready, c.CountMallocs)
		err = runWorkers(c.Workers, func(w int, abort *atomic.Bool) error {
			return originalWorker(allocs[w], c.Size, c.Messages, &ts[w], abort)
		}, nil)
		sw.stop(&res)
		return res, err
	}
}

// originalReceiver receives and releases everything a worker of the
// original design has been sent on one channel.
type originalReceiver struct {
	a   *original.Allocator
	ch  *original.Channel
	tal *Tally
	evs []uint64
}

// drain receives, pulls, reads and releases every waiting message.
func (r *originalReceiver) drain() error {
	if err := r.a.Receive(); err != nil {
		return err
	}
	for {
		m, ok := r.ch.Puller.Pull()
		if !ok {
			break
		}
		r.tal.add(m.Payload())
		if err := m.Release(); err != nil {
			return err
		}
	}
	r.evs = r.a.DrainEvents(r.evs[:0])
	return nil
}

// originalWorker is one worker of the original design's all-to-all
// exchange.
func originalWorker(a *original.Allocator, size, n int, tal *Tally, abort *atomic.Bool) error {
	ch, err := original.Allocate(a, 1)
	if err != nil {
		return err
	}
	r := &originalReceiver{a: a, ch: ch, tal: tal}
	me, peers := a.Index(), a.Peers()
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		putTag(payload, me, i)
		if err := ch.Push(i%peers, payload); err != nil {
			return err
		}
		if (i+1)%BatchLen == 0 {
			if err := a.Release(); err != nil {
				return err
			}
			if err := r.drain(); err != nil {
				return err
			}
		}
	}
	if err := a.Close(); err != nil {
		return err
	}
	return receiveUntilFinished(a.Finished, r.drain, a.AwaitEvents, abort)
}

// ---- Go channels, one message per send -------------------------------------

// newBufPool returns a pool of payload buffers of size bytes.
func newBufPool(size int) *sync.Pool {
	return &sync.Pool{New: func() any {
		b := make([]byte, size)
		return &b
	}}
}

// drainChan hands consume everything waiting on ch, without blocking.
func drainChan[T any](ch <-chan T, consume func(T)) {
	for {
		select {
		case m := <-ch:
			consume(m)
		default:
			return
		}
	}
}

// sendChan sends m on to, receiving from mine meanwhile, so that workers
// that flood each other cannot deadlock.
func sendChan[T any](to chan<- T, m T, mine <-chan T, consume func(T)) {
	for {
		select {
		case to <- m:
			return
		case r := <-mine:
			consume(r)
		}
	}
}

// ChanPerMsgAllToAll is the all-to-all exchange over Go channels, one
// message per send: the sender copies the payload into a pooled buffer and
// sends a pointer to it on the target's channel; the receiver reads it and
// puts it back in the pool. A sender whose target's channel is full
// receives meanwhile. This is zcbench's throughput baseline.
func ChanPerMsgAllToAll(c AllToAll) (Result, error) {
	if err := c.validate(); err != nil {
		return Result{}, err
	}
	pool := newBufPool(c.Size)
	in := make([]chan *[]byte, c.Workers)
	for w := range in {
		in[w] = make(chan *[]byte, chanDepth)
	}
	ts := newTallies(c.Workers, c.Messages, c.Check)
	res := allToAllResult(&c, ts)
	sw := start(c.Ready, c.CountMallocs)
	err := runWorkers(c.Workers, func(me int, _ *atomic.Bool) error {
		tal, mine := &ts[me], in[me]
		consume := func(bp *[]byte) {
			tal.add(*bp)
			pool.Put(bp)
		}
		payload := make([]byte, c.Size)
		for i := 0; i < c.Messages; i++ {
			putTag(payload, me, i)
			bp := pool.Get().(*[]byte)
			copy(*bp, payload)
			sendChan(in[i%c.Workers], bp, mine, consume)
			if (i+1)%BatchLen == 0 {
				drainChan(mine, consume)
			}
		}
		for want := Expected(me, c.Workers, c.Messages); tal.Count < want; {
			consume(<-mine)
		}
		return nil
	}, nil)
	sw.stop(&res)
	return res, err
}

// ---- Go channels, one batch per send ---------------------------------------

// batch is what one send carries in the chan-batch exchange: the pooled
// payload buffers pushed to one target since the last flush.
type batch struct {
	bufs  []*[]byte
	bytes int // the bytes zcomm would have written for these messages
}

// ChanBatchAllToAll is the all-to-all exchange over Go channels carrying the
// batches zcomm's batched mode publishes: a sender copies each payload into
// a pooled buffer, collects the buffers per target, and sends a target's
// batch every BatchLen pushes, or sooner when it holds a slab's worth of
// frames, as a full slab is published sooner. The receiver reads every
// payload and returns the buffers to their pool and the batch to its own.
func ChanBatchAllToAll(c AllToAll) (Result, error) {
	if err := c.validate(); err != nil {
		return Result{}, err
	}
	pool := newBufPool(c.Size)
	batches := &sync.Pool{New: func() any {
		return &batch{bufs: make([]*[]byte, 0, BatchLen)}
	}}
	in := make([]chan *batch, c.Workers)
	for w := range in {
		in[w] = make(chan *batch, chanDepth)
	}
	frame := c.Size + header.Size
	ts := newTallies(c.Workers, c.Messages, c.Check)
	res := allToAllResult(&c, ts)
	sw := start(c.Ready, c.CountMallocs)
	err := runWorkers(c.Workers, func(me int, _ *atomic.Bool) error {
		tal, mine := &ts[me], in[me]
		consume := func(b *batch) {
			for k, bp := range b.bufs {
				tal.add(*bp)
				pool.Put(bp)
				b.bufs[k] = nil
			}
			b.bufs, b.bytes = b.bufs[:0], 0
			batches.Put(b)
		}
		pending := make([]*batch, c.Workers)
		flush := func() {
			for t, b := range pending {
				if b != nil {
					sendChan(in[t], b, mine, consume)
					pending[t] = nil
				}
			}
		}
		payload := make([]byte, c.Size)
		for i := 0; i < c.Messages; i++ {
			putTag(payload, me, i)
			bp := pool.Get().(*[]byte)
			copy(*bp, payload)
			t := i % c.Workers
			b := pending[t]
			if b != nil && b.bytes+frame > SlabSize {
				sendChan(in[t], b, mine, consume)
				b = nil
			}
			if b == nil {
				b = batches.Get().(*batch)
			}
			b.bufs = append(b.bufs, bp)
			b.bytes += frame
			pending[t] = b
			if (i+1)%BatchLen == 0 {
				flush()
				drainChan(mine, consume)
			}
		}
		flush()
		for want := Expected(me, c.Workers, c.Messages); tal.Count < want; {
			consume(<-mine)
		}
		return nil
	}, nil)
	sw.stop(&res)
	return res, err
}
