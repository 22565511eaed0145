package ring_test

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/zcomm-go/zcomm/ring"
)

// BenchmarkPushDrain measures one push and one drain per record, the latency
// path of a consumer that keeps up.
func BenchmarkPushDrain(b *testing.B) {
	r := mustNew[int](b, 1024)
	dst := make([]ring.Entry[int], 0, r.Cap())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := r.Push(0, i); err != nil {
			b.Fatal(err)
		}
		dst = r.Drain(dst[:0])
	}
}

// BenchmarkPushDrainBatch measures records pushed in batches of 64 and
// drained once per batch; ns/op is per record.
func BenchmarkPushDrainBatch(b *testing.B) {
	const batch = 64
	r := mustNew[int](b, 1024)
	dst := make([]ring.Entry[int], 0, r.Cap())
	b.ReportAllocs()
	for i := 0; i < b.N; {
		n := min(batch, b.N-i)
		for j := 0; j < n; j++ {
			if err := r.Push(0, i+j); err != nil {
				b.Fatal(err)
			}
		}
		dst = r.Drain(dst[:0])
		i += n
	}
}

// BenchmarkPushContended measures pushes from GOMAXPROCS producers into one
// ring that a separate consumer drains; ns/op is per record.
func BenchmarkPushContended(b *testing.B) {
	r := mustNew[int](b, 1024)
	var stop atomic.Bool
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		dst := make([]ring.Entry[int], 0, r.Cap())
		for !stop.Load() {
			if dst = r.Drain(dst[:0]); len(dst) == 0 {
				runtime.Gosched()
			}
		}
	}()
	var producer atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := int(producer.Add(1))
		for i := 0; pb.Next(); i++ {
			for {
				err := r.Push(id, i)
				if err == nil {
					break
				}
				if !errors.Is(err, ring.ErrFull) {
					b.Error(err)
					return
				}
				runtime.Gosched()
			}
		}
	})
	stop.Store(true)
	<-consumerDone
}
