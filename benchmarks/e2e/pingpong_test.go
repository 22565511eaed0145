package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/zcomm-go/zcomm/benchmarks/original"
	"github.com/zcomm-go/zcomm/process"
)

// pingSize is the payload of a ping-pong message.
const pingSize = 64

// parkTimeout bounds one park in a ping-pong wait. A lost wake-up would
// show as a round trip of this length, far above any real one.
const parkTimeout = 100 * time.Millisecond

// pingPong runs n round trips of one message between workers 0 and 1 and
// records each message received in the workers' tallies. It calls ready, if
// not nil, just before the workers start.
type pingPong func(n int, ts []tally, ready func()) error

// pingPongPeers lists the peers in the order they are reported.
var pingPongPeers = []struct {
	name string
	run  pingPong
}{
	{"zcomm-busy", zcommPingPong(false)},
	{"zcomm-park", zcommPingPong(true)},
	{"original", originalPingPong},
	{"chan", chanPingPong},
}

// checkPing reports an error unless p is message r of worker from.
func checkPing(p []byte, from, r int) error {
	if got := binary.LittleEndian.Uint64(p); got != uint64(from)<<32|uint64(uint32(r)) {
		return fmt.Errorf("round trip %d: got tag %#x, want message %d of worker %d",
			r, got, r, from)
	}
	return nil
}

// zcommPingPong returns the ping-pong run over zcomm in eager mode. A waiting
// worker receives in a loop; with park set, it parks in AwaitEvents each time
// it finds nothing.
func zcommPingPong(park bool) pingPong {
	return func(n int, ts []tally, ready func()) error {
		bs, err := process.NewBuilders(peers, process.WithPublish(process.Eager))
		if err != nil {
			return err
		}
		allocs := make([]*process.Allocator, peers)
		if ready != nil {
			ready()
		}
		err = runWorkers(func(me int, abort *atomic.Bool) error {
			a, err := bs[me].Build()
			if err != nil {
				return err
			}
			allocs[me] = a
			ch, err := process.Allocate(a, 1, process.Bytes{})
			if err != nil {
				return err
			}
			var evs []uint64
			// await takes the next message, checks it is round trip r's
			// from the peer, records and releases it.
			await := func(r int) error {
				for {
					if err := a.Receive(); err != nil {
						return err
					}
					m, ok, err := ch.Puller.Pull()
					if err != nil {
						return err
					}
					if ok {
						ts[me].add(m.Value)
						err := checkPing(m.Value, 1-me, r)
						if rerr := m.Release(); err == nil {
							err = rerr
						}
						return err
					}
					evs = a.DrainEvents(evs[:0])
					if abort.Load() {
						return errAborted
					}
					if park {
						if err := a.AwaitEvents(parkTimeout); err != nil {
							return err
						}
					}
				}
			}
			payload := make([]byte, pingSize)
			for r := 0; r < n; r++ {
				if me == 1 {
					if err := await(r); err != nil {
						return err
					}
				}
				putTag(payload, me, r)
				if err := ch.Push(1-me, payload); err != nil {
					return err
				}
				if me == 0 {
					if err := await(r); err != nil {
						return err
					}
				}
			}
			return a.Close(context.Background())
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

// originalPingPong is the ping-pong run over the original design in eager
// mode, parking in AwaitEvents between polls as timely's workers do.
func originalPingPong(n int, ts []tally, ready func()) error {
	allocs, err := original.NewGroup(peers, original.WithPublish(original.Eager))
	if err != nil {
		return err
	}
	if ready != nil {
		ready()
	}
	err = runWorkers(func(me int, abort *atomic.Bool) error {
		a := allocs[me]
		ch, err := original.Allocate(a, 1)
		if err != nil {
			return err
		}
		var evs []uint64
		await := func(r int) error {
			for {
				if err := a.Receive(); err != nil {
					return err
				}
				if m, ok := ch.Puller.Pull(); ok {
					ts[me].add(m.Payload())
					err := checkPing(m.Payload(), 1-me, r)
					if rerr := m.Release(); err == nil {
						err = rerr
					}
					return err
				}
				evs = a.DrainEvents(evs[:0])
				if abort.Load() {
					return errAborted
				}
				if err := a.AwaitEvents(parkTimeout); err != nil {
					return err
				}
			}
		}
		payload := make([]byte, pingSize)
		for r := 0; r < n; r++ {
			if me == 1 {
				if err := await(r); err != nil {
					return err
				}
			}
			putTag(payload, me, r)
			if err := ch.Push(1-me, payload); err != nil {
				return err
			}
			if me == 0 {
				if err := await(r); err != nil {
					return err
				}
			}
		}
		return a.Close()
	}, nil)
	for _, a := range allocs {
		a.Shutdown()
	}
	return err
}

// chanPingPong is the ping-pong run over Go channels: each message is a
// pooled copy of the payload, sent on the peer's channel of capacity one.
func chanPingPong(n int, ts []tally, ready func()) error {
	pool := newBufPool(pingSize)
	in := []chan *[]byte{make(chan *[]byte, 1), make(chan *[]byte, 1)}
	if ready != nil {
		ready()
	}
	return runWorkers(func(me int, _ *atomic.Bool) error {
		await := func(r int) error {
			bp := <-in[me]
			ts[me].add(*bp)
			err := checkPing(*bp, 1-me, r)
			pool.Put(bp)
			return err
		}
		payload := make([]byte, pingSize)
		for r := 0; r < n; r++ {
			if me == 1 {
				if err := await(r); err != nil {
					return err
				}
			}
			putTag(payload, me, r)
			bp := pool.Get().(*[]byte)
			copy(*bp, payload)
			in[1-me] <- bp
			if me == 0 {
				if err := await(r); err != nil {
					return err
				}
			}
		}
		return nil
	}, nil)
}
