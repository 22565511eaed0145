package process_test

import (
	"fmt"
	"testing"

	"github.com/zcomm-go/zcomm/process"
)

// BenchmarkMessage measures everything zcomm does for one 64-byte message
// from worker 0 to worker 1 (push, publish, receive, pull, release) with both
// workers driven from one goroutine, so that no cache line moves between
// cores and what is left is the work itself. One op is one message. Messages
// go in rounds of inflight: eager/1 is the software path of a ping-pong's
// one direction, eager/32 and batched/32 that of a stream.
func BenchmarkMessage(b *testing.B) {
	for _, c := range []struct {
		mode     process.Publish
		inflight int
	}{{process.Eager, 1}, {process.Eager, 32}, {process.Batched, 32}} {
		b.Run(fmt.Sprintf("%v/%d", c.mode, c.inflight), func(b *testing.B) {
			as := newGroup(b, 2, process.WithPublish(c.mode))
			chs := allocate(b, as, 1, process.Bytes{})
			payload := make([]byte, 64)
			var m process.Message[[]byte]
			events := make([]uint64, 0, c.inflight)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			for sent := 0; sent < b.N; {
				k := min(c.inflight, b.N-sent)
				for range k {
					if err := chs[0].Push(1, payload); err != nil {
						b.Fatal(err)
					}
				}
				if err := as[0].Release(); err != nil {
					b.Fatal(err)
				}
				if err := as[1].Receive(); err != nil {
					b.Fatal(err)
				}
				for range k {
					if ok, err := chs[1].Puller.PullInto(&m); !ok || err != nil {
						b.Fatalf("PullInto: ok %v, err %v", ok, err)
					}
					if err := m.Release(); err != nil {
						b.Fatal(err)
					}
				}
				events = as[1].DrainEvents(events[:0])
				sent += k
			}
		})
	}
}
