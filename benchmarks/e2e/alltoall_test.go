package e2e

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/zcomm-go/zcomm/benchmarks/original"
	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/process"
)

// allToAll runs one all-to-all exchange: each of two workers sends n
// messages of size bytes, message i to worker i%peers, and receives what is
// sent to it, recording it in its tally. It calls ready, if not nil, once
// its setup is done and just before the workers start, so that a benchmark
// can reset its timer there.
type allToAll func(size, n int, ts []tally, ready func()) error

// allToAllPeers lists the peers in the order they are reported.
var allToAllPeers = []struct {
	name string
	run  allToAll
}{
	{"zcomm-batched", zcommAllToAll(process.Batched)},
	{"zcomm-eager", zcommAllToAll(process.Eager)},
	{"original-batched", originalAllToAll(original.Batched)},
	{"original-eager", originalAllToAll(original.Eager)},
	{"chan-per-msg", chanPerMsgAllToAll},
	{"chan-batch", chanBatchAllToAll},
}

// ---- zcomm -----------------------------------------------------------------

// zcommAllToAll returns the all-to-all run over zcomm's process package in
// the given publishing mode, with every other option at its default.
func zcommAllToAll(mode process.Publish) allToAll {
	return func(size, n int, ts []tally, ready func()) error {
		bs, err := process.NewBuilders(peers, process.WithPublish(mode))
		if err != nil {
			return err
		}
		allocs := make([]*process.Allocator, peers)
		if ready != nil {
			ready()
		}
		err = runWorkers(func(w int, abort *atomic.Bool) error {
			a, err := bs[w].Build()
			if err != nil {
				return err
			}
			allocs[w] = a
			return zcommWorker(a, size, n, &ts[w], abort)
		}, func(w int, err error) {
			if a := allocs[w]; a != nil {
				a.Poison(err)
			}
		})
		for _, a := range allocs {
			if a != nil {
				a.Shutdown()
			}
		}
		return err
	}
}

// zcommReceiver receives and releases everything a zcomm worker has been
// sent on one channel.
type zcommReceiver struct {
	a   *process.Allocator
	ch  *process.Channel[[]byte]
	tal *tally
	evs []uint64
}

// drain receives, pulls, reads and releases every waiting message.
func (r *zcommReceiver) drain() error {
	if err := r.a.Receive(); err != nil {
		return err
	}
	for {
		m, ok, err := r.ch.Puller.Pull()
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

// zcommWorker is one worker of the zcomm all-to-all run.
func zcommWorker(a *process.Allocator, size, n int, tal *tally, abort *atomic.Bool) error {
	ch, err := process.Allocate(a, 1, process.Bytes{})
	if err != nil {
		return err
	}
	r := &zcommReceiver{a: a, ch: ch, tal: tal}
	me := a.Index()
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
		if (i+1)%batchLen == 0 {
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
	for !a.Finished() {
		if err := r.drain(); err != nil {
			return err
		}
		if abort.Load() {
			return errAborted
		}
		if err := a.AwaitEvents(awaitTimeout); err != nil {
			return err
		}
	}
	return nil
}

// ---- the original design ---------------------------------------------------

// originalAllToAll returns the all-to-all run over package original in the
// given publishing mode.
func originalAllToAll(mode original.Publish) allToAll {
	return func(size, n int, ts []tally, ready func()) error {
		allocs, err := original.NewGroup(peers, original.WithPublish(mode))
		if err != nil {
			return err
		}
		if ready != nil {
			ready()
		}
		err = runWorkers(func(w int, abort *atomic.Bool) error {
			return originalWorker(allocs[w], size, n, &ts[w], abort)
		}, nil)
		for _, a := range allocs {
			a.Shutdown()
		}
		return err
	}
}

// originalReceiver receives and releases everything a worker of the
// original design has been sent on one channel.
type originalReceiver struct {
	a   *original.Allocator
	ch  *original.Channel
	tal *tally
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

// originalWorker is one worker of the original design's all-to-all run. Its
// queues are unbounded, so a push never needs a retry.
func originalWorker(a *original.Allocator, size, n int, tal *tally, abort *atomic.Bool) error {
	ch, err := original.Allocate(a, 1)
	if err != nil {
		return err
	}
	r := &originalReceiver{a: a, ch: ch, tal: tal}
	me := a.Index()
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		putTag(payload, me, i)
		if err := ch.Push(i%peers, payload); err != nil {
			return err
		}
		if (i+1)%batchLen == 0 {
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
	for !a.Finished() {
		if err := r.drain(); err != nil {
			return err
		}
		if abort.Load() {
			return errAborted
		}
		if err := a.AwaitEvents(awaitTimeout); err != nil {
			return err
		}
	}
	return nil
}

// ---- Go channels, one message per send -------------------------------------

// chanDepth is the capacity of every Go channel in the all-to-all runs: as
// many messages (or batches) as a zcomm ring has slots.
const chanDepth = process.DefaultRingSize

// newBufPool returns a pool of payload buffers of size bytes.
func newBufPool(size int) *sync.Pool {
	return &sync.Pool{New: func() any {
		b := make([]byte, size)
		return &b
	}}
}

// chanPerMsgAllToAll sends each message on its own: the sender copies the
// payload into a pooled buffer and sends a pointer to it on the target's
// channel; the receiver reads it and puts it back in the pool. A sender
// whose target's channel is full receives meanwhile, so that two workers
// that flood each other cannot deadlock.
func chanPerMsgAllToAll(size, n int, ts []tally, ready func()) error {
	pool := newBufPool(size)
	in := make([]chan *[]byte, peers)
	for w := range in {
		in[w] = make(chan *[]byte, chanDepth)
	}
	if ready != nil {
		ready()
	}
	return runWorkers(func(me int, _ *atomic.Bool) error {
		tal, mine := &ts[me], in[me]
		consume := func(bp *[]byte) {
			tal.add(*bp)
			pool.Put(bp)
		}
		payload := make([]byte, size)
		for i := 0; i < n; i++ {
			putTag(payload, me, i)
			bp := pool.Get().(*[]byte)
			copy(*bp, payload)
		send:
			for {
				select {
				case in[i%peers] <- bp:
					break send
				case m := <-mine:
					consume(m)
				}
			}
			if (i+1)%batchLen == 0 {
			drain:
				for {
					select {
					case m := <-mine:
						consume(m)
					default:
						break drain
					}
				}
			}
		}
		for want := expected(me, n); tal.count < want; {
			consume(<-mine)
		}
		return nil
	}, nil)
}

// ---- Go channels, one batch per send ---------------------------------------

// batch is what one send carries in the chan-batch run: the pooled payload
// buffers pushed to one target since the last flush.
type batch struct {
	bufs  []*[]byte
	bytes int // the bytes zcomm would have written for these messages
}

// chanBatchAllToAll sends the batches zcomm's batched mode publishes: a
// sender copies each payload into a pooled buffer, collects the buffers per
// target, and sends a target's batch at every Release point (every batchLen
// pushes), or sooner when it holds a slab's worth of frames, as a full slab
// is published sooner. The receiver reads every payload, returns the
// buffers to their pool and the batch to its own.
func chanBatchAllToAll(size, n int, ts []tally, ready func()) error {
	pool := newBufPool(size)
	batches := &sync.Pool{New: func() any {
		return &batch{bufs: make([]*[]byte, 0, batchLen)}
	}}
	in := make([]chan *batch, peers)
	for w := range in {
		in[w] = make(chan *batch, chanDepth)
	}
	frame := size + header.Size
	if ready != nil {
		ready()
	}
	return runWorkers(func(me int, _ *atomic.Bool) error {
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
		send := func(t int, b *batch) {
			for {
				select {
				case in[t] <- b:
					return
				case m := <-mine:
					consume(m)
				}
			}
		}
		pending := make([]*batch, peers)
		flush := func() {
			for t, b := range pending {
				if b != nil {
					send(t, b)
					pending[t] = nil
				}
			}
		}
		payload := make([]byte, size)
		for i := 0; i < n; i++ {
			putTag(payload, me, i)
			bp := pool.Get().(*[]byte)
			copy(*bp, payload)
			t := i % peers
			b := pending[t]
			if b != nil && b.bytes+frame > slabSize {
				send(t, b)
				b = nil
			}
			if b == nil {
				b = batches.Get().(*batch)
			}
			b.bufs = append(b.bufs, bp)
			b.bytes += frame
			pending[t] = b
			if (i+1)%batchLen == 0 {
				flush()
			drain:
				for {
					select {
					case m := <-mine:
						consume(m)
					default:
						break drain
					}
				}
			}
		}
		flush()
		for want := expected(me, n); tal.count < want; {
			consume(<-mine)
		}
		return nil
	}, nil)
}
